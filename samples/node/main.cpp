// trellis_node: a generic node process hosting a fixed list of actor types,
// so that supervisors on other nodes can place children here. The tests and
// the cluster sample start it; an application builds its own node the same
// way, with its own types, through trellis::run_node (or configure_node and
// start_node, when the application is a node itself).
//
//   trellis_node --port=0 --heartbeat-ms=200 --timeout-ms=1000
//   -> prints "trellis-node port=<port>" and serves until SIGTERM.
//
// Over TLS, with a certificate signed by the cluster's CA (and the key's
// passphrase, if any, in a file of its own):
//
//   trellis_node --port=0 --tls-cert=node.pem --tls-key=node.key
//                --tls-ca=ca.pem [--tls-passphrase-file=passphrase.txt]

#include <string>

#include <caf/all.hpp>

#include "trellis/io/all.hpp"

namespace {

using namespace std::chrono_literals;

// Answers `ping` with `pong` and its own count of pings: the simplest child
// to place and to watch.
caf::behavior pinger(caf::event_based_actor* self) {
  auto count = std::make_shared<int>(0);
  return {
    [self, count](const std::string& x) -> caf::result<std::string> {
      if (x == "crash")
        throw std::runtime_error("asked to crash");
      if (x == "stop") {
        self->quit(caf::exit_reason::normal);
        return std::string{"bye"};
      }
      return "pong " + std::to_string(++*count);
    },
  };
}

// A subtree that gives up at its leaf's first crash (intensity 0), so that a
// test or the sample can make it escalate across the wire.
trellis::supervisor_spec fragile_subtree() {
  return trellis::supervisor("fragile")
    .strategy(trellis::strategy::one_for_one)
    .intensity(0)
    .period(5s)
    .child(trellis::worker("leaf", pinger));
}

} // namespace

int main(int argc, char** argv) {
  return trellis::run_node(argc, argv, [](caf::actor_system_config& cfg) {
    trellis::add_remote_type(cfg, "pinger", pinger);
    trellis::add_remote_supervisor(cfg, "fragile", fragile_subtree());
  });
}
