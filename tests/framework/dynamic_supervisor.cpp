#include "clock_fixture.hpp"

#include <algorithm>
#include <atomic>
#include <set>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

// A start argument the tests can watch: does anybody still hold it?
using token = std::shared_ptr<int>;
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(token)

namespace {

/// A session: reports "started:<name>" to the probe.
child_spec session_template(caf::actor probe) {
  return worker("session",
                [probe](child_context& ctx, const std::string& name) {
                  return ctx.spawn(probed_worker, name, probe);
                });
}

/// The smallest child: counts itself alive in `alive`.
caf::behavior counted(caf::event_based_actor* self,
                      std::shared_ptr<std::atomic<int>> alive) {
  ++*alive;
  self->attach_functor([alive] { --*alive; });
  return {[](int x) { return x; }};
}

} // namespace

TEST_CASE("a dynamic supervisor starts children on demand with their "
          "arguments",
          "[supervisor][dynamic]") {
  fixture f;
  auto sup = f.start(
    dynamic_supervisor("sessions", session_template(caf::actor{f.probe}))
      .intensity(5));
  CHECK(f.children(sup).empty());
  auto alice = start_child(f.sys, sup, caf::make_message(std::string{"alice"}));
  REQUIRE(alice);
  REQUIRE(*alice);
  CHECK(f.next_event() == "started:alice");
  auto bob = start_child(f.sys, sup, caf::make_message(std::string{"bob"}));
  REQUIRE(bob);
  CHECK(f.next_event() == "started:bob");
  auto kids = f.children(sup);
  REQUIRE(kids.size() == 2);
  CHECK(kids[0].id == "session#1");
  CHECK(kids[0].actor == *alice);
  CHECK(kids[1].id == "session#2");
  SECTION("a crashed child restarts with the arguments it was started with") {
    f.probe->send(*alice, crash_atom::value);
    CHECK(f.next_events(2)
          == std::vector<std::string>{"stopped:alice", "started:alice"});
    auto again = f.await_replaced(sup, "session#1", *alice);
    CHECK(again);
    CHECK(f.child(sup, "session#1").restart_count == 1);
  }
  SECTION("terminate_child by handle stops and removes the child") {
    REQUIRE_FALSE(terminate_child(f.sys, sup, *alice));
    CHECK(f.next_event() == "stopped:alice");
    REQUIRE(f.children(sup).size() == 1);
    // OTP: an actor that is gone is terminated already.
    CHECK_FALSE(terminate_child(f.sys, sup, *alice));
    // A live actor that is no child is not found.
    caf::actor stranger{f.probe};
    CHECK(is(terminate_child(f.sys, sup, stranger), errc::not_found));
    CHECK(f.children(sup).size() == 1);
  }
  SECTION("count_children counts one spec, the template, as OTP does") {
    auto counts = count_children(f.sys, sup);
    REQUIRE(counts);
    CHECK(counts->specs == 1);
    CHECK(counts->active == 2);
    CHECK(counts->workers == 2);
    CHECK(counts->supervisors == 0);
  }
  SECTION("arguments of the wrong type fail the start, and nothing is kept") {
    auto res = start_child(f.sys, sup, caf::make_message(42));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::start_failed));
    CHECK_THAT(f.render(res.error()), Catch::Contains("do not match"));
    CHECK(f.children(sup).size() == 2);
  }
  SECTION("what a dynamic supervisor refuses") {
    CHECK(is(start_child(f.sys, sup, f.probed("x")).error(),
             errc::not_supported));
    CHECK(is(restart_child(f.sys, sup, "session#1").error(),
             errc::not_supported));
    CHECK(is(delete_child(f.sys, sup, "session#1"), errc::not_supported));
  }
  SECTION("get_childspec returns the template under the child's id") {
    auto spec = get_childspec(f.sys, sup, "session#2");
    REQUIRE(spec);
    CHECK(spec->id() == "session#2");
    CHECK(spec->restart() == restart::permanent);
  }
  SECTION("stopping the supervisor stops every child") {
    CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
    auto events = f.next_events(2);
    std::sort(events.begin(), events.end());
    CHECK(events == std::vector<std::string>{"stopped:alice", "stopped:bob"});
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a dynamic supervisor keeps to max_children",
          "[supervisor][dynamic]") {
  fixture f;
  auto alive = std::make_shared<std::atomic<int>>(0);
  auto sup = f.start(dynamic_supervisor("pool", worker("w", counted, alive))
                       .max_children(2));
  REQUIRE(start_child(f.sys, sup, caf::message{}));
  auto second = start_child(f.sys, sup, caf::message{});
  REQUIRE(second);
  auto third = start_child(f.sys, sup, caf::message{});
  REQUIRE_FALSE(third);
  CHECK(is(third.error(), errc::max_children));
  CHECK_THAT(f.render(third.error()),
             Catch::Equals("trellis::errc::max_children: pool, 2"));
  // A slot frees up when a child is terminated.
  REQUIRE_FALSE(terminate_child(f.sys, sup, *second));
  CHECK(start_child(f.sys, sup, caf::message{}));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a dynamic child that ends for good leaves the list",
          "[supervisor][dynamic]") {
  fixture f;
  caf::actor probe{f.probe};
  auto sup = f.start(
    dynamic_supervisor("d", session_template(probe).restart(restart::transient))
      .max_children(1));
  auto a = start_child(f.sys, sup, caf::make_message(std::string{"a"}));
  REQUIRE(a);
  f.next_event();
  f.probe->send(*a, quit_atom::value, caf::error{caf::exit_reason::normal});
  CHECK(f.next_event() == "stopped:a");
  // Not restarted, removed, and its max_children slot is free again.
  for (int i = 0; i < 20'000 && !f.children(sup).empty(); ++i)
    std::this_thread::sleep_for(1ms);
  CHECK(f.children(sup).empty());
  CHECK(start_child(f.sys, sup, caf::make_message(std::string{"b"})));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a dynamic child whose restart answers ignore leaves the list",
          "[supervisor][dynamic]") {
  fixture f;
  caf::actor probe{f.probe};
  auto first = std::make_shared<std::atomic<bool>>(true);
  auto sup = f.start(dynamic_supervisor(
    "d", worker("w", [probe, first](child_context& ctx) -> start_result {
      if (!first->exchange(false))
        return ignore;
      return ctx.spawn(probed_worker, std::string{"w"}, probe);
    })).intensity(5));
  auto w = start_child(f.sys, sup, caf::message{});
  REQUIRE(w);
  f.next_event();
  f.probe->send(*w, crash_atom::value);
  CHECK(f.next_event() == "stopped:w");
  for (int i = 0; i < 20'000 && !f.children(sup).empty(); ++i)
    std::this_thread::sleep_for(1ms);
  CHECK(f.children(sup).empty());
  stop_supervisor(f.sys, sup);
}

TEST_CASE("dynamic supervisor specs are checked", "[supervisor][dynamic]") {
  auto noop = [](child_context&) -> start_result { return ignore; };
  fixture f;
  auto invalid = [&](const supervisor_spec& spec, const std::string& field) {
    auto res = start_supervisor(f.sys, spec);
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::invalid_spec));
    CHECK_THAT(f.render(res.error()), Catch::Contains("invalid_spec: " + field));
  };
  invalid(supervisor("d").strategy(strategy::simple_one_for_one), "children");
  invalid(dynamic_supervisor("d", worker("a", noop)).child(worker("b", noop)),
          "children");
  invalid(dynamic_supervisor("d", worker("a", noop))
            .auto_shutdown(auto_shutdown::any_significant),
          "auto_shutdown");
  invalid(supervisor("s").max_children(3), "max_children");
}

