#include "clock_fixture.hpp"

#include "trellis/actors/circuit_breaker.hpp"
#include "trellis/dependency.hpp"
#include "trellis/incident.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;
using heal_atom = caf::atom_constant<caf::atom("heal")>;
using slow_atom = caf::atom_constant<caf::atom("slow")>;
using answer_atom = caf::atom_constant<caf::atom("answer")>;

struct slow_state {
  std::vector<caf::response_promise> pending;
};

/// Doubles ints, but answers `(slow_atom, x)` only when told to
/// (`answer_atom`), all held calls at once, or never.
caf::behavior slow(caf::stateful_actor<slow_state>* self) {
  return {
    [self](int x) -> caf::result<int> {
      if (x < 0)
        return make_error(errc::unhealthy, "negative");
      return x * 2;
    },
    [self](slow_atom, int) -> caf::result<int> {
      self->state.pending.push_back(self->make_response_promise());
      return self->state.pending.back();
    },
    [self](answer_atom, int y) {
      for (auto& rp : self->state.pending)
        rp.deliver(y);
      self->state.pending.clear();
    },
  };
}

/// A breaker with threshold 2, call timeout 1 s and reset timeout 10 s in
/// front of `slow`, on the test clock.
struct slow_breaker {
  clock_fixture f;
  caf::actor sup;
  caf::actor target;
  caf::actor breaker;

  slow_breaker() {
    auto res = spawn_supervisor(
      f.sys, supervisor("root")
               .child(worker("slow", slow))
               .child(circuit_breaker("breaker", circuit_breaker_config{}
                                                   .target("root/slow")
                                                   .failure_threshold(2)
                                                   .call_timeout(1s)
                                                   .reset_timeout(10s))));
    REQUIRE(res);
    sup = *res;
    f.sched.run();
    auto kids = f.children(sup);
    REQUIRE(kids.size() == 2);
    target = kids[0].actor;
    breaker = kids[1].actor;
  }

  ~slow_breaker() {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    f.sched.run();
  }

  /// Sends `args` through the breaker and runs the scheduler.
  template <class... Ts>
  void send(Ts... args) {
    f.self->send(breaker, args...);
    f.sched.run();
  }

  /// The next answer the test received: a number or a rendered error.
  std::string answer() {
    std::string result;
    receive_or_fail(f.self, "an answer from the breaker",
                    [&](int y) { result = std::to_string(y); },
                    [&](caf::error& err) { result = f.sys.render(err); });
    return result;
  }

  /// Whether an answer is waiting already.
  bool answered() {
    bool result = true;
    f.self->receive([](int) {}, [](caf::error&) {},
                    caf::after(caf::timespan{0}) >> [&] { result = false; });
    return result;
  }

  breaker_state state() {
    f.self->send(breaker, caf::get_atom::value, breaker_state_atom::value);
    f.sched.run();
    breaker_state result = breaker_state::closed;
    receive_or_fail(f.self, "the breaker's state",
                    [&](breaker_state x) { result = x; });
    return result;
  }
};

/// Doubles ints; while failing, answers them with an error instead.
caf::behavior flaky(caf::stateful_actor<bool>* self) {
  self->state = false;
  return {
    [self](int x) -> caf::result<int> {
      if (self->state)
        return make_error(errc::unhealthy, "flaky");
      return x * 2;
    },
    [self](fail_atom) { self->state = true; },
    [self](heal_atom) { self->state = false; },
    [](const std::string& x) { return x + "!"; },
  };
}

} // namespace

