#include "clock_fixture.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

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

TEST_CASE("under rest_for_one, a sibling failing mid-group keeps the ones "
          "restarted before it and is retried from itself, as in OTP",
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
  CHECK(f.next_events(6)
        == std::vector<std::string>{
          "stopped:b", "stopped:d", "stopped:c", // the rest stops
          "started:b",                           // c fails to start
          "started:c", "started:d"               // the retry, from c
        });
  for (auto& x : f.children(sup))
    CHECK(x.state == child_state::running);
  CHECK(f.actor_of(sup, "a") == a);
  CHECK(f.child(sup, "a").restart_count == 0);
  CHECK(f.child(sup, "b").restart_count == 1);
  CHECK(f.child(sup, "c").restart_count == 2);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a group restart whose start keeps failing shows what OTP shows: "
          "the children before it running, it restarting, the rest stopped",
          "[supervisor][rest_for_one][one_for_all]") {
  clock_fixture f;
  auto starts = std::make_shared<int>(0);
  auto idle = [](caf::event_based_actor*) -> caf::behavior {
    return {[](int x) { return x; }};
  };
  // b starts once, then every start fails; its backoff holds each retry
  // until the test clock moves.
  auto b = worker("b", [starts, idle](child_context& ctx) -> start_result {
             if ((*starts)++ > 0)
               return make_error(errc::start_failed, "dependency unavailable");
             return ctx.spawn(idle);
           }).backoff(restart_backoff{1s, 1s, 0.0});
  auto which = GENERATE(strategy::rest_for_one, strategy::one_for_all);
  INFO(to_string(which));
  auto sup = spawn_supervisor(f.sys, supervisor("root")
                                       .strategy(which)
                                       .intensity(100)
                                       .period(1h)
                                       .child(worker("a", idle))
                                       .child(b)
                                       .child(worker("c", idle)));
  REQUIRE(sup);
  f.sched.run();
  auto state_of = [&](const std::string& id) {
    for (auto& x : f.children(*sup))
      if (x.id == id)
        return x;
    FAIL("no child " << id);
    return child_info{};
  };
  caf::anon_send_exit(state_of("a").actor, caf::exit_reason::kill);
  f.sched.run();
  auto a = state_of("a");
  CHECK(a.state == child_state::running);
  CHECK(a.actor);
  CHECK(state_of("b").state == child_state::restarting);
  CHECK_FALSE(state_of("b").actor);
  CHECK(state_of("c").state == child_state::stopped);
  CHECK_FALSE(state_of("c").actor);
  // c comes back with the retry: a lookup (a stable handle's) says that it
  // restarts, not that it is gone; a's group has no retry pending.
  auto lookup = [&](const std::string& path) {
    f.self->send(*sup, lookup_atom::value, path);
    f.sched.run();
    caf::error err;
    receive_or_fail(f.self, "the lookup's answer",
                    [&](caf::actor&) {},
                    [&](caf::error& x) { err = std::move(x); });
    return err;
  };
  CHECK(is(lookup("root/c"), errc::restarting));
  CHECK(f.sys.render(lookup("root/c")).find("until its group's restart is retried")
        != std::string::npos);
  CHECK(is(lookup("root/b"), errc::restarting));
  CHECK_FALSE(lookup("root/a"));
  // The retry starts from b: rest_for_one keeps a; one_for_all restarts it.
  f.advance(1s);
  CHECK(*starts == 3);
  CHECK(state_of("b").state == child_state::restarting);
  CHECK(state_of("c").state == child_state::stopped);
  auto again = state_of("a");
  CHECK(again.state == child_state::running);
  if (which == strategy::rest_for_one)
    CHECK(again.actor == a.actor);
  else
    CHECK(again.actor != a.actor);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}
