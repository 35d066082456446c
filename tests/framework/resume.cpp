// The `resume` decision: an exception in a handler answers the request with
// the crash reason and the child goes on with its state and mailbox, at most
// `resume_limit` times within its period. On CAF's test scheduler and clock
// where the child's own thread does not matter.

#include "clock_fixture.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using add_atom = caf::atom_constant<caf::atom("add")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

/// Adds to a running sum and answers it; a negative addend is bad input
/// (`std::invalid_argument`), 0 a broken state (`std::logic_error`). Exits
/// normally on `done`.
caf::behavior counter(caf::event_based_actor* self) {
  auto sum = std::make_shared<int>(0);
  return {
    [sum](add_atom, int x) -> int {
      if (x < 0)
        throw std::invalid_argument("negative addend");
      if (x == 0)
        throw std::logic_error("zero");
      return *sum += x;
    },
    [self](done_atom) { self->quit(); },
  };
}

/// Resumes after bad input, restarts after anything else; counts its calls.
struct resume_bad_input {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);

  decision operator()(const caf::error& reason) const {
    ++*calls;
    auto crash = crash_details_of(reason);
    if (crash && crash->type == "std::invalid_argument")
      return decision::resume;
    return decision::restart;
  }
};

/// A request that may fail: the answer or the error.
caf::expected<int> add(clock_fixture& f, const caf::actor& dest, int x) {
  auto call = f.self->request(dest, caf::infinite, add_atom::value, x);
  f.sched.run();
  // Whatever happened has happened: no answer now is no answer ever.
  REQUIRE_FALSE(f.self->mailbox().empty());
  caf::expected<int> result{0};
  call.receive([&](int y) { result = y; },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// The tree's events, as seen by a listener of their own.
struct event_log {
  caf::scoped_actor listener;

  event_log(clock_fixture& f, const caf::actor& sup) : listener(f.sys) {
    f.self->send(sup, events_atom::value);
    f.sched.run();
    receive_or_fail(f.self, "the tree's event group",
                    [&](caf::group& g) { listener->join(g); });
  }

  /// The events published since the last call.
  std::vector<lifecycle_event> take() {
    std::vector<lifecycle_event> result;
    for (auto more = true; more;)
      listener->receive(
        [&](lifecycle_event& ev) { result.push_back(std::move(ev)); },
        caf::after(0ms) >> [&] { more = false; });
    return result;
  }

  /// The kinds of the events since the last call, in order.
  std::vector<lifecycle_kind> kinds() {
    std::vector<lifecycle_kind> result;
    for (auto& ev : take())
      result.push_back(ev.kind);
    return result;
  }
};

bool is_crash(const caf::expected<int>& x, const std::string& type) {
  if (x)
    return false;
  auto crash = crash_details_of(x.error());
  return crash && crash->type == type;
}

/// Spawns the tree of `spec` on the test coordinator and lets it start.
caf::actor start(clock_fixture& f, const supervisor_spec& spec) {
  auto sup = spawn_supervisor(f.sys, spec);
  REQUIRE(sup);
  f.sched.run();
  return *sup;
}

void stop(clock_fixture& f, const caf::actor& sup) {
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}

} // namespace

TEST_CASE("a resumed child answers the failing request with the crash and "
          "goes on with its state, address and mailbox",
          "[resume]") {
  clock_fixture f;
  log_capture logs;
  resume_bad_input decider;
  auto sup = start(
    f, supervisor("root").child(worker("w", counter).decider(decider)));
  event_log events{f, sup};
  auto w = f.child(sup).actor;
  CHECK(add(f, w, 5) == 5);
  auto failed = add(f, w, -1);
  REQUIRE(is_crash(failed, "std::invalid_argument"));
  CHECK(crash_details_of(failed.error())->what == "negative addend");
  // The same actor, with the sum it had: no restart.
  CHECK(add(f, w, 2) == 7);
  auto x = f.child(sup);
  CHECK(x.actor == w);
  CHECK(x.restart_count == 0);
  CHECK(x.state == child_state::running);
  auto seen = events.take();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == lifecycle_kind::child_resumed);
  CHECK(seen[0].path == "root/w");
  CHECK(seen[0].restart_count == 0);
  CHECK(seen[0].detail == "resumes=1");
  CHECK(is(seen[0].reason, errc::unhandled_exception));
  // Asked once, on the child's thread.
  CHECK(*decider.calls == 1);
  auto reports = logs.reports("child_resumed");
  REQUIRE(reports.size() == 1);
  CHECK_THAT(reports[0],
             Catch::StartsWith("child_resumed supervisor=root child=w reason=")
               && Catch::Contains("std::invalid_argument, negative addend")
               && Catch::EndsWith(" restart_count=0 resumes=1"));
  CHECK(logs.reports("child_terminated").empty());
  SECTION("queued messages stay where they are") {
    // Three requests queue before the child runs; the middle one fails.
    auto first = f.self->request(w, caf::infinite, add_atom::value, 1);
    auto second = f.self->request(w, caf::infinite, add_atom::value, -1);
    auto third = f.self->request(w, caf::infinite, add_atom::value, 1);
    f.sched.run();
    std::vector<std::string> got;
    for (auto* call : {&first, &second, &third})
      call->receive([&](int y) { got.push_back(std::to_string(y)); },
                    [&](caf::error& err) {
                      got.push_back(is(err, errc::unhandled_exception)
                                      ? "crash"
                                      : f.sys.render(err));
                    });
    CHECK(got == std::vector<std::string>{"8", "crash", "9"});
    CHECK(f.child(sup).actor == w);
    CHECK(events.kinds()
          == std::vector<lifecycle_kind>{lifecycle_kind::child_resumed});
  }
  SECTION("other exceptions still restart, decided once") {
    REQUIRE(is_crash(add(f, w, 0), "std::logic_error"));
    auto y = f.child(sup);
    CHECK(y.actor != w);
    CHECK(y.restart_count == 1);
    CHECK(add(f, y.actor, 1) == 1);
    CHECK(events.kinds()
          == std::vector<lifecycle_kind>{lifecycle_kind::child_exited,
                                         lifecycle_kind::child_restarted});
    // The child asked; the supervisor took its answer.
    CHECK(*decider.calls == 2);
  }
  stop(f, sup);
}

