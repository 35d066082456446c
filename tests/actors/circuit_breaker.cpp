#include "clock_fixture.hpp"

#include "trellis/circuit_breaker.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;
using heal_atom = caf::atom_constant<caf::atom("heal")>;

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
  f.self->receive([&](caf::group& g) { events = g; });
  f.self->join(events);
  auto kids = f.children(*sup);
  auto payments = kids[0].actor;
  auto breaker = kids[1].actor;
  // Sends one call through the breaker; returns the answer or the error.
  auto call = [&](auto x) {
    f.self->send(breaker, x);
    f.sched.run();
    std::string result;
    f.self->receive([&](int y) { result = std::to_string(y); },
                    [&](std::string& y) { result = y; },
                    [&](caf::error& err) { result = f.sys.render(err); });
    return result;
  };
  auto state = [&] {
    f.self->send(breaker, caf::get_atom::value, breaker_state_atom::value);
    f.sched.run();
    breaker_state result = breaker_state::closed;
    f.self->receive([&](breaker_state x) { result = x; });
    return result;
  };
  auto next_state_event = [&] {
    std::string result;
    f.self->receive(
      [&](lifecycle_event& ev) {
        if (ev.kind == lifecycle_kind::breaker_state_changed)
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
  CHECK_THAT(call(1), Catch::StartsWith("trellis::errc::circuit_open: "
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

TEST_CASE("a circuit breaker counts timeouts and a missing target as failures",
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
  CHECK(is(call(), errc::circuit_open));
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
