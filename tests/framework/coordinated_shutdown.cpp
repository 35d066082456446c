// A service's shutdown in phases: tasks in order, deadlines that end a
// phase whatever its tasks do, Trellis' own part of each phase, and the
// signals that start it.

#include "child_process.hpp"
#include "test_support.hpp"

#include <csignal>
#include <future>
#include <mutex>

#include <unistd.h>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// Lines from tasks and workers, in the order they happened.
struct journal_lines {
  std::mutex mtx;
  std::vector<std::string> lines;

  void add(std::string x) {
    std::lock_guard<std::mutex> lock{mtx};
    lines.push_back(std::move(x));
  }

  std::vector<std::string> all() {
    std::lock_guard<std::mutex> lock{mtx};
    return lines;
  }
};

caf::behavior noting_worker(caf::event_based_actor* self, std::string id,
                            std::shared_ptr<journal_lines> out) {
  self->attach_functor([id, out] { out->add("stopped:" + id); });
  return {[](int x) { return x; }};
}

child_spec noting(const std::string& id, std::shared_ptr<journal_lines> out) {
  return worker(id, noting_worker, id, std::move(out));
}

/// A task that notes its phase as the shutdown and the system see it.
template <class Shutdown>
auto note_phase(Shutdown& sd, caf::actor_system& sys,
                std::shared_ptr<journal_lines> out, std::string name) {
  return [&sd, &sys, out, name] {
    out->add(name + ":" + to_string(sd.phase()) + "/"
             + to_string(current_shutdown_phase(sys)));
  };
}

/// An actor system running `root` with noting workers `ids`, which note
/// their stop in `out`.
struct noted_tree {
  test_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<journal_lines> out = std::make_shared<journal_lines>();
  caf::actor root;

  explicit noted_tree(std::initializer_list<const char*> ids) {
    auto spec = supervisor("root");
    for (auto id : ids)
      spec.child(noting(id, out));
    auto res = start_supervisor(sys, spec);
    REQUIRE(res);
    root = *res;
  }
};

} // namespace

TEST_CASE("a coordinated shutdown runs its phases in order and stops the "
          "tree between drain and flush",
          "[coordinated_shutdown]") {
  noted_tree t{"a", "b"};
  auto& [cfg, sys, out, root] = t;
  coordinated_shutdown sd{sys, root};
  CHECK(sd.phase() == shutdown_phase::running);
  CHECK(current_shutdown_phase(sys) == shutdown_phase::running);
  // Added out of order: each runs in its own phase.
  REQUIRE(!sd.add_task(shutdown_phase::flush, "flush",
                       note_phase(sd, sys, out, "flush")));
  REQUIRE(!sd.add_task(shutdown_phase::not_ready, "not_ready",
                       note_phase(sd, sys, out, "not_ready")));
  REQUIRE(!sd.add_task(shutdown_phase::drain, "drain",
                       note_phase(sd, sys, out, "drain")));
  REQUIRE(!sd.add_task(shutdown_phase::stop_intake, "intake",
                       note_phase(sd, sys, out, "intake")));
  REQUIRE(!sd.add_task(shutdown_phase::stop_tree, "stop_tree",
                       note_phase(sd, sys, out, "stop_tree")));
  auto err = sd.run("test");
  INFO(sys.render(err));
  CHECK(!err);
  CHECK(sd.phase() == shutdown_phase::done);
  CHECK(current_shutdown_phase(sys) == shutdown_phase::done);
  CHECK(out->all()
        == std::vector<std::string>{"not_ready:not_ready/not_ready",
                                    "intake:stop_intake/stop_intake",
                                    "drain:drain/drain",
                                    "stop_tree:stop_tree/stop_tree",
                                    "stopped:b", "stopped:a",
                                    "flush:flush/flush"});
  CHECK(await_exit(sys, root) == caf::exit_reason::user_shutdown);
  // Once is enough: a second run returns the first one's result.
  CHECK(!sd.run("again"));
  CHECK(out->all().size() == 7);
}

