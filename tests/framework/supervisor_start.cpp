#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

namespace {

caf::behavior throws_in_init(caf::event_based_actor*) {
  throw std::logic_error("bad config");
}

} // namespace

TEST_CASE("a failed start undoes the started children and names the child",
          "[supervisor][start]") {
  fixture f;
  log_capture logs;
  auto check_failure = [&](child_spec bad, const std::string& expected) {
    auto res = start_supervisor(f.sys, supervisor("root")
                                         .child(f.probed("a"))
                                         .child(std::move(bad))
                                         .child(f.probed("c")));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::failed_to_start_child));
    CHECK_THAT(f.render(res.error()),
               Catch::StartsWith("trellis::errc::failed_to_start_child: b, ")
                 && Catch::Contains(expected));
    // a started and was stopped again; c never started.
    CHECK(f.next_events(2)
          == std::vector<std::string>{"started:a", "stopped:a"});
    CHECK(logs.reports("start_error supervisor=root child=b").size() == 1);
  };
  SECTION("a factory that throws") {
    check_failure(worker("b",
                         [](child_context&) -> start_result {
                           throw std::runtime_error("no database");
                         }),
                  "std::runtime_error, no database");
  }
  SECTION("a factory that returns an error") {
    check_failure(worker("b",
                         [](child_context&) -> start_result {
                           return make_error(errc::start_failed, "port in use");
                         }),
                  "port in use");
  }
  SECTION("a factory that returns an invalid handle") {
    check_failure(worker("b",
                         [](child_context&) -> start_result {
                           return caf::actor{};
                         }),
                  "invalid actor handle");
  }
  SECTION("an actor that throws while it initializes") {
    check_failure(worker("b", throws_in_init), "std::logic_error, bad config");
  }
  SECTION("a nested supervisor whose child fails") {
    check_failure(supervisor("b").child(worker("x", throws_in_init)).as_child(),
                  "failed_to_start_child: x");
  }
}

TEST_CASE("a supervisor whose first factory fails at once names the child",
          "[supervisor][start]") {
  fixture f;
  // The supervisor fails inside its own initialization, before it reads the
  // request that asks whether it started.
  auto res = start_supervisor(
    f.sys, supervisor("root").child(worker("a", [](child_context&) -> start_result {
      return make_error(errc::start_failed, "no config");
    })));
  REQUIRE_FALSE(res);
  CHECK(is(res.error(), errc::failed_to_start_child));
  CHECK_THAT(f.render(res.error()), Catch::Contains("a, ")
                                      && Catch::Contains("no config"));
}

TEST_CASE("children start in order, each running before the next starts",
          "[supervisor][start]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .child(f.probed("a"))
                       .child(supervisor("sub").child(f.probed("x"))
                                                .child(f.probed("y")))
                       .child(f.probed("b")));
  CHECK(f.next_events(4)
        == std::vector<std::string>{"started:a", "started:x", "started:y",
                                    "started:b"});
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a factory may answer ignore", "[supervisor][start]") {
  fixture f;
  auto ignoring = [](const std::string& id) {
    return worker(id, [](child_context&) -> start_result { return ignore; });
  };
  auto sup = f.start(supervisor("root")
                       .child(ignoring("kept"))
                       .child(ignoring("dropped").restart(restart::temporary))
                       .child(f.probed("a")));
  f.next_event();
  auto kids = f.children(sup);
  REQUIRE(kids.size() == 2);
  CHECK(kids[0].id == "kept");
  CHECK(kids[0].state == child_state::stopped);
  CHECK(!kids[0].actor);
  CHECK(kids[1].id == "a");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a restart whose start fails counts and is retried",
          "[supervisor][start]") {
  fixture f;
  log_capture logs;
  auto starts = std::make_shared<std::atomic<int>>(0);
  caf::actor probe{f.probe};
  auto limit = std::make_shared<std::atomic<int>>(3);
  auto flaky = worker("a", [=](child_context& ctx) -> start_result {
    auto n = ++*starts;
    if (n > 1 && n <= *limit)
      return make_error(errc::start_failed, "attempt " + std::to_string(n));
    return ctx.spawn(probed_worker, std::string{"a"}, probe);
  });
  SECTION("until it succeeds within the budget") {
    auto sup = f.start(supervisor("root").intensity(5).child(flaky));
    f.next_event();
    f.crash(sup, "a");
    CHECK(f.next_events(2) == std::vector<std::string>{"stopped:a", "started:a"});
    auto a = f.child(sup, "a");
    CHECK(a.state == child_state::running);
    CHECK(a.restart_count == 3);
    CHECK(logs.reports("start_error supervisor=root child=a").size() == 2);
    stop_supervisor(f.sys, sup);
  }
  SECTION("until the intensity is exceeded") {
    *limit = 1000;
    auto sup = f.start(supervisor("root").intensity(4).child(flaky));
    f.next_event();
    f.crash(sup, "a");
    CHECK(f.next_event() == "stopped:a");
    CHECK(is(await_exit(f.sys, sup), errc::reached_max_restart_intensity));
    CHECK(logs.reports("start_error supervisor=root child=a").size() == 4);
  }
}

