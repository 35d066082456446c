#include "clock_fixture.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

TEST_CASE("exactly intensity restarts within the period are survived, one "
          "more escalates",
          "[supervisor][intensity]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(3).period(1h)
                       .child(f.probed("a"))
                       .child(f.probed("b")));
  f.next_events(2);
  for (int i = 0; i < 3; ++i) {
    f.crash(sup, "a");
    REQUIRE(f.next_events(2)
            == std::vector<std::string>{"stopped:a", "started:a"});
  }
  CHECK(f.child(sup, "b").state == child_state::running);
  f.crash(sup, "a");
  // The supervisor gives up: it stops the remaining children and exits.
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:a", "stopped:b"});
  auto reason = f.exit_reason_of(sup);
  CHECK_THAT(reason, Catch::StartsWith("trellis::errc::reached_max_restart_"
                                       "intensity: root, a, ")
                       && Catch::Contains("boom from a"));
}

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

} // namespace

TEST_CASE("restarts that left the period no longer count (test clock)",
          "[supervisor][intensity]") {
  clock_fixture f;
  auto sup = spawn_supervisor(f.sys, supervisor("root").intensity(1).period(10s)
                                       .child(worker("a", idle)));
  REQUIRE(sup);
  f.sched.run();
  f.self->monitor(*sup);
  f.kill_child(*sup); // restart 1 of 1 at t = 0
  CHECK(f.children(*sup)[0].restart_count == 1);
  f.sched.advance_time(10s + 1ns);
  f.sched.run();
  f.kill_child(*sup); // the first restart left the period: fine
  CHECK(f.children(*sup)[0].restart_count == 2);
  f.sched.advance_time(9s);
  f.sched.run();
  f.kill_child(*sup); // two restarts within 10 s: escalate
  caf::error reason;
  receive_or_fail(f.self, "root's exit",
                  [&](caf::down_msg& msg) { reason = msg.reason; });
  CHECK(is(reason, errc::reached_max_restart_intensity));
}
