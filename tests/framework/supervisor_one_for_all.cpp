#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

TEST_CASE("one_for_all stops the others in reverse order, then starts all in "
          "order",
          "[supervisor][one_for_all]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::one_for_all)
                       .intensity(5)
                       .child(f.probed("a"))
                       .child(f.probed("b"))
                       .child(f.probed("c")));
  f.next_events(3);
  f.crash(sup, "b");
  CHECK(f.next_events(6)
        == std::vector<std::string>{"stopped:b", "stopped:c", "stopped:a",
                                    "started:a", "started:b", "started:c"});
  for (auto& x : f.children(sup)) {
    CHECK(x.state == child_state::running);
    CHECK(x.restart_count == 1);
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("one_for_all drops a temporary bystander instead of restarting it",
          "[supervisor][one_for_all]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::one_for_all)
                       .child(f.probed("tmp").restart(restart::temporary))
                       .child(f.probed("b")));
  f.next_events(2);
  f.crash(sup, "b");
  CHECK(f.next_events(3)
        == std::vector<std::string>{"stopped:b", "stopped:tmp", "started:b"});
  auto kids = f.children(sup);
  REQUIRE(kids.size() == 1);
  CHECK(kids[0].id == "b");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a sibling failing mid-group leaves the ones restarted before it "
          "running until the retry restarts the whole group, as in OTP",
          "[supervisor][one_for_all]") {
  fixture f;
  auto starts = std::make_shared<std::atomic<int>>(0);
  caf::actor probe{f.probe};
  // b starts the first time, fails its first restart, then starts again.
  auto flaky = worker("b", [starts, probe](child_context& ctx) -> start_result {
    if (++*starts == 2)
      return make_error(errc::start_failed, "dependency unavailable");
    return ctx.spawn(probed_worker, std::string{"b"}, probe);
  });
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::one_for_all)
                       .intensity(5)
                       .child(f.probed("a"))
                       .child(flaky)
                       .child(f.probed("c")));
  f.next_events(3);
  f.exit_child(sup, "c", caf::exit_reason::kill);
  CHECK(f.next_events(8)
        == std::vector<std::string>{
          "stopped:c", "stopped:b", "stopped:a", // group stops
          "started:a",                           // b fails to start
          "stopped:a",                           // a is undone
          "started:a", "started:b", "started:c"  // the retry succeeds
        });
  for (auto& x : f.children(sup))
    CHECK(x.state == child_state::running);
  // Two restarts were charged: the crash and the retry.
  CHECK(f.child(sup, "a").restart_count == 2);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a one_for_all restart starts stopped children too",
          "[supervisor][one_for_all]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::one_for_all)
                       .intensity(5)
                       .child(f.probed("a"))
                       .child(f.probed("b"))
                       .child(f.probed("c")));
  f.next_events(3);
  REQUIRE_FALSE(terminate_child(f.sys, sup, "c"));
  CHECK(f.next_event() == "stopped:c");
  CHECK(f.child(sup, "c").state == child_state::stopped);
  f.crash(sup, "a");
  CHECK(f.next_events(5)
        == std::vector<std::string>{"stopped:a", "stopped:b", "started:a",
                                    "started:b", "started:c"});
  for (auto& x : f.children(sup))
    CHECK(x.state == child_state::running);
  stop_supervisor(f.sys, sup);
}
