#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

TEST_CASE("rest_for_one restarts the crashed child and those started after it",
          "[supervisor][rest_for_one]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::rest_for_one)
                       .intensity(5)
                       .child(f.probed("a"))
                       .child(f.probed("b"))
                       .child(f.probed("c"))
                       .child(f.probed("d")));
  f.next_events(4);
  auto a = f.actor_of(sup, "a");
  f.crash(sup, "b");
  CHECK(f.next_events(6)
        == std::vector<std::string>{"stopped:b", "stopped:d", "stopped:c",
                                    "started:b", "started:c", "started:d"});
  CHECK(f.actor_of(sup, "a") == a);
  CHECK(f.child(sup, "a").restart_count == 0);
  CHECK(f.child(sup, "d").restart_count == 1);
  SECTION("a crash of the last child restarts only it") {
    f.crash(sup, "d");
    CHECK(f.next_events(2)
          == std::vector<std::string>{"stopped:d", "started:d"});
    CHECK(f.child(sup, "c").restart_count == 1);
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a rest_for_one restart starts stopped children after the failed "
          "one too",
          "[supervisor][rest_for_one]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::rest_for_one)
                       .intensity(5)
                       .child(f.probed("a"))
                       .child(f.probed("b"))
                       .child(f.probed("c")));
  f.next_events(3);
  REQUIRE_FALSE(terminate_child(f.sys, sup, "c"));
  CHECK(f.next_event() == "stopped:c");
  auto a = f.actor_of(sup, "a");
  f.crash(sup, "b");
  CHECK(f.next_events(3)
        == std::vector<std::string>{"stopped:b", "started:b", "started:c"});
  for (auto& x : f.children(sup))
    CHECK(x.state == child_state::running);
  CHECK(f.actor_of(sup, "a") == a);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("under rest_for_one, a sibling failing mid-group stops the ones "
          "just restarted before the group is retried",
          "[supervisor][rest_for_one]") {
  fixture f;
  auto starts = std::make_shared<std::atomic<int>>(0);
  caf::actor probe{f.probe};
  // c starts the first time, fails its first restart, then starts again.
  auto flaky = worker("c", [starts, probe](child_context& ctx) -> start_result {
    if (++*starts == 2)
      return make_error(errc::start_failed, "dependency unavailable");
    return ctx.spawn(probed_worker, std::string{"c"}, probe);
  });
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::rest_for_one)
                       .intensity(5)
                       .child(f.probed("a"))
                       .child(f.probed("b"))
                       .child(flaky)
                       .child(f.probed("d")));
  f.next_events(4);
  auto a = f.actor_of(sup, "a");
  f.exit_child(sup, "b", caf::exit_reason::kill);
  CHECK(f.next_events(8)
        == std::vector<std::string>{
          "stopped:b", "stopped:d", "stopped:c", // the rest stops
          "started:b",                           // c fails to start
          "stopped:b",                           // b is undone
          "started:b", "started:c", "started:d"  // the retry succeeds
        });
  for (auto& x : f.children(sup))
    CHECK(x.state == child_state::running);
  CHECK(f.actor_of(sup, "a") == a);
  CHECK(f.child(sup, "a").restart_count == 0);
  CHECK(f.child(sup, "b").restart_count == 2);
  stop_supervisor(f.sys, sup);
}
