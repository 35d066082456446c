// A project outside Trellis that found it with find_package(trellis).
#include <iostream>

#include <caf/all.hpp>
#include <trellis/all.hpp>
#include <trellis/actors/circuit_breaker.hpp>
#include <trellis/io/all.hpp>
#include <trellis/observer/observer.hpp>

int main() {
  caf::actor_system_config cfg;
  // A node's config: the distribution library's export works too.
  if (auto err = trellis::configure_node(cfg, trellis::node_config{}))
    return 1;
  caf::actor_system sys{cfg};
  // The actors library's error category, registered from its header.
  auto open = sys.render(make_error(trellis::breaker_errc::circuit_open, "x"));
  if (open != "trellis::breaker_errc::circuit_open: x")
    return 1;
  trellis::set_log_level(trellis::log_level::warn);
  auto tree = trellis::supervisor("root").child(trellis::worker(
    "w", [](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; }));
  auto sup = trellis::start_supervisor(sys, tree);
  if (!sup)
    return 1;
  auto obs = trellis::start_observer(sys, *sup);
  if (!obs || obs->port() == 0)
    return 1;
  obs->stop();
  trellis::stop_supervisor(sys, *sup);
  std::cout << "consumer: ok\n";
  return 0;
}
