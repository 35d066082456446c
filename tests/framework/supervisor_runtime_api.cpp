#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// A factory that fails every start after the first `ok` ones, slowly, so
/// that the retries stay well within a large budget.
child_spec failing_after(caf::actor probe, std::string id,
                         std::shared_ptr<std::atomic<int>> ok) {
  return worker(id, [probe, id, ok](child_context& ctx) -> start_result {
    if (ok->fetch_sub(1) <= 0) {
      std::this_thread::sleep_for(1ms);
      return make_error(errc::start_failed, "no database");
    }
    return ctx.spawn(probed_worker, id, probe);
  });
}

} // namespace

TEST_CASE("start_child adds a child at the end and starts it",
          "[supervisor][runtime_api]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(f.probed("a")));
  CHECK(f.next_event() == "started:a");
  auto b = start_child(f.sys, sup, f.probed("b"));
  REQUIRE(b);
  REQUIRE(*b);
  CHECK(f.next_event() == "started:b");
  auto kids = f.children(sup);
  REQUIRE(kids.size() == 2);
  CHECK(kids[1].id == "b");
  CHECK(kids[1].actor == *b);
  SECTION("an id that runs is already started") {
    auto res = start_child(f.sys, sup, f.probed("b"));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::already_started));
    CHECK_THAT(f.render(res.error()), Catch::Contains("root, b, actor "));
  }
  SECTION("an id that is stopped is already present") {
    REQUIRE_FALSE(terminate_child(f.sys, sup, "b"));
    auto res = start_child(f.sys, sup, f.probed("b"));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::already_present));
  }
  SECTION("an invalid spec is refused and nothing changes") {
    auto res = start_child(f.sys, sup, worker("", probed_worker,
                                              std::string{"x"},
                                              caf::actor{f.probe}));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::invalid_spec));
    CHECK(f.children(sup).size() == 2);
  }
  SECTION("a significant child needs an auto_shutdown") {
    auto res = start_child(f.sys, sup, f.probed("s")
                                         .restart(restart::transient)
                                         .significant(true));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::invalid_spec));
    CHECK_THAT(f.render(res.error()), Catch::Contains("significant"));
  }
  SECTION("a failed start drops the spec and returns the start error") {
    auto res = start_child(f.sys, sup, worker("bad", [](child_context&)
                                                  -> start_result {
                                             throw std::runtime_error("nope");
                                           }));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::unhandled_exception));
    CHECK_THAT(f.render(res.error()), Catch::Contains("nope"));
    CHECK(f.children(sup).size() == 2);
    CHECK(is(get_childspec(f.sys, sup, "bad").error(), errc::not_found));
  }
  SECTION("ignore keeps a stopped child, unless it is temporary") {
    auto ignoring = [](child_context&) -> start_result { return ignore; };
    auto res = start_child(f.sys, sup, worker("lazy", ignoring));
    REQUIRE(res);
    CHECK_FALSE(*res);
    CHECK(f.child(sup, "lazy").state == child_state::stopped);
    res = start_child(f.sys, sup,
                      worker("once", ignoring).restart(restart::temporary));
    REQUIRE(res);
    CHECK_FALSE(*res);
    CHECK(f.children(sup).size() == 3);
  }
  SECTION("a dynamic child's arguments are refused") {
    auto res = start_child(f.sys, sup, caf::make_message(42));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::not_supported));
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("terminate_child stops a child that stays listed until deleted",
          "[supervisor][runtime_api]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .child(f.probed("a"))
                       .child(f.probed("b"))
                       .child(f.probed("t").restart(restart::temporary)));
  f.next_events(3);
  auto b = f.actor_of(sup, "b");
  REQUIRE_FALSE(terminate_child(f.sys, sup, "b"));
  CHECK(f.next_event() == "stopped:b");
  auto info = f.child(sup, "b");
  CHECK(info.state == child_state::stopped);
  CHECK_FALSE(info.actor);
  CHECK(info.restart_count == 0);
  auto counts = count_children(f.sys, sup);
  REQUIRE(counts);
  CHECK(counts->specs == 3);
  CHECK(counts->active == 2);
  SECTION("terminating it again succeeds and does nothing") {
    CHECK_FALSE(terminate_child(f.sys, sup, "b"));
    CHECK(f.child(sup, "b").state == child_state::stopped);
  }
  SECTION("a stopped child is not restarted by a sibling's restart") {
    auto a = f.actor_of(sup, "a");
    f.crash(sup, "a");
    f.await_replaced(sup, "a", a);
    CHECK(f.child(sup, "b").state == child_state::stopped);
  }
  SECTION("restart_child starts it again, without charging the budget") {
    auto res = restart_child(f.sys, sup, "b");
    REQUIRE(res);
    REQUIRE(*res);
    CHECK(*res != b);
    CHECK(f.next_event() == "started:b");
    CHECK(f.child(sup, "b").state == child_state::running);
    CHECK(f.child(sup, "b").restart_count == 0);
    // A running child can be neither restarted nor deleted.
    CHECK(is(restart_child(f.sys, sup, "b").error(), errc::running));
    CHECK(is(delete_child(f.sys, sup, "b"), errc::running));
  }
  SECTION("delete_child removes it; its id is free again") {
    REQUIRE_FALSE(delete_child(f.sys, sup, "b"));
    CHECK(is(delete_child(f.sys, sup, "b"), errc::not_found));
    CHECK(is(restart_child(f.sys, sup, "b").error(), errc::not_found));
    CHECK(f.children(sup).size() == 2);
    REQUIRE(start_child(f.sys, sup, f.probed("b")));
    CHECK(f.next_event() == "started:b");
  }
  SECTION("a temporary child is removed when terminated") {
    REQUIRE_FALSE(terminate_child(f.sys, sup, "t"));
    CHECK(f.next_event() == "stopped:t");
    CHECK(is(get_childspec(f.sys, sup, "t").error(), errc::not_found));
  }
  SECTION("a child can be terminated by its actor") {
    auto a = f.actor_of(sup, "a");
    REQUIRE_FALSE(terminate_child(f.sys, sup, a));
    CHECK(f.next_event() == "stopped:a");
    CHECK(f.child(sup, "a").state == child_state::stopped);
    CHECK(is(terminate_child(f.sys, sup, a), errc::not_found));
  }
  SECTION("an unknown id is not found") {
    CHECK(is(terminate_child(f.sys, sup, "nope"), errc::not_found));
    CHECK(is(restart_child(f.sys, sup, "nope").error(), errc::not_found));
    CHECK(is(delete_child(f.sys, sup, "nope"), errc::not_found));
    CHECK(is(get_childspec(f.sys, sup, "nope").error(), errc::not_found));
    CHECK_THAT(f.render(terminate_child(f.sys, sup, "nope")),
               Catch::Equals("trellis::errc::not_found: root, nope"));
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a group restart that fails keeps the children started before "
          "the failed one and retries from it, as in OTP",
          "[supervisor][runtime_api][one_for_all]") {
  fixture f;
  auto starts = std::make_shared<std::atomic<int>>(1);
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::one_for_all)
                       .intensity(1'000'000)
                       .period(1h)
                       .child(f.probed("a"))
                       .child(failing_after(caf::actor{f.probe}, "b", starts)));
  f.next_events(2);
  auto a = f.actor_of(sup, "a");
  f.crash(sup, "a");
  f.await_replaced(sup, "a", a);
  // b's start fails on every retry: b waits for the retry, restarting;
  // between retries a runs (each retry restarts the whole group).
  std::this_thread::sleep_for(20ms);
  CHECK(f.child(sup, "b").state == child_state::restarting);
  CHECK(f.child(sup, "a").state == child_state::running);
  // Terminating b ends the retries; a keeps running.
  REQUIRE_FALSE(terminate_child(f.sys, sup, "b"));
  CHECK(f.child(sup, "b").state == child_state::stopped);
  auto now = f.child(sup, "a");
  CHECK(now.state == child_state::running);
  auto calls = starts->load();
  std::this_thread::sleep_for(50ms);
  CHECK(starts->load() == calls);
  CHECK(f.actor_of(sup, "a") == now.actor);
  REQUIRE_FALSE(delete_child(f.sys, sup, "b"));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("get_childspec returns the spec the supervisor runs",
          "[supervisor][runtime_api]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(
    f.probed("a").restart(restart::transient).shutdown(shutdown::brutal_kill())));
  f.next_event();
  auto spec = get_childspec(f.sys, sup, "a");
  REQUIRE(spec);
  CHECK(spec->id() == "a");
  CHECK(spec->restart() == restart::transient);
  CHECK(spec->shutdown().kind() == shutdown_kind::brutal_kill);
  // The spec works: it starts the same child elsewhere.
  REQUIRE_FALSE(terminate_child(f.sys, sup, "a"));
  REQUIRE_FALSE(delete_child(f.sys, sup, "a"));
  f.next_event();
  REQUIRE(start_child(f.sys, sup, *spec));
  CHECK(f.next_event() == "started:a");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("check_childspecs validates specs without a supervisor",
          "[supervisor][runtime_api]") {
  auto noop = [](child_context&) -> start_result { return ignore; };
  CHECK_FALSE(check_childspecs({worker("a", noop), worker("b", noop)}));
  CHECK_FALSE(check_childspecs({}));
  CHECK(is(check_childspecs({worker("a", noop), worker("a", noop)}),
           errc::invalid_spec));
  CHECK(is(check_childspecs({worker("a", noop), child_spec{"b", nullptr}}),
           errc::invalid_spec));
  CHECK(is(check_childspecs({worker("a", noop).significant(true)}),
           errc::invalid_spec));
  // Without a supervisor's flags, a transient significant child is fine.
  CHECK_FALSE(check_childspecs(
    {worker("a", noop).restart(restart::transient).significant(true)}));
}

