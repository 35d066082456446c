#include "test_support.hpp"

#include <atomic>
#include <cmath>
#include <set>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using hang_atom = caf::atom_constant<caf::atom("hang")>;

/// Answers ints; on `hang_atom`, blocks inside the handler until released.
caf::behavior hangs_on_request(caf::event_based_actor*,
                               std::shared_ptr<std::atomic<bool>> release) {
  return {
    [](int x) { return x; },
    [release](hang_atom) {
      while (!release->load())
        std::this_thread::sleep_for(1ms);
    },
  };
}

/// Answers `readiness_atom` with an error once `ready` is false.
caf::behavior readiness(caf::event_based_actor*,
                        std::shared_ptr<std::atomic<bool>> ready) {
  return {
    [ready](readiness_atom) -> caf::result<caf::ok_atom> {
      if (ready->load())
        return caf::ok_atom::value;
      return make_error(errc::unhealthy, "database connection lost");
    },
  };
}

/// Releases stuck handlers when a test ends, even by a failed REQUIRE, so
/// that the actor system can shut down. Declare it after the actor system.
struct release_on_exit {
  std::shared_ptr<std::atomic<bool>> release;
  ~release_on_exit() {
    release->store(true);
  }
};

int ask(caf::scoped_actor& self, const caf::actor& hdl, int x) {
  int result = -1;
  self->request(hdl, patience, x)
    .receive([&](int y) { result = y; }, [](caf::error&) {});
  return result;
}

} // namespace

TEST_CASE("a child stuck in a handler is detected and replaced",
          "[health][detection]") {
  fixture f;
  log_capture logs;
  auto release = std::make_shared<std::atomic<bool>>(false);
  release_on_exit guard{release};
  bool detached = GENERATE(false, true);
  INFO("detached: " << detached);
  auto sup = f.start(
    supervisor("root")
      .intensity(5)
      .child(f.probed("a"))
      .child(worker("stuck", hangs_on_request, release)
               .detached(detached)
               .health_check(health_check{20ms, 1s, 2})));
  f.next_event();
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  auto stuck = f.actor_of(sup, "stuck");
  f.probe->send(stuck, hang_atom::value);
  auto ev = await_event(f.probe, lifecycle_kind::child_unhealthy, "root/stuck");
  CHECK(is(ev.reason, errc::hung));
  CHECK_THAT(f.render(ev.reason), Catch::Contains("root/stuck")
                                    && Catch::Contains("no answer to 2 health "
                                                       "checks of 1000ms")
                                    && Catch::Contains("stuck in a handler"));
  await_event(f.probe, lifecycle_kind::child_restarted, "root/stuck");
  // The replacement answers while the old incarnation is still stuck, and
  // so does the sibling.
  auto fresh = f.actor_of(sup, "stuck");
  CHECK(fresh != stuck);
  CHECK(ask(f.probe, fresh, 7) == 7);
  CHECK(ask(f.probe, f.actor_of(sup, "a"), 8) == 8);
  auto info = f.child(sup, "stuck");
  CHECK(info.restart_count == 1);
  CHECK_THAT(info.last_exit_reason, Catch::Contains("hung"));
  CHECK(logs.reports("child_unhealthy supervisor=root child=stuck").size()
        == 1);
  // Released, the old incarnation reads its mailbox and dies of the kill;
  // its late down message changes nothing.
  f.probe->monitor(stuck);
  release->store(true);
  caf::error reason;
  f.probe->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                   caf::after(patience) >> [] { FAIL("still stuck"); });
  CHECK(reason == caf::exit_reason::kill);
  CHECK(f.child(sup, "stuck").restart_count == 1);
  CHECK(f.actor_of(sup, "stuck") == fresh);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("detection works while stuck children hold every scheduler thread",
          "[health][detection]") {
  struct two_threads : test_config {
    two_threads() {
      set("scheduler.max-threads", 2);
    }
  };
  two_threads cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto release = std::make_shared<std::atomic<bool>>(false);
  release_on_exit guard{release};
  auto stuck = [&](const std::string& id) {
    return worker(id, hangs_on_request, release)
      .health_check(health_check{20ms, 1s, 2});
  };
  // The supervisor runs on a thread of its own, so it still runs when the
  // scheduler's two threads are both stuck.
  auto sup = start_supervisor(sys, supervisor("root")
                                     .detached(true)
                                     .intensity(5)
                                     .child(stuck("x"))
                                     .child(stuck("y")));
  REQUIRE(sup);
  auto events = lifecycle_events(sys, *sup);
  REQUIRE(events);
  self->join(*events);
  auto x = lookup(sys, *sup, "root/x");
  auto y = lookup(sys, *sup, "root/y");
  REQUIRE((x && y));
  self->send(*x, hang_atom::value);
  self->send(*y, hang_atom::value);
  // The replacements initialize on the supervisor's thread: they start
  // while the stuck handlers still hold both scheduler threads.
  std::set<std::string> hung;
  std::set<std::string> restarted;
  while (hung.size() < 2 || restarted.size() < 2) {
    auto ev = await_event_if(self, [](const lifecycle_event& e) {
      return e.kind == lifecycle_kind::child_unhealthy
             || e.kind == lifecycle_kind::child_restarted;
    });
    if (ev.kind == lifecycle_kind::child_restarted) {
      restarted.insert(ev.path);
      continue;
    }
    CHECK(is(ev.reason, errc::hung));
    hung.insert(ev.path);
  }
  release->store(true);
  CHECK(hung == std::set<std::string>{"root/x", "root/y"});
  CHECK(restarted == std::set<std::string>{"root/x", "root/y"});
  stop_supervisor(sys, *sup);
}

