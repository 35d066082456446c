#pragma once

// A fixture on CAF's deterministic scheduler and test clock: timers fire
// only when a test advances the clock, so restart periods, backoff delays
// and shutdown timeouts are checked without sleeping.

#include <caf/scheduler/test_coordinator.hpp>

#include "test_support.hpp"

namespace trellis::test {

struct clock_fixture {
  struct config : test_config {
    config() {
      set("scheduler.policy", caf::atom("testing"));
    }
  };
  config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys};

  std::vector<child_info> children(const caf::actor& sup) {
    self->send(sup, which_children_atom::value);
    sched.run();
    std::vector<child_info> result;
    receive_or_fail(self, "which_children's answer",
                    [&](std::vector<child_info>& xs) { result = std::move(xs); });
    return result;
  }

  /// The only child of `sup`.
  child_info child(const caf::actor& sup) {
    auto xs = children(sup);
    REQUIRE(xs.size() == 1);
    return xs[0];
  }

  /// Kills the only child of `sup` and lets the supervisor react.
  void kill_child(const caf::actor& sup) {
    auto x = child(sup);
    REQUIRE(x.actor);
    caf::anon_send_exit(x.actor, caf::exit_reason::kill);
    sched.run();
  }

  /// Advances the test clock by `dt`, firing due timers.
  void advance(caf::timespan dt) {
    sched.advance_time(dt);
    sched.run();
  }
};

} // namespace trellis::test