TEST_CASE("a restarting child is neither active, deletable nor restartable",
          "[supervisor][runtime_api]") {
  fixture f;
  auto starts = std::make_shared<std::atomic<int>>(1);
  auto sup = f.start(supervisor("root")
                       .intensity(1'000'000)
                       .period(1h)
                       .child(f.probed("a"))
                       .child(failing_after(caf::actor{f.probe}, "db", starts)));
  f.next_events(2);
  auto db = f.actor_of(sup, "db");
  f.crash(sup, "db");
  // Its restarts keep failing, so it stays restarting with retries queued.
  f.await_replaced(sup, "db", db);
  auto info = f.child(sup, "db");
  CHECK(info.state == child_state::restarting);
  CHECK_FALSE(info.actor);
  auto counts = count_children(f.sys, sup);
  REQUIRE(counts);
  CHECK(counts->specs == 2);
  CHECK(counts->active == 1);
  CHECK(is(delete_child(f.sys, sup, "db"), errc::restarting));
  CHECK(is(restart_child(f.sys, sup, "db").error(), errc::restarting));
  SECTION("terminate_child still works and ends the retries") {
    REQUIRE_FALSE(terminate_child(f.sys, sup, "db"));
    CHECK(f.child(sup, "db").state == child_state::stopped);
    // No retry runs the factory any more.
    auto calls = starts->load();
    std::this_thread::sleep_for(50ms);
    CHECK(starts->load() == calls);
    REQUIRE_FALSE(delete_child(f.sys, sup, "db"));
    CHECK(f.children(sup).size() == 1);
    CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  }
  SECTION("shutdown still works") {
    CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  }
}