TEST_CASE("a dynamic child that answers ignore is not kept",
          "[supervisor][dynamic]") {
  fixture f;
  auto sup = f.start(dynamic_supervisor(
    "d", worker("w", [](child_context&) -> start_result { return ignore; })));
  auto res = start_child(f.sys, sup, caf::message{});
  REQUIRE(res);
  CHECK_FALSE(*res);
  CHECK(f.children(sup).empty());
  stop_supervisor(f.sys, sup);
}

TEST_CASE("temporary dynamic children keep no arguments once started",
          "[supervisor][dynamic]") {
  fixture f;
  auto with_token = [](restart type) {
    return worker("w", [](child_context& ctx, const token&) {
             // The child itself does not keep the token either.
             return ctx.spawn([] { return caf::behavior{[](int x) { return x; }}; });
           })
      .restart(type);
  };
  auto check = [&](restart type, bool kept) {
    auto sup = f.start(dynamic_supervisor("d", with_token(type)));
    auto x = std::make_shared<int>(42);
    std::weak_ptr<int> watch = x;
    REQUIRE(start_child(f.sys, sup, caf::make_message(std::move(x))));
    // The request's own copy goes when the supervisor is done with it, which
    // may be just after its answer; a second request comes after that.
    REQUIRE(f.children(sup).size() == 1);
    CHECK(watch.expired() != kept);
    stop_supervisor(f.sys, sup);
    CHECK(watch.expired());
  };
  SECTION("temporary") {
    check(restart::temporary, false);
  }
  SECTION("permanent, which needs them for restarts") {
    check(restart::permanent, true);
  }
}