TEST_CASE("a stuck incarnation is killed when its supervisor exits first",
          "[health][detection]") {
  fixture f;
  auto release = std::make_shared<std::atomic<bool>>(false);
  release_on_exit guard{release};
  auto sup = f.start(supervisor("root").intensity(5).child(
    worker("stuck", hangs_on_request, release)
      .detached(true)
      .health_check(health_check{20ms, 1s, 2})));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  auto stuck = f.actor_of(sup, "stuck");
  f.probe->monitor(stuck);
  f.probe->send(stuck, hang_atom::value);
  await_event(f.probe, lifecycle_kind::child_restarted, "root/stuck");
  stop_supervisor(f.sys, sup);
  // The kill waits in its mailbox until the handler returns, then ends it.
  release->store(true);
  caf::error reason;
  f.probe->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                   caf::after(patience) >> [] { FAIL("still running"); });
  CHECK(reason == caf::exit_reason::kill);
}

TEST_CASE("health checks are checked", "[health]") {
  auto noop = [](child_context&) -> start_result { return ignore; };
  CHECK(is(worker("a", noop).health_check(health_check{0ms, 10ms}).validate(),
           errc::invalid_spec));
  CHECK(is(worker("a", noop).health_check(health_check{10ms, 0ms}).validate(),
           errc::invalid_spec));
  CHECK(is(worker("a", noop).health_check(health_check{10ms, 10ms, 0}).validate(),
           errc::invalid_spec));
  CHECK(is(supervisor("s")
             .as_child()
             .health_check(health_check{10ms, 10ms}.readiness())
             .validate(),
           errc::invalid_spec));
  CHECK_FALSE(
    supervisor("s").as_child().health_check(health_check{10ms, 10ms}).validate());
}