TEST_CASE("requests waiting for a supervisor that stops get an answer",
          "[supervisor][runtime_api]") {
  fixture f;
  caf::actor probe{f.probe};
  auto release = std::make_shared<std::atomic<bool>>(false);
  // A child whose start takes until the test releases it keeps the
  // supervisor busy in start_child, so the requests after it wait. Spawned
  // outside the context, it initializes on a scheduler thread, not on the
  // supervisor's.
  auto slow = worker("slow", [release](child_context& ctx) -> start_result {
    return ctx.system().spawn([release](caf::event_based_actor*)
                                -> caf::behavior {
      while (!release->load())
        std::this_thread::sleep_for(1ms);
      return {[](int x) { return x; }};
    });
  });
  auto sup = f.start(supervisor("root").child(f.probed("a")));
  f.next_event();
  auto busy = f.probe->request(sup, patience, start_child_atom::value, slow);
  std::vector<decltype(busy)> waiting;
  waiting.push_back(f.probe->request(sup, patience, which_children_atom::value));
  waiting.push_back(
    f.probe->request(sup, patience, terminate_child_atom::value, std::string{"a"}));
  waiting.push_back(f.probe->request(sup, patience, start_child_atom::value,
                                     f.probed("b")));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  auto expect_shutting_down = [&](decltype(busy)& x) {
    caf::error err;
    x.receive([](caf::message&) {}, [&](caf::error& e) { err = std::move(e); });
    CHECK(is(err, errc::shutting_down));
  };
  for (auto& x : waiting)
    expect_shutting_down(x);
  release->store(true);
  expect_shutting_down(busy);
  CHECK(await_exit(f.sys, sup) == caf::exit_reason::user_shutdown);
  // Once it is gone, requests bounce.
  CHECK(terminate_child(f.sys, sup, "a") == caf::sec::request_receiver_down);
}

