#include "geo.hpp"

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>

#include <caf/all.hpp>

#include "trellis/actors/circuit_breaker.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace tutorial {

namespace {

// [geo]
// Finds the region of the city a key names ("temp.berlin" -> "eu").
caf::behavior locate(caf::event_based_actor*, std::shared_ptr<outage> o) {
  return {
    [o](const std::string& line) -> std::string {
      if (o->down.load())
        throw std::runtime_error("geo backend unavailable");
      static const std::map<std::string, std::string> regions{
        {"berlin", "eu"}, {"paris", "eu"}, {"nyc", "us"}, {"tokyo", "ap"}};
      auto key = line.substr(0, line.find('='));
      auto i = regions.find(key.substr(key.rfind('.') + 1));
      return line + " region=" + (i != regions.end() ? i->second : "?");
    },
  };
}
// [geo]

} // namespace

// [specs]
trellis::child_spec geo(std::shared_ptr<outage> o) {
  // Each crash in a row waits longer before the restart: 100 ms, 200 ms,
  // ... at most 800 ms, so that a dependency that is down is not hammered.
  return trellis::worker("geo", locate, o)
    .backoff(trellis::restart_backoff{100ms, 800ms, 0.0});
}

trellis::child_spec geo_breaker() {
  // Two failures in a row open it; open, it fails calls at once; after
  // 300 ms it lets one trial call through, which closes it or opens it
  // again.
  return trellis::circuit_breaker("geo_breaker",
                                  trellis::circuit_breaker_config{}
                                    .target("root/geo")
                                    .failure_threshold(2)
                                    .call_timeout(1s)
                                    .reset_timeout(300ms));
}
// [specs]

} // namespace tutorial
