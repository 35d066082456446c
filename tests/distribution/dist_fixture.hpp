#pragma once

// The fixture of the multi-process distribution tests: an actor system that
// is a node, trellis_node processes to place children on, and waiting for
// what the supervisor reports. Every bound is generous (`patience`).

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "node_process.hpp"
#include "test_support.hpp"
#include "trellis/io/all.hpp"

namespace trellis::test {

/// Short enough that a stopped node is noticed within seconds, long enough
/// for a loaded machine (two cores, sanitizers) not to lose a healthy one:
/// 16 heartbeats may go missing before a node counts as down.
inline node_config test_node_config() {
  using namespace std::chrono_literals;
  node_config x;
  x.heartbeat_interval = 250ms;
  x.connection_timeout = 4s;
  // A TLS and BASP handshake with sanitized nodes on a loaded machine may
  // take longer: instrumented builds (./dev sanitize) scale it.
  auto scale = std::getenv("TRELLIS_TEST_TIME_SCALE");
  x.spawn_timeout = 2s * (scale ? std::max(1, std::atoi(scale)) : 1);
  return x;
}

/// `trellis_node`'s options for `test_node_config()`; the port comes first.
inline std::vector<std::string> test_node_args() {
  return {"--port=0", "--heartbeat-ms=250", "--timeout-ms=4000"};
}

/// A node's actor system config made from `x`, quiet.
struct node_test_config : caf::actor_system_config {
  explicit node_test_config(const node_config& x)
    : configure_error(configure_node(*this, x)) {
    set("logger.verbosity", caf::atom("quiet"));
  }

  /// What `configure_node` returned.
  caf::error configure_error;
};

struct dist_fixture {
  explicit dist_fixture(const node_config& x = test_node_config(),
                        std::vector<std::string> args = test_node_args())
    : node_args(std::move(args)), cfg(x) {
    // nop
  }

  /// The options of the nodes this fixture starts, the port first.
  std::vector<std::string> node_args;
  node_test_config cfg;
  caf::actor_system sys{cfg};

  std::unique_ptr<node_process> start_node_process(uint16_t port = 0) {
    auto args = node_args;
    args[0] = "--port=" + std::to_string(port);
    return std::make_unique<node_process>(TRELLIS_NODE_EXE, args);
  }

  /// Waits until `pred` holds for the child `id` of `sup`, or patience ends.
  bool eventually(const caf::actor& sup, const std::string& id,
                  const std::function<bool(const child_info&)>& pred) {
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto xs = which_children(sys, sup))
        for (auto& x : *xs)
          if (x.id == id && pred(x))
            return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  child_info info(const caf::actor& sup, const std::string& id) {
    auto xs = which_children(sys, sup);
    REQUIRE(xs);
    for (auto& x : *xs)
      if (x.id == id)
        return x;
    FAIL("no child " << id);
    return {};
  }

  std::string ping(const caf::actor& who) {
    caf::scoped_actor self{sys};
    std::string result;
    self->request(who, patience, std::string{"ping"})
      .receive([&](std::string& x) { result = std::move(x); },
               [&](caf::error& err) { result = sys.render(err); });
    return result;
  }
};

inline bool running_on(const child_info& x, const std::string& node) {
  return x.state == child_state::running && x.node == node;
}

} // namespace trellis::test