TEST_CASE("a shutdown task that overruns its phase is named and left behind",
          "[coordinated_shutdown]") {
  noted_tree t{"a"};
  auto& [cfg, sys, out, root] = t;
  coordinated_shutdown_config sc;
  sc.drain = 200ms;
  coordinated_shutdown sd{sys, root, sc};
  // Captures nothing it does not own: it outlives the shutdown.
  REQUIRE(!sd.add_task(shutdown_phase::drain, "slow-sessions",
                       [out] {
                         std::this_thread::sleep_for(3s);
                         out->add("slow task returned");
                       }));
  REQUIRE(!sd.add_task(shutdown_phase::drain, "quick",
                       [out](std::chrono::steady_clock::time_point deadline) {
                         out->add(deadline > std::chrono::steady_clock::now()
                                    ? "quick saw its deadline ahead"
                                    : "quick saw its deadline passed");
                       }));
  REQUIRE(!sd.add_task(shutdown_phase::flush, "flush",
                       [out] { out->add("flushed"); }));
  auto err = sd.run();
  REQUIRE(err);
  CHECK(is(err, errc::timeout));
  auto text = sys.render(err);
  INFO(text);
  CHECK(text.find("drain: task slow-sessions did not finish in time")
        != std::string::npos);
  CHECK(text.find("quick") == std::string::npos);
  // The phases after it ran: the tree stopped and the flush happened.
  CHECK(out->all()
        == std::vector<std::string>{"quick saw its deadline ahead", "stopped:a",
                                    "flushed"});
}

TEST_CASE("a failing or throwing shutdown task is named, and the shutdown "
          "goes on",
          "[coordinated_shutdown]") {
  noted_tree t{"a"};
  auto& [cfg, sys, out, root] = t;
  coordinated_shutdown sd{sys, root};
  REQUIRE(!sd.add_task(shutdown_phase::stop_intake, "listener", [] {
    return make_error(errc::not_found, "listener", "already closed");
  }));
  REQUIRE(!sd.add_task(shutdown_phase::flush, "journal", []() -> caf::error {
    throw std::runtime_error("disk full");
  }));
  auto err = sd.run();
  REQUIRE(err);
  CHECK(is(err, errc::shutting_down));
  auto text = sys.render(err);
  INFO(text);
  CHECK(text.find("stop_intake: task listener failed") != std::string::npos);
  CHECK(text.find("already closed") != std::string::npos);
  CHECK(text.find("flush: task journal failed") != std::string::npos);
  CHECK(text.find("disk full") != std::string::npos);
  // The first failure is the cause.
  CHECK(is(cause_of(err), errc::not_found));
  CHECK(out->all() == std::vector<std::string>{"stopped:a"});
}

TEST_CASE("add_task refuses what cannot run", "[coordinated_shutdown]") {
  test_config cfg;
  caf::actor_system sys{cfg};
  auto root = start_supervisor(sys, supervisor("root"));
  REQUIRE(root);
  coordinated_shutdown sd{sys, *root};
  auto nop = [] {};
  CHECK(is(sd.add_task(shutdown_phase::running, "x", nop),
           errc::invalid_spec));
  CHECK(is(sd.add_task(shutdown_phase::done, "x", nop), errc::invalid_spec));
  CHECK(is(sd.add_task(shutdown_phase::drain, "", nop), errc::invalid_spec));
  CHECK(is(sd.add_task(shutdown_phase::drain, "empty",
                       std::function<void()>{}),
           errc::invalid_spec));
  CHECK(!sd.run());
  CHECK(is(sd.add_task(shutdown_phase::drain, "late", nop),
           errc::shutting_down));
}

TEST_CASE("the drain waits until the tree's mailboxes are empty",
          "[coordinated_shutdown]") {
  test_config cfg;
  caf::actor_system sys{cfg};
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto slow = [handled](caf::event_based_actor*) -> caf::behavior {
    return {[handled](int) {
      std::this_thread::sleep_for(10ms);
      ++*handled;
    }};
  };
  auto root = start_supervisor(sys, supervisor("root").child(worker("slow",
                                                                    slow)));
  REQUIRE(root);
  auto target = lookup(sys, *root, "root/slow");
  REQUIRE(target);
  for (int i = 0; i < 50; ++i)
    caf::anon_send(*target, i);
  coordinated_shutdown sd{sys, *root};
  auto seen = std::make_shared<std::atomic<int>>(-1);
  // Runs after the drain, before the tree stops.
  REQUIRE(!sd.add_task(shutdown_phase::stop_tree, "count",
                       [handled, seen] { *seen = handled->load(); }));
  CHECK(!sd.run());
  CHECK(seen->load() == 50);
}

