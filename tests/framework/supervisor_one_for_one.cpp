#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

TEST_CASE("one_for_one restarts only the child that crashed",
          "[supervisor][one_for_one]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::one_for_one)
                       .intensity(5)
                       .child(f.probed("a"))
                       .child(f.probed("b"))
                       .child(f.probed("c")));
  CHECK(f.next_events(3)
        == std::vector<std::string>{"started:a", "started:b", "started:c"});
  auto a = f.actor_of(sup, "a");
  auto c = f.actor_of(sup, "c");
  auto b = f.actor_of(sup, "b");
  f.crash(sup, "b");
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:b", "started:b"});
  auto info = f.child(sup, "b");
  CHECK(info.state == child_state::running);
  CHECK(info.actor != b);
  CHECK(info.restart_count == 1);
  CHECK_THAT(info.last_exit_reason,
             Catch::Contains("unhandled_exception")
               && Catch::Contains("std::runtime_error")
               && Catch::Contains("boom from b"));
  CHECK(f.actor_of(sup, "a") == a);
  CHECK(f.actor_of(sup, "c") == c);
  CHECK(f.child(sup, "a").restart_count == 0);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("one_for_one keeps restarting a child within its budget",
          "[supervisor][one_for_one]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(10).period(
                       std::chrono::minutes(1))
                       .child(f.probed("a")));
  CHECK(f.next_event() == "started:a");
  for (int i = 1; i <= 10; ++i) {
    f.crash(sup, "a");
    REQUIRE(f.next_events(2)
            == std::vector<std::string>{"stopped:a", "started:a"});
    CHECK(f.child(sup, "a").restart_count == static_cast<uint64_t>(i));
  }
  stop_supervisor(f.sys, sup);
}