TEST_CASE("a circuit breaker passes calls, opens, fails fast, half-opens and "
          "closes",
          "[actors][circuit_breaker]") {
  clock_fixture f;
  auto sup = spawn_supervisor(
    f.sys, supervisor("root")
             .child(worker("payments", flaky))
             .child(circuit_breaker("breaker", circuit_breaker_config{}
                                                 .target("root/payments")
                                                 .failure_threshold(3)
                                                 .call_timeout(1s)
                                                 .reset_timeout(10s))));
  REQUIRE(sup);
  f.sched.run();
  caf::group events;
  f.self->send(*sup, events_atom::value);
  f.sched.run();
  receive_or_fail(f.self, "the events group",
                  [&](caf::group& g) { events = g; });
  f.self->join(events);
  auto kids = f.children(*sup);
  auto payments = kids[0].actor;
  auto breaker = kids[1].actor;
  // Sends one call through the breaker; returns the answer or the error.
  auto call = [&](auto x) {
    f.self->send(breaker, x);
    f.sched.run();
    std::string result;
    receive_or_fail(f.self, "the call's answer",
                    [&](int y) { result = std::to_string(y); },
                    [&](std::string& y) { result = y; },
                    [&](caf::error& err) { result = f.sys.render(err); });
    return result;
  };
  auto state = [&] {
    f.self->send(breaker, caf::get_atom::value, breaker_state_atom::value);
    f.sched.run();
    breaker_state result = breaker_state::closed;
    receive_or_fail(f.self, "the breaker's state",
                    [&](breaker_state x) { result = x; });
    return result;
  };
  auto next_state_event = [&] {
    std::string result;
    f.self->receive(
      [&](lifecycle_event& ev) {
        if (ev.kind == breaker_state_changed)
          result = ev.detail;
      },
      caf::after(0s) >> [] {});
    return result;
  };
  // Closed: calls and answers pass, whatever their type.
  CHECK(call(21) == "42");
  CHECK(call(std::string{"hi"}) == "hi!");
  CHECK(state() == breaker_state::closed);
  // Three failures in a row open it; the target's own errors reach callers.
  caf::anon_send(payments, fail_atom::value);
  f.sched.run();
  for (int i = 0; i < 3; ++i)
    CHECK(call(1) == "trellis::errc::unhealthy: flaky");
  CHECK(state() == breaker_state::open);
  CHECK(next_state_event() == "state=open failures=3");
  // Open: callers fail fast, and the target is not asked.
  caf::anon_send(payments, heal_atom::value);
  f.sched.run();
  CHECK_THAT(call(1), Catch::StartsWith("trellis::breaker_errc::circuit_open: "
                                        "root/breaker, root/payments is open"));
  // After the reset timeout: half open, and a failed trial reopens it.
  caf::anon_send(payments, fail_atom::value);
  f.sched.run();
  f.sched.advance_time(10s);
  f.sched.run();
  CHECK(state() == breaker_state::half_open);
  CHECK(next_state_event() == "state=half_open failures=3");
  CHECK(call(1) == "trellis::errc::unhealthy: flaky");
  CHECK(state() == breaker_state::open);
  CHECK(next_state_event() == "state=open failures=4");
  // A successful trial closes it.
  caf::anon_send(payments, heal_atom::value);
  f.sched.run();
  f.sched.advance_time(10s);
  f.sched.run();
  CHECK(state() == breaker_state::half_open);
  CHECK(call(5) == "10");
  CHECK(state() == breaker_state::closed);
  next_state_event(); // half_open
  CHECK(next_state_event() == "state=closed failures=0");
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}

TEST_CASE("a circuit breaker counts a missing target as a failure",
          "[actors][circuit_breaker]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(circuit_breaker(
    "breaker", circuit_breaker_config{}
                 .target("root/nobody")
                 .failure_threshold(2)
                 .call_timeout(100ms))));
  auto breaker = f.actor_of(sup, "breaker");
  auto call = [&] {
    caf::error result;
    f.probe->request(breaker, patience, 1)
      .receive([](int) {}, [&](caf::error& err) { result = std::move(err); });
    return result;
  };
  CHECK(is(call(), errc::not_found));
  CHECK(is(call(), errc::not_found));
  CHECK(is(call(), breaker_errc::circuit_open));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a circuit breaker cannot protect itself", "[actors][circuit_breaker]") {
  fixture f;
  auto res = start_supervisor(
    f.sys, supervisor("root").child(circuit_breaker(
             "breaker", circuit_breaker_config{}.target("root/breaker"))));
  REQUIRE_FALSE(res);
  CHECK_THAT(f.render(res.error()), Catch::Contains("cannot protect itself"));
}