TEST_CASE("a drain that cannot empty the tree ends at its deadline and says "
          "what was queued",
          "[coordinated_shutdown]") {
  test_config cfg;
  caf::actor_system sys{cfg};
  auto stuck = [](caf::event_based_actor*) -> caf::behavior {
    return {[](int) { std::this_thread::sleep_for(300ms); }};
  };
  auto root = start_supervisor(sys, supervisor("root").child(
                                      worker("stuck", stuck)
                                        .shutdown(shutdown::brutal_kill())));
  REQUIRE(root);
  auto target = lookup(sys, *root, "root/stuck");
  REQUIRE(target);
  for (int i = 0; i < 20; ++i)
    caf::anon_send(*target, i);
  coordinated_shutdown_config sc;
  sc.drain = 200ms;
  coordinated_shutdown sd{sys, *root, sc};
  auto err = sd.run();
  REQUIRE(err);
  auto text = sys.render(err);
  INFO(text);
  CHECK(is(err, errc::timeout));
  CHECK(text.find("drain:") != std::string::npos);
  CHECK((text.find("root/stuck=") != std::string::npos
         || text.find("did not answer") != std::string::npos));
  CHECK(await_exit(sys, *root, patience) == caf::exit_reason::user_shutdown);
}

TEST_CASE("while draining, a stable handle refuses rather than buffer for a "
          "child that is down",
          "[coordinated_shutdown]") {
  test_config cfg;
  caf::actor_system sys{cfg};
  auto crashy = [](caf::event_based_actor*) -> caf::behavior {
    return {[](int x) -> int {
      if (x < 0)
        throw std::runtime_error("negative");
      return x;
    }};
  };
  // Restarted only after an hour: down for the whole test.
  auto root = start_supervisor(
    sys, supervisor("root").child(worker("w", crashy)
                                    .backoff(restart_backoff{1h, 1h})));
  REQUIRE(root);
  auto hdl = stable_handle(sys, *root, "root/w");
  REQUIRE(hdl);
  caf::scoped_actor self{sys};
  self->request(*hdl, patience, 1).receive([](int x) { CHECK(x == 1); },
                                           [&](caf::error& err) {
                                             FAIL(sys.render(err));
                                           });
  self->request(*hdl, patience, -1).receive(
    [](int) { FAIL("a crash answered"); }, [](caf::error&) {});
  // Wait until the supervisor knows the child is down.
  for (int i = 0; i < 2000; ++i) {
    auto info = which_child(sys, *root, "w");
    if (info && info->state == child_state::restarting)
      break;
    std::this_thread::sleep_for(5ms);
  }
  coordinated_shutdown sd{sys, *root};
  auto answer = std::make_shared<std::string>();
  REQUIRE(!sd.add_task(shutdown_phase::drain, "ask", [&sys, h = *hdl, answer] {
    caf::scoped_actor asker{sys};
    asker->request(h, patience, 2).receive(
      [answer](int) { *answer = "answered"; },
      [answer, &sys](caf::error& err) { *answer = sys.render(err); });
  }));
  CHECK(!sd.run());
  INFO(*answer);
  CHECK(answer->find("shutting_down") != std::string::npos);
  CHECK(answer->find("draining") != std::string::npos);
}