TEST_CASE("a tree can be started from inside an actor", "[supervisor][start]") {
  fixture f;
  auto spec = supervisor("root").child(f.probed("a"));
  auto starter = f.sys.spawn([spec](caf::event_based_actor* self) {
    auto sup = spawn_supervisor(self, spec);
    self->request(*sup, caf::infinite, caf::get_atom::value,
                  started_atom::value)
      .then([self, sup = *sup](caf::ok_atom) {
        self->send_exit(sup, caf::exit_reason::user_shutdown);
      });
  });
  CHECK(f.next_events(2) == std::vector<std::string>{"started:a", "stopped:a"});
  f.probe->wait_for(starter);
}

TEST_CASE("an actor not spawned through ctx.spawn starts after its "
          "initialization, and is supervised",
          "[supervisor][start]") {
  fixture f;
  caf::actor probe{f.probe};
  // Spawned by the actor system directly: its supervisor asks it (a system
  // message CAF answers once its initialization ran) instead of being told.
  auto plain = worker("p", [probe](child_context& ctx) -> start_result {
    return ctx.system().spawn(probed_worker, std::string{"p"}, probe);
  });
  auto sup = f.start(supervisor("root")
                       .intensity(5)
                       .child(plain)
                       .child(f.probed("after")));
  // Started in order: p's initialization ran before the next child started.
  CHECK(f.next_events(2)
        == std::vector<std::string>{"started:p", "started:after"});
  auto p = f.actor_of(sup, "p");
  REQUIRE(p);
  CHECK(f.child(sup, "p").state == child_state::running);
  // It is watched like any child: a kill restarts it.
  f.probe->send_exit(p, caf::exit_reason::kill);
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:p", "started:p"});
  auto fresh = f.await_replaced(sup, "p", p);
  CHECK(fresh);
  CHECK(f.child(sup, "p").restart_count == 1);
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  CHECK(f.next_events(2)
        == std::vector<std::string>{"stopped:after", "stopped:p"});
}

TEST_CASE("a child spawned through ctx.spawn has initialized when its "
          "factory returns, and handles what it sent itself meanwhile",
          "[supervisor][start]") {
  fixture f;
  auto inits = std::make_shared<std::atomic<int>>(0);
  auto seen_by_factory = std::make_shared<std::atomic<int>>(-1);
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto w = worker("w", [=](child_context& ctx) -> start_result {
    auto x = ctx.spawn([=](caf::event_based_actor* self) -> caf::behavior {
      ++*inits;
      // Sent while it initializes: it is scheduled for it afterwards.
      self->send(self, 1);
      return {[=](int) { ++*handled; }};
    });
    *seen_by_factory = inits->load();
    return x;
  });
  auto sup = f.start(supervisor("root").child(w));
  // As OTP's start_link returns after init: on the supervisor's thread.
  CHECK(*seen_by_factory == 1);
  eventually("w to handle what it sent itself", [&] { return *handled == 1; });
  CHECK(f.child(sup, "w").state == child_state::running);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a child its factory spawns detached, in a spec that is not, "
          "initializes on its own thread and is supervised",
          "[supervisor][start]") {
  fixture f;
  caf::actor probe{f.probe};
  auto threads = std::make_shared<std::vector<std::thread::id>>();
  auto mtx = std::make_shared<std::mutex>();
  auto note_thread = [threads, mtx] {
    std::lock_guard<std::mutex> guard{*mtx};
    threads->push_back(std::this_thread::get_id());
  };
  auto w = worker("w", [=](child_context& ctx) -> start_result {
    note_thread();
    return ctx.spawn<caf::detached>(
      [=](caf::event_based_actor* self) -> caf::behavior {
        note_thread();
        return probed_worker(self, "w", probe);
      });
  });
  auto sup = f.start(supervisor("root").intensity(5).child(w));
  CHECK(f.next_event() == "started:w");
  {
    std::lock_guard<std::mutex> guard{*mtx};
    REQUIRE(threads->size() == 2);
    CHECK((*threads)[0] != (*threads)[1]);
  }
  auto before = f.actor_of(sup, "w");
  f.probe->send_exit(before, caf::exit_reason::kill);
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:w", "started:w"});
  CHECK(f.await_replaced(sup, "w", before));
  CHECK(f.child(sup, "w").state == child_state::running);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a group of 50,000 children that initialize at once starts and "
          "restarts in a loop, not a recursion as deep",
          "[supervisor][start]") {
  fixture f;
  auto spec = supervisor("root").strategy(strategy::one_for_all).intensity(1);
  constexpr int n = 50'000;
  for (int i = 0; i < n; ++i)
    spec.child(worker("w" + std::to_string(i), [](caf::event_based_actor*)
                                                  -> caf::behavior {
      return {[](int x) { return x; }};
    }));
  auto sup = f.start(std::move(spec));
  auto first = f.actor_of(sup, "w0");
  REQUIRE(first);
  f.probe->send_exit(f.actor_of(sup, "w" + std::to_string(n - 1)),
                     caf::exit_reason::kill);
  f.await_replaced(sup, "w0", first);
  eventually("every child to run again", [&] {
    auto xs = f.children(sup);
    return xs.size() == n
           && std::all_of(xs.begin(), xs.end(), [](const child_info& x) {
                return x.state == child_state::running && x.restart_count == 1;
              });
  });
  stop_supervisor(f.sys, sup);
}