TEST_CASE("past its resume limit an exception restarts the child, until the "
          "period has passed",
          "[resume]") {
  clock_fixture f;
  auto sup = start(f, supervisor("root").intensity(10).period(1h).child(
             worker("w", counter)
               .decider(resume_bad_input{})
               .resume_limit(2, 10s)));
  event_log events{f, sup};
  auto w = f.child(sup).actor;
  CHECK(add(f, w, 5) == 5);
  // Two resumes fit the limit.
  for (int i = 1; i <= 2; ++i) {
    INFO("resume " << i);
    CHECK(is_crash(add(f, w, -1), "std::invalid_argument"));
    CHECK(f.child(sup).actor == w);
    auto seen = events.take();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].kind == lifecycle_kind::child_resumed);
    CHECK(seen[0].detail == "resumes=" + std::to_string(i));
  }
  CHECK(add(f, w, 1) == 6);
  // The third within 10 s is a crash: restarted, charged, its state gone.
  CHECK(is_crash(add(f, w, -1), "std::invalid_argument"));
  auto x = f.child(sup);
  CHECK(x.actor != w);
  CHECK(x.restart_count == 1);
  CHECK(add(f, x.actor, 1) == 1);
  CHECK(events.kinds()
        == std::vector<lifecycle_kind>{lifecycle_kind::child_exited,
                                       lifecycle_kind::child_restarted});
  // The limit belongs to the child, not to an incarnation: still within the
  // period (a resume exactly one period old still counts), the next
  // exception restarts too.
  f.advance(10s);
  CHECK(is_crash(add(f, x.actor, -1), "std::invalid_argument"));
  auto y = f.child(sup);
  CHECK(y.actor != x.actor);
  CHECK(y.restart_count == 2);
  // Once the period has passed since the first two resumes, it resumes
  // again.
  f.advance(1ms);
  CHECK(add(f, y.actor, 3) == 3);
  CHECK(is_crash(add(f, y.actor, -1), "std::invalid_argument"));
  CHECK(add(f, y.actor, 1) == 4);
  CHECK(f.child(sup).actor == y.actor);
  auto seen = events.take();
  REQUIRE(seen.size() == 3);
  CHECK(seen[2].kind == lifecycle_kind::child_resumed);
  CHECK(seen[2].detail == "resumes=1");
  CHECK(f.child(sup).restart_count == 2);
  stop(f, sup);
}