TEST_CASE("a dynamic supervisor stops all children in parallel",
          "[supervisor][dynamic][shutdown]") {
  fixture f;
  caf::actor probe{f.probe};
  auto sup = f.start(dynamic_supervisor(
    "d", worker("w",
                [probe](child_context& ctx, const std::string& name) {
                  return ctx.spawn(stubborn_worker, name, probe);
                })
           .shutdown(shutdown::timeout(2s))));
  for (auto name : {"a", "b", "c"}) {
    REQUIRE(start_child(f.sys, sup, caf::make_message(std::string{name})));
    f.next_event();
  }
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  // Each child was asked to stop before any was killed; one after another
  // would interleave "ignored_exit" and "stopped".
  auto events = f.next_events(6);
  std::sort(events.begin(), events.begin() + 3);
  std::sort(events.begin() + 3, events.end());
  CHECK(events
        == std::vector<std::string>{"ignored_exit:a", "ignored_exit:b",
                                    "ignored_exit:c", "stopped:a",
                                    "stopped:b", "stopped:c"});
}

TEST_CASE("a dynamic supervisor has at most 512 stops in flight",
          "[supervisor][dynamic][shutdown]") {
  fixture f;
  caf::actor probe{f.probe};
  // Each child ignores its exit and is killed after its timeout, so a stop
  // stays in flight for the whole timeout.
  auto sup = f.start(dynamic_supervisor(
    "d", worker("w",
                [probe](child_context& ctx, const std::string& name) {
                  return ctx.spawn(stubborn_worker, name, probe);
                })
           .shutdown(shutdown::timeout(2s))));
  constexpr int n = 600;
  for (int i = 0; i < n; ++i) {
    REQUIRE(start_child(f.sys, sup, caf::make_message(std::to_string(i))));
    REQUIRE(f.next_event() == "started:" + std::to_string(i));
  }
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  auto events = f.next_events(2 * n);
  // 512 exits went out first; the next went out only once a stop ended.
  size_t ignored = 0;
  size_t stopped = 0;
  size_t stopped_before_513th = 0;
  for (auto& ev : events) {
    if (ev.rfind("ignored_exit:", 0) == 0) {
      if (++ignored == 513)
        stopped_before_513th = stopped;
    } else if (ev.rfind("stopped:", 0) == 0) {
      ++stopped;
    }
  }
  CHECK(ignored == n);
  CHECK(stopped == n);
  CHECK(std::count_if(events.begin(), events.begin() + 512, [](auto& ev) {
          return ev.rfind("ignored_exit:", 0) == 0;
        })
        == 512);
  CHECK(stopped_before_513th > 0);
}

TEST_CASE("dynamic children obey the restart intensity",
          "[supervisor][dynamic][intensity]") {
  fixture f;
  auto sup = f.start(
    dynamic_supervisor("sessions", session_template(caf::actor{f.probe}))
      .intensity(1)
      .period(1h));
  auto a = start_child(f.sys, sup, caf::make_message(std::string{"a"}));
  REQUIRE(a);
  f.next_event();
  f.probe->send(*a, crash_atom::value);
  f.next_events(2);
  auto again = f.await_replaced(sup, "session#1", *a);
  f.probe->send(again, crash_atom::value);
  CHECK_THAT(f.exit_reason_of(sup),
             Catch::StartsWith(
               "trellis::errc::reached_max_restart_intensity: sessions, "
               "session#1"));
}