TEST_CASE("circuit breaker configs are checked", "[actors][circuit_breaker]") {
  CHECK(is(circuit_breaker_config{}.validate(), errc::invalid_spec));
  CHECK(is(circuit_breaker_config{}.target("root/x").failure_threshold(0).validate(),
           errc::invalid_spec));
  CHECK(is(circuit_breaker_config{}.target("root/x").call_timeout(0s).validate(),
           errc::invalid_spec));
  CHECK_FALSE(circuit_breaker_config{}.target("root/x").validate());
}

TEST_CASE("a call that outlives the call timeout fails with request_timeout "
          "and counts as a failure",
          "[actors][circuit_breaker]") {
  slow_breaker b;
  b.send(slow_atom::value, 1);
  CHECK_FALSE(b.answered());
  b.f.advance(999ms);
  CHECK_FALSE(b.answered());
  b.f.advance(1ms);
  CHECK(b.answer() == "system_error(request_timeout)");
  CHECK(b.state() == breaker_state::closed);
  b.send(slow_atom::value, 2);
  b.f.advance(1s);
  CHECK(b.answer() == "system_error(request_timeout)");
  CHECK(b.state() == breaker_state::open);
  // Open: a call that would succeed fails fast.
  b.send(21);
  CHECK_THAT(b.answer(),
             Catch::StartsWith("trellis::breaker_errc::circuit_open"));
}

TEST_CASE("a late success does not close an open circuit breaker",
          "[actors][circuit_breaker]") {
  slow_breaker b;
  // A slow call is on its way while two others fail and open the breaker.
  b.send(slow_atom::value, 1);
  b.send(-1);
  CHECK(b.answer() == "trellis::errc::unhealthy: negative");
  b.send(-1);
  CHECK(b.answer() == "trellis::errc::unhealthy: negative");
  REQUIRE(b.state() == breaker_state::open);
  // Its answer arrives now: the caller gets it, the breaker stays open.
  caf::anon_send(b.target, answer_atom::value, 7);
  b.f.sched.run();
  CHECK(b.answer() == "7");
  CHECK(b.state() == breaker_state::open);
  b.send(21);
  CHECK_THAT(b.answer(),
             Catch::StartsWith("trellis::breaker_errc::circuit_open"));
  // The reset timer still runs from the opening.
  b.f.advance(10s);
  CHECK(b.state() == breaker_state::half_open);
}

TEST_CASE("while its trial call is pending, a half-open circuit breaker "
          "fails other calls fast",
          "[actors][circuit_breaker]") {
  slow_breaker b;
  b.send(-1);
  b.answer();
  b.send(-1);
  b.answer();
  REQUIRE(b.state() == breaker_state::open);
  b.f.advance(10s);
  REQUIRE(b.state() == breaker_state::half_open);
  // The trial is slow; the calls behind it are refused at once.
  b.send(slow_atom::value, 1);
  CHECK_FALSE(b.answered());
  b.send(21);
  CHECK_THAT(b.answer(),
             Catch::StartsWith("trellis::breaker_errc::circuit_open: "
                               "root/breaker, root/slow is half_open"));
  b.send(22);
  CHECK_THAT(b.answer(),
             Catch::StartsWith("trellis::breaker_errc::circuit_open"));
  // The trial's success closes the breaker, and calls pass again.
  caf::anon_send(b.target, answer_atom::value, 2);
  b.f.sched.run();
  CHECK(b.answer() == "2");
  CHECK(b.state() == breaker_state::closed);
  b.send(21);
  CHECK(b.answer() == "42");
  SECTION("a trial that times out opens it again") {
    b.send(-1);
    b.answer();
    b.send(-1);
    b.answer();
    b.f.advance(10s);
    REQUIRE(b.state() == breaker_state::half_open);
    b.send(slow_atom::value, 1);
    b.f.advance(1s);
    CHECK(b.answer() == "system_error(request_timeout)");
    CHECK(b.state() == breaker_state::open);
  }
}