TEST_CASE("a child may answer its own readiness check",
          "[health][detection]") {
  fixture f;
  auto ready = std::make_shared<std::atomic<bool>>(true);
  auto sup = f.start(supervisor("root").intensity(5).child(
    worker("db", readiness, ready)
      .health_check(health_check{20ms, 1s, 3}.readiness())));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  ready->store(false);
  auto ev = await_event(f.probe, lifecycle_kind::child_unhealthy, "root/db");
  CHECK(is(ev.reason, errc::unhealthy));
  CHECK_THAT(f.render(ev.reason), Catch::Contains("failed 3 health checks")
                                    && Catch::Contains("database connection "
                                                       "lost"));
  ready->store(true);
  await_event(f.probe, lifecycle_kind::child_restarted, "root/db");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a subscriber sees the exact events of a crash and a restart",
          "[events]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .intensity(1)
                       .period(1h)
                       .child(f.probed("a"))
                       .child(f.probed("b")));
  f.next_events(2);
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  auto next = [&] {
    lifecycle_event result;
    f.probe->receive([&](lifecycle_event& ev) { result = std::move(ev); },
                     caf::after(patience) >> [] { FAIL("no event"); });
    return result;
  };
  auto before = caf::make_timestamp();
  f.crash(sup, "b");
  auto exited = next();
  CHECK(exited.kind == lifecycle_kind::child_exited);
  CHECK(exited.path == "root/b");
  CHECK(exited.id == "b");
  CHECK(is(exited.reason, errc::unhandled_exception));
  CHECK(exited.restart_count == 0);
  CHECK(exited.time >= before);
  auto restarted = next();
  CHECK(restarted.kind == lifecycle_kind::child_restarted);
  CHECK(restarted.path == "root/b");
  CHECK_FALSE(restarted.reason);
  CHECK(restarted.restart_count == 1);
  // One crash more than the budget: the supervisor gives up, stopping a.
  f.crash(sup, "b");
  CHECK(next().kind == lifecycle_kind::child_exited);
  auto given_up = next();
  CHECK(given_up.kind == lifecycle_kind::restart_given_up);
  CHECK(given_up.path == "root");
  CHECK(given_up.id == "b");
  auto a_stopped = next();
  CHECK(a_stopped.kind == lifecycle_kind::child_exited);
  CHECK(a_stopped.path == "root/a");
  CHECK(a_stopped.reason == caf::exit_reason::user_shutdown);
  CHECK(to_string(given_up).rfind("restart_given_up path=root id=b", 0) == 0);
  await_exit(f.sys, sup);
}

TEST_CASE("a suspicion level decides before max_missed for a child that "
          "answered like a metronome",
          "[health][detection][phi_accrual]") {
  fixture f;
  auto release = std::make_shared<std::atomic<bool>>(false);
  release_on_exit guard{release};
  // 100 misses would take seconds; the child answers every 30 ms within a
  // fraction of one, so two misses in a row are damning.
  auto sup = f.start(
    supervisor("root")
      .intensity(5)
      .child(worker("stuck", hangs_on_request, release)
               .health_check(health_check{30ms, 20ms, 100}.suspect_at(8))));
  f.next_event();
  // A running child's suspicion is on record (its level depends on the
  // machine's jitter: the model's figures are tested on synthetic series).
  std::this_thread::sleep_for(300ms);
  auto infos = which_children(f.sys, sup);
  REQUIRE(infos);
  REQUIRE(infos->size() == 1);
  CHECK(infos->front().health_checked);
  CHECK(infos->front().suspicion >= 0);
  CHECK(infos->front().suspicion <= phi_accrual::max_phi);
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  f.probe->send(f.actor_of(sup, "stuck"), hang_atom::value);
  auto ev = await_event(f.probe, lifecycle_kind::child_unhealthy, "root/stuck");
  CHECK(is(ev.reason, errc::hung));
  CHECK_THAT(f.render(ev.reason), Catch::Contains("(suspicion phi ")
                                    && Catch::Contains(" >= 8)"));
  // Given up within a few misses, not a hundred.
  CHECK_THAT(f.render(ev.reason), !Catch::Contains("no answer to 100 "));
  release->store(true);
  await_event(f.probe, lifecycle_kind::child_restarted, "root/stuck");
}

TEST_CASE("a suspicion level must be a number", "[health][phi_accrual]") {
  fixture f;
  auto spec = worker("w", hangs_on_request,
                     std::make_shared<std::atomic<bool>>(true))
                .health_check(health_check{30ms, 20ms}.suspect_at(-1));
  auto err = spec.validate();
  CHECK(is(err, errc::invalid_spec));
  CHECK_THAT(f.render(err), Catch::Contains("positive suspicion level"));
  auto nan = worker("w", hangs_on_request,
                    std::make_shared<std::atomic<bool>>(true))
               .health_check(health_check{30ms, 20ms}.suspect_at(std::nan("")));
  CHECK(is(nan.validate(), errc::invalid_spec));
  // Past the cap, it could never be reached.
  auto unreachable = worker("w", hangs_on_request,
                            std::make_shared<std::atomic<bool>>(true))
                       .health_check(health_check{30ms, 20ms}.suspect_at(101));
  CHECK(is(unreachable.validate(), errc::invalid_spec));
}