TEST_CASE("a dynamic supervisor handles 20,000 children",
          "[supervisor][dynamic][scale]") {
  fixture f;
  auto alive = std::make_shared<std::atomic<int>>(0);
  auto sup = f.start(dynamic_supervisor("pool", worker("w", counted, alive))
                       .intensity(100));
  constexpr int n = 20'000;
  // Requests from inside an actor, all sent before any is answered: the
  // supervisor queues them without rescanning its mailbox.
  std::vector<caf::actor> kids;
  kids.reserve(n);
  using handle = decltype(f.probe->request(sup, patience,
                                           start_child_atom::value,
                                           caf::message{}));
  std::vector<handle> pending;
  pending.reserve(n);
  for (int i = 0; i < n; ++i)
    pending.emplace_back(
      f.probe->request(sup, patience, start_child_atom::value, caf::message{}));
  for (auto& x : pending)
    x.receive([&](caf::actor& hdl) { kids.push_back(std::move(hdl)); },
              [](caf::error& err) { FAIL(to_string(err)); });
  REQUIRE(kids.size() == static_cast<size_t>(n));
  CHECK(alive->load() == n);
  auto counts = count_children(f.sys, sup);
  REQUIRE(counts);
  CHECK(counts->active == static_cast<uint64_t>(n));
  // Exits are found by address: crash some, terminate some.
  std::set<caf::actor> killed;
  for (int i = 0; i < 50; ++i) {
    killed.insert(kids[i * 7]);
    f.probe->send_exit(kids[i * 7], caf::exit_reason::kill);
  }
  // Each killed child comes back once, as a new actor, and no other child
  // was touched.
  size_t restarted = 0;
  size_t stale = 0;
  for (auto deadline = std::chrono::steady_clock::now() + patience;;) {
    restarted = 0;
    stale = 0;
    for (auto& x : f.children(sup)) {
      if (x.restart_count > 0 && x.state == child_state::running)
        ++restarted;
      if (killed.count(x.actor) > 0)
        ++stale;
    }
    if ((restarted == killed.size() && stale == 0)
        || std::chrono::steady_clock::now() > deadline)
      break;
    std::this_thread::sleep_for(10ms);
  }
  INFO("waited for 50 restarts of the killed children");
  CHECK(restarted == killed.size());
  CHECK(stale == 0);
  CHECK(alive->load() == n);
  for (int i = 0; i < 1000; ++i)
    REQUIRE_FALSE(terminate_child(f.sys, sup, kids[n - 1 - i]));
  counts = count_children(f.sys, sup);
  REQUIRE(counts);
  CHECK(counts->specs == 1);
  CHECK(counts->active == static_cast<uint64_t>(n - 1000));
  CHECK(counts->workers == static_cast<uint64_t>(n - 1000));
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  CHECK(alive->load() == 0);
}

TEST_CASE("terminate_child by the actor a dynamic child restarts from "
          "removes the child and ends its retries, as in OTP",
          "[supervisor][dynamic]") {
  clock_fixture f;
  auto starts = std::make_shared<int>(0);
  // Starts once; every restart fails. The backoff holds each retry until
  // the test clock moves.
  auto once = worker("w", [starts](child_context& ctx) -> start_result {
                if ((*starts)++ > 0)
                  return make_error(errc::start_failed, "w", "refused");
                return ctx.spawn([](caf::event_based_actor*) -> caf::behavior {
                  return {[](int x) { return x; }};
                });
              }).backoff(restart_backoff{1s, 1s, 0.0});
  auto sup = spawn_supervisor(
    f.sys, dynamic_supervisor("d", once).intensity(100).period(1h));
  REQUIRE(sup);
  f.sched.run();
  f.self->send(*sup, start_child_atom::value, caf::message{});
  f.sched.run();
  caf::actor first;
  receive_or_fail(f.self, "start_child's actor",
                  [&](caf::actor& x) { first = std::move(x); });
  REQUIRE(first);
  caf::anon_send_exit(first, caf::exit_reason::kill);
  f.sched.run();
  SECTION("while its restart waits") {
    CHECK(f.child(*sup).state == child_state::restarting);
  }
  SECTION("after its restart failed") {
    f.advance(1s);
    CHECK(*starts == 2);
    CHECK(f.child(*sup).state == child_state::restarting);
  }
  auto tried = *starts;
  f.self->send(*sup, terminate_child_atom::value, first);
  f.sched.run();
  receive_or_fail(f.self, "terminate_child's ok", [](caf::ok_atom) {});
  CHECK(f.children(*sup).empty());
  f.advance(5s);
  CHECK(*starts == tried);
  CHECK(f.children(*sup).empty());
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}
