#include "observe.hpp"

#include <httplib.h>

#include <caf/all.hpp>

namespace tutorial {

// [observe]
caf::expected<trellis::observer>
observe(caf::actor_system& sys, const caf::actor& root, uint16_t port) {
  trellis::observer_config cfg;
  cfg.port = port; // loopback only, as by default
  // With a token, POST /api/restart and /api/terminate work for whoever
  // sends it as "Authorization: Bearer <token>"; without, they answer 403.
  cfg.operator_token = operator_token;
  return trellis::start_observer(sys, root, cfg);
}
// [observe]

namespace {

http_answer answer(const httplib::Result& res) {
  if (!res)
    return {};
  return {res->status, res->body};
}

// Every wait is bounded: a server that does not answer costs 5 s.
void bound(httplib::Client& cli) {
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(5, 0);
}

} // namespace

http_answer http_get(uint16_t port, const std::string& path) {
  httplib::Client cli{"127.0.0.1", port};
  bound(cli);
  return answer(cli.Get(path.c_str()));
}

http_answer http_post(uint16_t port, const std::string& path) {
  httplib::Client cli{"127.0.0.1", port};
  bound(cli);
  httplib::Headers headers{
    {"Authorization", std::string{"Bearer "} + operator_token}};
  return answer(cli.Post(path.c_str(), headers, "", "text/plain"));
}

} // namespace tutorial
