#include "clock_fixture.hpp"

#include <cmath>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

} // namespace

TEST_CASE("backoff delays grow, cap, and reset after a stable run",
          "[supervisor][backoff]") {
  clock_fixture f;
  auto sup = spawn_supervisor(
    f.sys, supervisor("root").intensity(100).period(1h).child(
             worker("a", idle).backoff(
               restart_backoff{100ms, 400ms, 0.0}.reset_after(10s))));
  REQUIRE(sup);
  f.sched.run();
  // Each restart in a row waits twice as long, up to the cap.
  for (auto delay : {100ms, 200ms, 400ms, 400ms}) {
    INFO("delay " << delay.count() << "ms");
    f.kill_child(*sup);
    auto x = f.child(*sup);
    CHECK(x.state == child_state::restarting);
    CHECK(x.restart_due_in == caf::timespan{delay});
    f.advance(delay - 1ms);
    CHECK(f.child(*sup).state == child_state::restarting);
    f.advance(1ms);
    CHECK(f.child(*sup).state == child_state::running);
  }
  CHECK(f.child(*sup).restart_count == 4);
  // After 10 s of running, the next restart waits the minimum again.
  f.advance(10s);
  f.kill_child(*sup);
  CHECK(f.child(*sup).restart_due_in == caf::timespan{100ms});
  f.advance(100ms);
  CHECK(f.child(*sup).state == child_state::running);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}

TEST_CASE("a delayed restart counts once against intensity and is cancelled "
          "by terminate_child and shutdown",
          "[supervisor][backoff]") {
  clock_fixture f;
  auto sup = spawn_supervisor(
    f.sys, supervisor("root").intensity(1).period(1h).child(
             worker("a", idle).backoff(restart_backoff{1s, 1s, 0.0})));
  REQUIRE(sup);
  f.sched.run();
  f.self->monitor(*sup);
  f.kill_child(*sup); // restart 1 of 1, charged now, due in 1 s
  SECTION("the wait itself charges nothing more") {
    f.advance(1s);
    CHECK(f.child(*sup).state == child_state::running);
    CHECK(f.child(*sup).restart_count == 1);
  }
  SECTION("terminate_child cancels it") {
    f.self->send(*sup, terminate_child_atom::value, std::string{"a"});
    f.sched.run();
    receive_or_fail(f.self, "terminate_child's ok", [](caf::ok_atom) {});
    f.advance(2s);
    auto x = f.child(*sup);
    CHECK(x.state == child_state::stopped);
    CHECK(x.restart_due_in == caf::timespan{0});
  }
  SECTION("shutdown cancels it") {
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
    f.sched.run();
    caf::error reason;
    receive_or_fail(f.self, "root's exit",
                    [&](caf::down_msg& msg) { reason = msg.reason; });
    CHECK(reason == caf::exit_reason::user_shutdown);
    f.advance(2s); // the due timer fires into nothing
  }
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}

TEST_CASE("a delayed restart that another start superseded does nothing",
          "[supervisor][backoff]") {
  clock_fixture f;
  auto sup = spawn_supervisor(
    f.sys, supervisor("root").intensity(10).period(1h).child(
             worker("a", idle).backoff(restart_backoff{1s, 1s, 0.0})));
  REQUIRE(sup);
  f.sched.run();
  f.kill_child(*sup); // a restart is due in 1 s
  f.self->send(*sup, terminate_child_atom::value, std::string{"a"});
  f.sched.run();
  receive_or_fail(f.self, "terminate_child's ok", [](caf::ok_atom) {});
  f.self->send(*sup, restart_child_atom::value, std::string{"a"});
  f.sched.run();
  caf::actor restarted;
  receive_or_fail(f.self, "restart_child's actor",
                  [&](caf::actor& x) { restarted = x; });
  REQUIRE(restarted);
  // The old timer fires into nothing: same actor, and the delayed restart,
  // which never ran, is not counted (restart_child does not count either).
  f.advance(1s);
  auto x = f.child(*sup);
  CHECK(x.actor == restarted);
  CHECK(x.restart_count == 0);
  CHECK(x.restart_due_in == caf::timespan{0});
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}

TEST_CASE("backoff settings are checked", "[backoff]") {
  auto noop = [](child_context&) -> start_result { return ignore; };
  auto invalid = [&](restart_backoff b) {
    return is(worker("a", noop).backoff(b).validate(), errc::invalid_spec);
  };
  CHECK(invalid(restart_backoff{0ms, 1s}));
  CHECK(invalid(restart_backoff{2s, 1s}));
  CHECK(invalid(restart_backoff{1s, std::chrono::hours(24 * 400)}));
  CHECK(invalid(restart_backoff{1s, 2s, 1.5}));
  CHECK(invalid(restart_backoff{1s, 2s, -0.1}));
  CHECK(invalid(restart_backoff{1s, 2s, std::nan("")}));
  CHECK_FALSE(worker("a", noop).backoff(restart_backoff{1ms, 1s, 1.0}).validate());
}

TEST_CASE("backoff jitter stays within its fraction", "[backoff]") {
  restart_backoff b{100ms, 1s, 0.5};
  CHECK(b.delay(0, 0.0) == caf::timespan{100ms});
  CHECK(b.delay(0, 0.999) < caf::timespan{150ms});
  CHECK(b.delay(0, 0.5) == caf::timespan{125ms});
  CHECK(b.delay(3, 0.0) == caf::timespan{800ms});
  CHECK(b.delay(4, 0.0) == caf::timespan{1s});
  CHECK(b.delay(200, 0.0) == caf::timespan{1s});
}