TEST_CASE("SIGTERM starts the coordinated shutdown; a second signal ends "
          "the process at once",
          "[coordinated_shutdown][lifetime]") {
  SECTION("one signal: every phase, then exit 0") {
    auto end = run_as_process([](int out) {
      stop_signal stop;
      test_config cfg;
      caf::actor_system sys{cfg};
      auto sink = std::make_shared<journal_lines>();
      auto root = start_supervisor(sys, supervisor("root")
                                          .child(worker("a", noting_worker,
                                                        std::string{"a"},
                                                        sink)));
      if (!root)
        return 10;
      coordinated_shutdown sd{sys, *root};
      for (auto x : {shutdown_phase::not_ready, shutdown_phase::stop_intake,
                     shutdown_phase::drain, shutdown_phase::flush})
        sd.add_task(x, to_string(x), [out, x, sink] {
          for (auto& line : sink->all())
            write_line(out, line);
          write_line(out, to_string(x));
        });
      std::thread{[] {
        std::this_thread::sleep_for(50ms);
        ::kill(::getpid(), SIGTERM);
      }}.detach();
      auto err = sd.run_on(stop);
      write_line(out, err ? sys.render(err) : "ok");
      return 0;
    });
    INFO(end.describe() << "\n" << end.output);
    CHECK(end.code == 0);
    CHECK(end.output
          == "not_ready\nstop_intake\ndrain\nstopped:a\nflush\nok\n");
  }
  SECTION("a second signal during a drain that hangs: 128 + SIGTERM") {
    auto end = run_as_process([](int out) {
      stop_signal stop;
      test_config cfg;
      caf::actor_system sys{cfg};
      auto root = start_supervisor(sys, supervisor("root"));
      if (!root)
        return 10;
      coordinated_shutdown sd{sys, *root};
      sd.add_task(shutdown_phase::drain, "hangs", [out] {
        write_line(out, "draining");
        ::kill(::getpid(), SIGTERM);
        std::this_thread::sleep_for(60s);
      });
      sd.add_task(shutdown_phase::flush, "flush",
                  [out] { write_line(out, "flush"); });
      std::thread{[] {
        std::this_thread::sleep_for(50ms);
        ::kill(::getpid(), SIGTERM);
      }}.detach();
      sd.run_on(stop);
      write_line(out, "returned");
      return 0;
    });
    INFO(end.describe() << "\n" << end.output);
    CHECK(end.code == 128 + SIGTERM);
    CHECK(end.output == "draining\n");
  }
}

TEST_CASE("run_on returns when the tree ended by itself, after the shutdown "
          "ran",
          "[coordinated_shutdown]") {
  stop_signal stop;
  test_config cfg;
  caf::actor_system sys{cfg};
  auto crashy = [](caf::event_based_actor*) -> caf::behavior {
    return {[](int) -> int { throw std::runtime_error("no"); }};
  };
  // No restart allowed: the child's crash ends the root.
  auto root = start_supervisor(sys, supervisor("root").intensity(0).child(
                                      worker("w", crashy)));
  REQUIRE(root);
  coordinated_shutdown sd{sys, *root};
  auto flushed = std::make_shared<std::atomic<bool>>(false);
  REQUIRE(!sd.add_task(shutdown_phase::flush, "flush",
                       [flushed] { *flushed = true; }));
  auto w = lookup(sys, *root, "root/w");
  REQUIRE(w);
  caf::anon_send(*w, 1);
  auto reason = sd.run_on(stop);
  CHECK(is(reason, errc::reached_max_restart_intensity));
  CHECK(flushed->load());
  CHECK(sd.phase() == shutdown_phase::done);
}

TEST_CASE("a coordinated shutdown refuses to block an actor of its tree",
          "[coordinated_shutdown]") {
  test_config cfg;
  caf::actor_system sys{cfg};
  auto sd_slot = std::make_shared<coordinated_shutdown*>(nullptr);
  auto answer = std::make_shared<std::promise<caf::error>>();
  auto caller = [sd_slot, answer](caf::event_based_actor*) -> caf::behavior {
    return {[sd_slot, answer](caf::ok_atom) {
      answer->set_value((*sd_slot)->run("from inside"));
    }};
  };
  auto root = start_supervisor(sys, supervisor("root").child(worker("w",
                                                                    caller)));
  REQUIRE(root);
  coordinated_shutdown sd{sys, *root};
  *sd_slot = &sd;
  auto w = lookup(sys, *root, "root/w");
  REQUIRE(w);
  auto result = answer->get_future();
  caf::anon_send(*w, caf::ok_atom::value);
  REQUIRE(result.wait_for(patience) == std::future_status::ready);
  CHECK(is(result.get(), errc::calling_self));
  CHECK(sd.phase() == shutdown_phase::running);
  CHECK(!sd.run());
}