TEST_CASE("an injected exception is resumed like any other", "[resume]") {
  clock_fixture f;
  auto sup = start(f, supervisor("root").child(
             worker("w", counter).decider([](const caf::error& reason) {
               auto crash = crash_details_of(reason);
               return crash && crash->type == "trellis::injected_fault"
                        ? decision::resume
                        : decision::restart;
             })));
  event_log events{f, sup};
  auto w = f.child(sup).actor;
  CHECK(add(f, w, 4) == 4);
  caf::anon_send(w, fault_atom::value, fault_kind::exception,
                 caf::timespan{0});
  f.sched.run();
  CHECK(add(f, w, 1) == 5);
  CHECK(f.child(sup).actor == w);
  CHECK(events.kinds()
        == std::vector<lifecycle_kind>{lifecycle_kind::child_resumed});
  stop(f, sup);
}

TEST_CASE("a resume limit of 0 never resumes", "[resume]") {
  clock_fixture f;
  auto sup = start(f, supervisor("root").child(worker("w", counter)
                                      .decider(resume_bad_input{})
                                      .resume_limit(0, 5s)));
  auto w = f.child(sup).actor;
  CHECK(is_crash(add(f, w, -1), "std::invalid_argument"));
  CHECK(f.child(sup).actor != w);
  CHECK(f.child(sup).restart_count == 1);
  stop(f, sup);
}

TEST_CASE("resume means restart for an exit that already happened",
          "[resume]") {
  clock_fixture f;
  auto calls = std::make_shared<std::vector<caf::error>>();
  auto always_resume = [calls](const caf::error& reason) {
    calls->push_back(reason);
    return decision::resume;
  };
  auto sup = start(f, supervisor("root").intensity(10).period(1h).child(
             worker("w", counter).decider(always_resume)));
  event_log events{f, sup};
  SECTION("a kill") {
    auto w = f.child(sup).actor;
    f.kill_child(sup);
    auto x = f.child(sup);
    CHECK(x.actor != w);
    CHECK(x.restart_count == 1);
    REQUIRE(calls->size() == 1);
    CHECK(calls->at(0) == caf::exit_reason::kill);
  }
  SECTION("a normal exit") {
    auto w = f.child(sup).actor;
    f.self->send(w, done_atom::value);
    f.sched.run();
    CHECK(f.child(sup).actor != w);
    CHECK(f.child(sup).restart_count == 1);
    REQUIRE(calls->size() == 1);
    CHECK(calls->at(0) == caf::exit_reason::normal);
  }
  auto kinds = events.kinds();
  CHECK(std::count(kinds.begin(), kinds.end(),
                   lifecycle_kind::child_resumed)
        == 0);
  CHECK(std::count(kinds.begin(), kinds.end(),
                   lifecycle_kind::child_restarted)
        == 1);
  stop(f, sup);
}

TEST_CASE("a decider that throws on the child's thread escalates",
          "[resume]") {
  clock_fixture f;
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto undecided = [calls](const caf::error&) -> decision {
    ++*calls;
    throw std::runtime_error("undecided");
  };
  auto sup = start(f, supervisor("root").intensity(10).period(1h).child(
             worker("w", counter).decider(undecided)));
  f.self->monitor(sup);
  auto w = f.child(sup).actor;
  CHECK(is_crash(add(f, w, -1), "std::invalid_argument"));
  caf::error reason;
  receive_or_fail(f.self, "root's exit",
                  [&](caf::down_msg& msg) { reason = msg.reason; });
  CHECK(is(reason, errc::escalated));
  CHECK_THAT(f.sys.render(reason),
             Catch::StartsWith("trellis::errc::escalated: root, w, "
                               "trellis::errc::unhandled_exception: "
                               "std::invalid_argument, negative addend"));
  // Once: the supervisor took the child's answer.
  CHECK(*calls == 1);
}