TEST_CASE("thousands of requests that end at once are handled one by one",
          "[supervisor][runtime_api]") {
  fixture f;
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto sup = f.start(dynamic_supervisor(
    "d", worker("w", [release](child_context& ctx, int) -> start_result {
      return ctx.spawn([release](caf::event_based_actor*) -> caf::behavior {
        while (!release->load())
          std::this_thread::sleep_for(1ms);
        return {[](int x) { return x; }};
      });
    })));
  auto busy = f.probe->request(sup, patience, start_child_atom::value,
                               caf::make_message(1));
  // Each of these fails at once (wrong argument type) when its turn comes.
  constexpr int n = 20'000;
  std::vector<decltype(busy)> waiting;
  for (int i = 0; i < n; ++i)
    waiting.push_back(f.probe->request(sup, patience, start_child_atom::value,
                                       caf::make_message("x")));
  release->store(true);
  busy.receive([](caf::actor&) {}, [](caf::error& err) { FAIL(to_string(err)); });
  int failed = 0;
  for (auto& x : waiting)
    x.receive([](caf::message&) {},
              [&](caf::error& err) { failed += is(err, errc::start_failed); });
  CHECK(failed == n);
  CHECK(f.children(sup).size() == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("which_child answers one child's entry of which_children",
          "[supervisor][runtime_api]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(f.probed("a"))
                       .child(f.probed("b")));
  f.next_events(2);
  auto kids = f.children(sup);
  REQUIRE(kids.size() == 2);
  auto b = which_child(f.sys, sup, "b");
  REQUIRE(b);
  CHECK(b->id == "b");
  CHECK(b->actor == kids[1].actor);
  CHECK(b->state == child_state::running);
  CHECK(is(which_child(f.sys, sup, "nope").error(), errc::not_found));
  SECTION("a stopped child is listed, stopped") {
    REQUIRE_FALSE(terminate_child(f.sys, sup, "a"));
    f.next_event();
    auto a = which_child(f.sys, sup, "a");
    REQUIRE(a);
    CHECK(a->state == child_state::stopped);
    CHECK_FALSE(a->actor);
  }
  SECTION("as a request") {
    f.probe->request(sup, patience, which_child_atom::value, std::string{"a"})
      .receive([&](child_info& x) { CHECK(x.actor == kids[0].actor); },
               [](caf::error& err) { FAIL(to_string(err)); });
  }
  SECTION("a dynamic supervisor's children by their ids") {
    auto d = f.start(dynamic_supervisor("d", f.probed("session")));
    auto s = start_child(f.sys, d, caf::message{});
    REQUIRE(s);
    f.next_event();
    auto x = which_child(f.sys, d, "session#1");
    REQUIRE(x);
    CHECK(x->actor == *s);
    stop_supervisor(f.sys, d);
  }
  stop_supervisor(f.sys, sup);
}