TEST_CASE("a coordinated shutdown refuses to run from one of its own tasks",
          "[coordinated_shutdown]") {
  // It waited for itself until the phase's deadline, and the task went on
  // running beside the system's teardown.
  noted_tree t{"a"};
  auto& [cfg, sys, out, root] = t;
  coordinated_shutdown sd{sys, root};
  auto inner = std::make_shared<std::promise<caf::error>>();
  REQUIRE(!sd.add_task(shutdown_phase::flush, "reenter", [&sd, inner] {
    inner->set_value(sd.run("from a task"));
  }));
  CHECK(!sd.run());
  auto result = inner->get_future();
  REQUIRE(result.wait_for(patience) == std::future_status::ready);
  auto err = result.get();
  CHECK(is(err, errc::calling_self));
  CHECK_THAT(sys.render(err), Catch::Contains("its own tasks"));
  CHECK(out->all() == std::vector<std::string>{"stopped:a"});
}

TEST_CASE("request_run starts the shutdown from anywhere and wait tells how "
          "it ended",
          "[coordinated_shutdown]") {
  noted_tree t{"a"};
  auto& [cfg, sys, out, root] = t;
  coordinated_shutdown sd{sys, root};
  // Nobody started it: a bounded wait says so rather than hang.
  auto early = sd.wait(50ms);
  CHECK(is(early, errc::timeout));
  CHECK(sys.render(early).find("no shutdown was started") != std::string::npos);
  sd.request_run("from a handler");
  sd.request_run("twice");
  CHECK(!sd.wait());
  CHECK(sd.phase() == shutdown_phase::done);
  CHECK(out->all() == std::vector<std::string>{"stopped:a"});
}

TEST_CASE("the readiness grace keeps the service up and not ready before "
          "intake stops, and the overall deadline bounds every phase",
          "[coordinated_shutdown]") {
  using clock = std::chrono::steady_clock;
  SECTION("grace") {
    noted_tree t{"a"};
    auto& [cfg, sys, out, root] = t;
    coordinated_shutdown_config sc;
    sc.readiness_grace = 300ms;
    coordinated_shutdown sd{sys, root, sc};
    auto marks = std::make_shared<std::vector<clock::time_point>>();
    REQUIRE(!sd.add_task(shutdown_phase::not_ready, "mark",
                         [marks] { marks->push_back(clock::now()); }));
    REQUIRE(!sd.add_task(shutdown_phase::stop_intake, "mark",
                         [marks, &sys] {
                           marks->push_back(clock::now());
                           CHECK(current_shutdown_phase(sys)
                                 == shutdown_phase::stop_intake);
                         }));
    CHECK(!sd.run());
    REQUIRE(marks->size() == 2);
    // A lower bound only: the grace was waited, however slow the machine.
    CHECK(marks->at(1) - marks->at(0) >= 300ms);
  }
  SECTION("overall") {
    noted_tree t{"a"};
    auto& [cfg, sys, out, root] = t;
    coordinated_shutdown_config sc;
    sc.overall = 300ms;
    coordinated_shutdown sd{sys, root, sc};
    REQUIRE(!sd.add_task(shutdown_phase::stop_intake, "stuck", [out] {
      std::this_thread::sleep_for(3s);
      out->add("stuck returned");
    }));
    REQUIRE(!sd.add_task(shutdown_phase::flush, "flush",
                         [out] { out->add("flushed"); }));
    auto err = sd.run();
    REQUIRE(err);
    auto text = sys.render(err);
    INFO(text);
    CHECK(text.find("stop_intake: task stuck did not finish in time")
          != std::string::npos);
    // Past the overall deadline the later phases still run, with no time
    // of their own: the root is asked to stop, the flush task starts.
    CHECK(await_exit(sys, root, patience) == caf::exit_reason::user_shutdown);
    CHECK(sd.phase() == shutdown_phase::done);
  }
}
