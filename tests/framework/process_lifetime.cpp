// A tree never takes its process down, whatever its program forgets: each
// case runs as a whole program in a child process (its actor system built
// there), several times, and must end cleanly within a generous limit.

#include "child_process.hpp"
#include "test_support.hpp"

#include <atomic>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

constexpr int runs = 5;

// A worker that writes "stopped:<id>" to the test's pipe when it exits.
caf::behavior reporting_worker(caf::event_based_actor* self, std::string id,
                               int out) {
  self->attach_functor([id, out] { write_line(out, "stopped:" + id); });
  return {[](int x) { return x; }};
}

supervisor_spec reporting_tree(int out) {
  return supervisor("root")
    .child(worker("a", reporting_worker, std::string{"a"}, out))
    .child(supervisor("sub")
             .strategy(strategy::rest_for_one)
             .child(worker("b", reporting_worker, std::string{"b"}, out))
             .child(worker("c", reporting_worker, std::string{"c"}, out)))
    .child(worker("d", reporting_worker, std::string{"d"}, out));
}

// Every child stopped, in reverse start order, the subtree's own in its
// reverse order: d, then c and b, then a.
void require_stopped_in_order(const process_end& end) {
  INFO("the program " << end.describe() << "; it wrote:\n" << end.output);
  REQUIRE(end.code == 0);
  CHECK(end.output == "stopped:d\nstopped:c\nstopped:b\nstopped:a\n");
}

} // namespace

TEST_CASE("a program that returns from main with a tree running ends "
          "cleanly, the tree stopped in order",
          "[lifetime]") {
  for (int i = 0; i < runs; ++i) {
    auto end = run_as_process([](int out) {
      test_config cfg;
      caf::actor_system sys{cfg};
      auto root = start_supervisor(sys, reporting_tree(out));
      return root ? 0 : 10;
    });
    require_stopped_in_order(end);
  }
}

TEST_CASE("dropping the only handle to a running root leaves its tree "
          "running until the system goes",
          "[lifetime]") {
  for (int i = 0; i < runs; ++i) {
    auto end = run_as_process([](int out) {
      test_config cfg;
      caf::actor_system sys{cfg};
      caf::actor a;
      {
        auto root = start_supervisor(sys, reporting_tree(out));
        if (!root)
          return 10;
        auto children = which_children(sys, *root);
        if (!children || children->empty())
          return 11;
        a = children->front().actor;
      }
      // CAF would destroy an unreferenced actor at once; the tree still
      // serves.
      caf::scoped_actor self{sys};
      int answer = 0;
      self->request(a, 10s, 42).receive([&](int x) { answer = x; },
                                        [](caf::error&) {});
      write_line(out, "answer:" + std::to_string(answer));
      return 0;
    });
    INFO("the program " << end.describe() << "; it wrote:\n" << end.output);
    REQUIRE(end.code == 0);
    CHECK(end.output
          == "answer:42\nstopped:d\nstopped:c\nstopped:b\nstopped:a\n");
  }
}

TEST_CASE("a tree whose child ignores the shutdown signal is still stopped "
          "when the system goes",
          "[lifetime]") {
  auto end = run_as_process([](int out) {
    test_config cfg;
    caf::actor_system sys{cfg};
    auto stubborn = [out](caf::event_based_actor* self) -> caf::behavior {
      self->set_exit_handler([](caf::exit_msg&) {});
      self->attach_functor([out] { write_line(out, "stopped:stubborn"); });
      return {[](int x) { return x; }};
    };
    auto root = start_supervisor(
      sys, supervisor("root").child(
             worker("stubborn", stubborn).shutdown(shutdown::timeout(100ms))));
    return root ? 0 : 10;
  });
  INFO("the program " << end.describe() << "; it wrote:\n" << end.output);
  REQUIRE(end.code == 0);
  CHECK(end.output == "stopped:stubborn\n");
}

TEST_CASE("a child stuck in its handler when the system goes ends the "
          "process after the shutdown time instead of hanging it",
          "[lifetime]") {
  auto end = run_as_process([](int out) {
    test_config cfg;
    cfg.set("trellis.shutdown-time", caf::timespan{1s});
    caf::actor_system sys{cfg};
    auto spinning = std::make_shared<std::atomic<bool>>(true);
    auto stuck = [spinning](caf::event_based_actor*) -> caf::behavior {
      return {[spinning](int) {
        while (spinning->load())
          std::this_thread::sleep_for(1ms);
      }};
    };
    auto root = start_supervisor(
      sys, supervisor("root").child(worker("stuck", stuck)
                                      .shutdown(shutdown::timeout(100ms))));
    if (!root)
      return 10;
    auto children = which_children(sys, *root);
    if (!children || children->empty())
      return 11;
    caf::anon_send(children->front().actor, 1);
    write_line(out, "stuck");
    return 0;
  });
  INFO("the program " << end.describe() << "; it wrote:\n" << end.output);
  CHECK_FALSE(end.hung);
  // Not 0: the program did not end as it asked, and says why (the report).
  CHECK(end.code == EXIT_FAILURE);
  CHECK(end.output == "stuck\n");
}

TEST_CASE("a root started on a system without trellis::configure is refused "
          "by name",
          "[lifetime]") {
  caf::actor_system_config cfg;
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto res = start_supervisor(
    sys, supervisor("root").child(worker("a", [](caf::event_based_actor*) {
           return caf::behavior{[](int x) { return x; }};
         })));
  REQUIRE_FALSE(res);
  CHECK(is(res.error(), errc::not_configured));
  CHECK(sys.registry().running() == 0);
}

TEST_CASE("a stop signal made after the actor system still stops the tree in "
          "order, and every stop signal hears it",
          "[lifetime]") {
  // The system's threads, started first, have the signals unblocked: their
  // default action ended the process, and only one stop_signal heard one.
  auto end = run_as_process([](int out) {
    test_config cfg;
    caf::actor_system sys{cfg};
    auto root = start_supervisor(sys, reporting_tree(out));
    if (!root)
      return 10;
    stop_signal late;
    stop_signal other;
    kill(getpid(), SIGTERM);
    if (!late.wait_for(30s) || late.signal_number() != SIGTERM)
      return 11;
    if (!other.wait_for(30s))
      return 12;
    return 0;
  });
  require_stopped_in_order(end);
}

TEST_CASE("a stop signal stops the program's tree in order and it exits 0; "
          "a second signal ends it at once",
          "[lifetime]") {
  for (int sig : {SIGTERM, SIGINT}) {
    INFO("signal " << sig);
    auto end = run_as_process([sig](int out) {
      stop_signal stop;
      test_config cfg;
      caf::actor_system sys{cfg};
      auto root = start_supervisor(sys, reporting_tree(out));
      if (!root)
        return 10;
      std::thread{[sig] { kill(getpid(), sig); }}.detach();
      if (!stop.wait_for(30s) || stop.signal_number() != sig)
        return 11;
      return 0;
    });
    require_stopped_in_order(end);
  }
  auto end = run_as_process([](int out) {
    stop_signal stop;
    kill(getpid(), SIGTERM);
    if (!stop.wait_for(30s))
      return 11;
    write_line(out, "first");
    kill(getpid(), SIGTERM);
    std::this_thread::sleep_for(30s);
    return 0;
  });
  INFO("the program " << end.describe() << "; it wrote:\n" << end.output);
  CHECK(end.code == 128 + SIGTERM);
  CHECK(end.output == "first\n");
}