TEST_CASE("an exception in the actor's initialization is not resumed",
          "[resume]") {
  clock_fixture f;
  auto incarnations = std::make_shared<std::atomic<int>>(0);
  auto fragile = [incarnations](caf::event_based_actor* self) {
    // The second incarnation throws while it initializes.
    if (++*incarnations == 2)
      throw std::invalid_argument("cannot start");
    return counter(self);
  };
  auto sup = start(f, supervisor("root").intensity(10).period(1h).child(
             worker("w", fragile).decider(resume_bad_input{})));
  event_log events{f, sup};
  f.kill_child(sup);
  // Its start failed and was retried: the third incarnation runs.
  auto x = f.child(sup);
  CHECK(*incarnations == 3);
  CHECK(x.state == child_state::running);
  CHECK(add(f, x.actor, 1) == 1);
  auto kinds = events.kinds();
  CHECK(std::count(kinds.begin(), kinds.end(),
                   lifecycle_kind::child_resumed)
        == 0);
  stop(f, sup);
}

TEST_CASE("a child that keeps its mailbox and resumes keeps it in place",
          "[resume][keep_mailbox]") {
  clock_fixture f;
  auto sup = start(f, supervisor("root").child(worker("w", counter)
                                      .decider(resume_bad_input{})
                                      .keep_mailbox(true)));
  event_log events{f, sup};
  auto w = f.child(sup).actor;
  std::vector<decltype(f.self->request(w, caf::infinite, add_atom::value, 1))>
    calls;
  for (int x : {1, 2, -1, 3, 4})
    calls.push_back(f.self->request(w, caf::infinite, add_atom::value, x));
  f.sched.run();
  std::vector<int> got;
  for (auto& call : calls)
    call.receive([&](int y) { got.push_back(y); },
                 [&](caf::error&) { got.push_back(-1); });
  CHECK(got == std::vector<int>{1, 3, -1, 6, 10});
  CHECK(f.child(sup).actor == w);
  // Nothing handed over, nothing lost.
  CHECK(events.kinds()
        == std::vector<lifecycle_kind>{lifecycle_kind::child_resumed});
  stop(f, sup);
}

TEST_CASE("a resumed exception does not count towards the quarantine; a "
          "crash past the limit does",
          "[resume][poison]") {
  clock_fixture f;
  auto sup = start(f, supervisor("root").intensity(10).period(1h).child(
             worker("w", counter)
               .decider(resume_bad_input{})
               .resume_limit(2, 1h)
               .quarantine_after(1)));
  event_log events{f, sup};
  auto w = f.child(sup).actor;
  // Twice resumed: nothing is quarantined, though one crash would do.
  CHECK(is_crash(add(f, w, -1), "std::invalid_argument"));
  CHECK(is_crash(add(f, w, -1), "std::invalid_argument"));
  CHECK(f.child(sup).actor == w);
  // The third is a crash on the same message: quarantined.
  CHECK(is_crash(add(f, w, -1), "std::invalid_argument"));
  auto x = f.child(sup).actor;
  CHECK(x != w);
  auto seen = events.take();
  auto quarantined = std::find_if(seen.begin(), seen.end(), [](auto& ev) {
    return ev.kind == lifecycle_kind::message_quarantined;
  });
  REQUIRE(quarantined != seen.end());
  CHECK_THAT(quarantined->detail, Catch::StartsWith("crashes=1 message=")
                                    && Catch::EndsWith("-1)"));
  // Its copies are set aside before any handler runs: no resume, no crash.
  auto refused = add(f, x, -1);
  REQUIRE_FALSE(refused);
  CHECK(is(refused.error(), errc::quarantined));
  CHECK(add(f, x, 1) == 1);
  CHECK(f.child(sup).actor == x);
  CHECK(events.kinds().empty());
  f.self->send(sup, dead_letters_atom::value);
  f.sched.run();
  receive_or_fail(f.self, "the dead letters",
                  [&](std::vector<dead_letter>& xs) {
                    REQUIRE(xs.size() == 1);
                    CHECK(xs[0].crashes == 1);
                    CHECK(xs[0].diverted == 1);
                  });
  stop(f, sup);
}

TEST_CASE("a child with its own exception handler does not resume",
          "[resume]") {
  clock_fixture f;
  auto calls = std::make_shared<std::vector<caf::error>>();
  auto always_resume = [calls](const caf::error& reason) {
    calls->push_back(reason);
    return decision::resume;
  };
  auto own_handler = [](caf::event_based_actor* self) {
    self->set_exception_handler(
      [](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
        return caf::sec::runtime_error;
      });
    return counter(self);
  };
  auto sup = start(f, supervisor("root").intensity(10).period(1h).child(
             worker("w", own_handler).decider(always_resume)));
  auto w = f.child(sup).actor;
  auto failed = add(f, w, -1);
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == caf::sec::runtime_error);
  // Its exit reason is its own: the supervisor decided, and resume there is
  // restart.
  CHECK(f.child(sup).actor != w);
  CHECK(f.child(sup).restart_count == 1);
  REQUIRE(calls->size() == 1);
  CHECK(calls->at(0) == caf::sec::runtime_error);
  stop(f, sup);
}