TEST_CASE("a circuit breaker with a dependency pauses the children that "
          "depend on it while it is open",
          "[actors][circuit_breaker][storm_control]") {
  fixture f;
  // Failures alone never open an incident here: only the breaker does.
  REQUIRE_FALSE(declare_dependency(f.sys, dependency_policy{"db"}
                                            .incident_after(100, 10s)
                                            .probe_after(50ms, 200ms)
                                            .settle(100ms)
                                            .resume_over(0s)));
  auto sup = f.start(
    supervisor("root")
      .child(worker("db", flaky))
      .child(circuit_breaker("breaker", circuit_breaker_config{}
                                          .target("root/db")
                                          .failure_threshold(2)
                                          .reset_timeout(100ms)
                                          .dependency("db")))
      .child(f.probed("user").depends_on("db")));
  CHECK(f.next_event() == "started:user");
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  auto breaker = f.actor_of(sup, "breaker");
  auto call = [&](int x) {
    std::string result;
    f.probe->request(breaker, patience, x)
      .receive([&](int y) { result = std::to_string(y); },
               [&](caf::error& err) { result = f.sys.render(err); });
    return result;
  };
  f.probe->send(f.actor_of(sup, "db"), fail_atom::value);
  call(1);
  call(2);
  auto opened = await_event_if(f.probe, [](const lifecycle_event& ev) {
    return ev.kind == lifecycle_kind::incident_opened;
  });
  CHECK(opened.id == "db");
  CHECK(opened.path == "root/breaker");
  CHECK_THAT(opened.detail,
             Catch::Contains("reported down by root/breaker: 2 calls to "
                             "root/db failed"));
  // The first failure of a child that depends on it pauses it. The test
  // holds the incident open too: half open after 100 ms, the breaker takes
  // its word back, and with nothing paused the incident would close before
  // a slow crash report (the first one symbolizes its trace) lets the
  // supervisor see the crash.
  REQUIRE_FALSE(
    report_dependency(f.sys, "db", dependency_status::down, "test"));
  f.crash(sup, "user");
  CHECK(f.next_event() == "stopped:user");
  eventually("user to pause",
             [&] { return f.child(sup, "user").paused_for == "db"; });
  CHECK(f.child(sup, "user").state == child_state::restarting);
  REQUIRE_FALSE(
    report_dependency(f.sys, "db", dependency_status::withdrawn, "test"));
  SECTION("a trial call closes the breaker and the incident") {
    f.probe->send(f.actor_of(sup, "db"), heal_atom::value);
    for (int i = 0; call(21) != "42"; ++i) {
      REQUIRE(i < 400);
      std::this_thread::sleep_for(50ms);
    }
    auto closed = await_event_if(f.probe, [](const lifecycle_event& ev) {
      return ev.kind == lifecycle_kind::incident_closed;
    });
    // Unless a canary ran first: half open, the breaker took its word back.
    CHECK_THAT(closed.detail, Catch::Contains("outcome=reported_up")
                                || Catch::Contains("outcome=canary_ran"));
    CHECK(f.next_event() == "started:user");
  }
  SECTION("nobody calls: half open, the breaker withdraws, and a canary "
          "closes the incident") {
    // The paused child is the breaker's only caller; the tree hears of the
    // incident once, though the breaker and the child both belong to it.
    size_t opened_events = 0;
    auto closed = await_event_if(f.probe, [&](const lifecycle_event& ev) {
      opened_events += ev.kind == lifecycle_kind::incident_opened ? 1 : 0;
      return ev.kind == lifecycle_kind::incident_closed;
    });
    CHECK(opened_events == 0); // The one was taken above.
    CHECK_THAT(closed.detail, Catch::Contains("outcome=canary_ran"));
    CHECK(f.child(sup, "user").state == child_state::running);
  }
  CHECK(open_incidents(f.sys).empty());
}