TEST_CASE("a decider chooses restart, stop or escalate per exit reason",
          "[supervisor][decider]") {
  fixture f;
  auto by_exception = [](const caf::error& reason) {
    auto crash = crash_details_of(reason);
    if (!crash)
      return decision::restart;
    if (crash->type == "std::invalid_argument")
      return decision::stop;
    if (crash->what == "fatal")
      return decision::escalate;
    return decision::restart;
  };
  using throw_atom = caf::atom_constant<caf::atom("throw")>;
  auto thrower = [](caf::event_based_actor*) -> caf::behavior {
    return {[](throw_atom, const std::string& type, const std::string& what) {
      if (type == "invalid_argument")
        throw std::invalid_argument(what);
      throw std::runtime_error(what);
    }};
  };
  auto sup = f.start(supervisor("root").intensity(5).child(
    worker("a", thrower).decider(by_exception)));
  auto crash = [&](const std::string& type, const std::string& what) {
    auto a = f.actor_of(sup, "a");
    f.probe->send(a, throw_atom::value, type, what);
    return f.await_replaced(sup, "a", a);
  };
  SECTION("restart") {
    CHECK(crash("runtime_error", "transient glitch"));
    CHECK(f.child(sup, "a").restart_count == 1);
    stop_supervisor(f.sys, sup);
  }
  SECTION("stop: even a permanent child stays down") {
    CHECK_FALSE(crash("invalid_argument", "bad input"));
    CHECK(f.child(sup, "a").state == child_state::stopped);
    CHECK(f.child(sup, "a").restart_count == 0);
    stop_supervisor(f.sys, sup);
  }
  SECTION("escalate") {
    auto a = f.actor_of(sup, "a");
    f.probe->send(a, throw_atom::value, std::string{"runtime_error"},
                  std::string{"fatal"});
    CHECK_THAT(f.exit_reason_of(sup),
               Catch::StartsWith("trellis::errc::escalated: root, a, "
                                 "trellis::errc::unhandled_exception: "
                                 "std::runtime_error, fatal"));
  }
}

TEST_CASE("a decider sees normal exits too, and one that throws escalates",
          "[supervisor][decider]") {
  fixture f;
  auto seen = std::make_shared<std::vector<std::string>>();
  auto record = [seen](const caf::error& reason) {
    seen->push_back(to_string(reason));
    return decision::stop;
  };
  auto sup = f.start(supervisor("root")
                       .intensity(5)
                       .child(f.probed("a").decider(record))
                       .child(f.probed("b").decider(
                         [](const caf::error&) -> decision {
                           throw std::runtime_error("undecided");
                         })));
  f.next_events(2);
  // A permanent child that exits normally: its decider says stop.
  auto a = f.actor_of(sup, "a");
  f.exit_child(sup, "a", caf::exit_reason::normal);
  CHECK_FALSE(f.await_replaced(sup, "a", a));
  CHECK(f.child(sup, "a").state == child_state::stopped);
  REQUIRE(seen->size() == 1);
  CHECK(seen->at(0) == to_string(caf::error{caf::exit_reason::normal}));
  // A decider that throws cannot be trusted: the supervisor gives up.
  f.crash(sup, "b");
  CHECK_THAT(f.exit_reason_of(sup),
             Catch::StartsWith("trellis::errc::escalated: root, b, "));
}

TEST_CASE("crash details name the exception", "[decider]") {
  auto details = crash_details_of(
    crash_reason(std::make_exception_ptr(std::out_of_range("index 7"))));
  REQUIRE(details);
  CHECK(details->type == "std::out_of_range");
  CHECK(details->what == "index 7");
  CHECK_FALSE(crash_details_of(caf::exit_reason::kill));
}

TEST_CASE("under one_for_all and rest_for_one, a backoff delays the group "
          "restart and the others run until then",
          "[supervisor][backoff]") {
  clock_fixture f;
  auto st = GENERATE(strategy::one_for_all, strategy::rest_for_one);
  INFO("strategy " << to_string(st));
  auto sup = spawn_supervisor(
    f.sys, supervisor("root")
             .strategy(st)
             .intensity(10)
             .period(1h)
             .child(worker("a", idle))
             .child(worker("b", idle).backoff(restart_backoff{1s, 1s, 0.0}))
             .child(worker("c", idle)));
  REQUIRE(sup);
  f.sched.run();
  auto before = f.children(*sup);
  REQUIRE(before.size() == 3);
  caf::anon_send_exit(before[1].actor, caf::exit_reason::kill);
  f.sched.run();
  // Waiting: b restarts in 1 s, a and c are the same actors, still running.
  auto waiting = f.children(*sup);
  CHECK(waiting[1].state == child_state::restarting);
  CHECK(waiting[1].restart_due_in == caf::timespan{1s});
  for (size_t i : {0, 2}) {
    CHECK(waiting[i].state == child_state::running);
    CHECK(waiting[i].actor == before[i].actor);
  }
  // A lookup says that b is between incarnations.
  f.self->send(*sup, lookup_atom::value, std::string{"root/b"});
  f.sched.run();
  caf::error err;
  receive_or_fail(f.self, "lookup's answer",
                  [](caf::actor&) { FAIL("b has an actor while restarting"); },
                  [&](caf::error& x) { err = std::move(x); });
  CHECK(is(err, errc::restarting));
  f.advance(999ms);
  CHECK(f.children(*sup)[1].state == child_state::restarting);
  f.advance(1ms);
  // Then the group restarts: a too under one_for_all, c under both.
  auto after = f.children(*sup);
  for (auto& x : after)
    CHECK(x.state == child_state::running);
  CHECK((after[0].actor != before[0].actor) == (st == strategy::one_for_all));
  CHECK(after[1].actor != before[1].actor);
  CHECK(after[2].actor != before[2].actor);
  CHECK(after[1].restart_count == 1);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}