TEST_CASE("each child of a dynamic supervisor has a resume limit of its own",
          "[resume][dynamic]") {
  clock_fixture f;
  auto sup = start(f, dynamic_supervisor("pool", worker("w", counter)
                                        .decider(resume_bad_input{})
                                        .resume_limit(1, 1h))
             .intensity(10)
             .period(1h));
  std::vector<caf::actor> kids;
  for (int i = 0; i < 2; ++i) {
    f.self->send(sup, start_child_atom::value, caf::message{});
    f.sched.run();
    receive_or_fail(f.self, "a started child",
                    [&](caf::actor& x) { kids.push_back(x); });
  }
  // One resume each.
  for (auto& kid : kids) {
    CHECK(add(f, kid, 1) == 1);
    CHECK(is_crash(add(f, kid, -1), "std::invalid_argument"));
    CHECK(add(f, kid, 1) == 2);
  }
  auto xs = f.children(sup);
  REQUIRE(xs.size() == 2);
  CHECK(xs[0].actor == kids[0]);
  CHECK(xs[1].actor == kids[1]);
  stop(f, sup);
}

// On threads of their own: where a handler's exception ends its thread's
// loop, or where the decider runs on the child's thread for real.

TEST_CASE("a detached child resumes on its own thread", "[resume]") {
  fixture f;
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto sup = f.start(supervisor("root").child(
    worker("w", counter).decider(resume_bad_input{calls}).detached(true)));
  auto w = f.actor_of(sup, "w");
  auto ask = [&](int x) {
    caf::expected<int> result{0};
    f.probe->request(w, patience, add_atom::value, x)
      .receive([&](int y) { result = y; },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  };
  CHECK(ask(2) == 2);
  auto failed = ask(-1);
  REQUIRE_FALSE(failed);
  CHECK(is(failed.error(), errc::unhandled_exception));
  CHECK(ask(3) == 5);
  CHECK(f.actor_of(sup, "w") == w);
  CHECK(*calls == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a blocking child cannot resume: resume restarts it", "[resume]") {
  fixture f;
  auto blocking_counter = [](caf::blocking_actor* self) {
    int sum = 0;
    bool running = true;
    self->receive_while(running)([&](add_atom, int x) -> int {
      if (x < 0)
        throw std::invalid_argument("negative addend");
      return sum += x;
    });
  };
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto sup = f.start(supervisor("root").child(
    worker("w", blocking_counter).decider(resume_bad_input{calls})));
  auto w = f.actor_of(sup, "w");
  f.probe->send(w, add_atom::value, 5);
  f.probe->send(w, add_atom::value, -1);
  auto x = f.await_replaced(sup, "w", w);
  REQUIRE(x);
  int sum = -1;
  f.probe->request(x, patience, add_atom::value, 1)
    .receive([&](int y) { sum = y; },
             [&](caf::error& err) { FAIL(f.render(err)); });
  CHECK(sum == 1);
  CHECK(f.child(sup, "w").restart_count == 1);
  // Asked once, by the supervisor.
  CHECK(*calls == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("resume limits are checked", "[resume][spec]") {
  auto noop = [](child_context&) -> start_result { return ignore; };
  auto invalid = [&](size_t k, caf::timespan period) {
    return is(worker("a", noop).resume_limit(k, period).validate(),
              errc::invalid_spec);
  };
  CHECK(invalid(3, 0s));
  CHECK(invalid(3, -1s));
  CHECK(invalid(3, std::chrono::hours(24 * 400)));
  CHECK_FALSE(invalid(0, 1s));
  CHECK_FALSE(invalid(1000, 1h));
  auto spec = worker("a", noop).resume_limit(7, 2s);
  CHECK(spec.resume_limit().resumes == 7);
  CHECK(spec.resume_limit().period == caf::timespan{2s});
}
