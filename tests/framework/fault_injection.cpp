#include "test_support.hpp"
#include "clock_fixture.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

supervisor_spec small_tree() {
  return supervisor("root")
    .intensity(1000)
    .period(1h)
    .child(worker("a", idle))
    .child(worker("b", idle))
    .child(worker("c", idle))
    .child(supervisor("db")
             .intensity(1000)
             .period(1h)
             .child(worker("reader", idle))
             .child(worker("writer", idle)));
}

} // namespace

TEST_CASE("faults hit a child by path", "[fault_injection]") {
  fixture f;
  log_capture logs;
  auto sup = f.start(small_tree());
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  SECTION("kill") {
    REQUIRE(!inject(f.sys, sup, fault{fault_kind::kill, "root/db/writer"}));
    auto ev = await_event(f.probe, lifecycle_kind::child_exited,
                          "root/db/writer");
    CHECK(ev.reason == caf::exit_reason::kill);
    await_event(f.probe, lifecycle_kind::child_restarted, "root/db/writer");
  }
  SECTION("exception") {
    REQUIRE(!inject(f.sys, sup, fault{fault_kind::exception, "root/a"}));
    auto ev = await_event(f.probe, lifecycle_kind::child_exited, "root/a");
    auto details = crash_details_of(ev.reason);
    REQUIRE(details);
    CHECK(details->type == "trellis::injected_fault");
    await_event(f.probe, lifecycle_kind::child_restarted, "root/a");
  }
  SECTION("start failure, then the retry succeeds") {
    REQUIRE(!inject(f.sys, sup, fault{fault_kind::start_failure, "root/b"}));
    REQUIRE(!inject(f.sys, sup, fault{fault_kind::kill, "root/b"}));
    await_event(f.probe, lifecycle_kind::child_restarted, "root/b");
    auto errors = logs.reports("start_error");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("injected fault") != std::string::npos);
    CHECK(f.child(sup, "b").state == child_state::running);
  }
  SECTION("slow start") {
    auto before = std::chrono::steady_clock::now();
    REQUIRE(!inject(f.sys, sup,
                    fault{fault_kind::slow_start, "root/c", 100ms}));
    REQUIRE(!inject(f.sys, sup, fault{fault_kind::kill, "root/c"}));
    await_event(f.probe, lifecycle_kind::child_restarted, "root/c");
    // A lower bound only: the start waited.
    CHECK(std::chrono::steady_clock::now() - before >= 100ms);
  }
  SECTION("unknown paths and misdirected faults are errors") {
    CHECK(is(inject(f.sys, sup, fault{fault_kind::kill, "root/nope"}),
             errc::not_found));
    CHECK(is(inject(f.sys, sup, fault{fault_kind::start_failure, "root/nope"}),
             errc::not_found));
    CHECK(is(inject(f.sys, sup, fault{fault_kind::kill, "elsewhere/a"}),
             errc::not_found));
    auto res = f.probe->request(sup, patience, fault_atom::value,
                                fault_kind::kill, std::string{"a"},
                                caf::timespan{0});
    caf::error err;
    res.receive([](caf::ok_atom) {}, [&](caf::error& x) { err = x; });
    CHECK(is(err, errc::not_supported));
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a hang injected into a child is caught by its health check",
          "[fault_injection]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(
    worker("w", idle).detached(true).health_check(health_check{20ms, 500ms, 1})));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  REQUIRE(!inject(f.sys, sup, fault{fault_kind::hang, "root/w", 2s}));
  auto ev = await_event(f.probe, lifecycle_kind::child_unhealthy, "root/w");
  CHECK(is(ev.reason, errc::hung));
  await_event(f.probe, lifecycle_kind::child_restarted, "root/w");
  stop_supervisor(f.sys, sup);
}

namespace {

/// Runs a chaos monkey with `seed` on the test scheduler and returns what
/// it injected, after checking that the tree repaired every fault.
std::vector<std::string> chaos_run(uint64_t seed) {
  clock_fixture f;
  auto sup = spawn_supervisor(f.sys, small_tree());
  REQUIRE(sup);
  f.sched.run();
  chaos_config cfg;
  cfg.seed = seed;
  cfg.interval = 10ms;
  cfg.kinds = {fault_kind::kill, fault_kind::exception};
  cfg.max_faults = 30;
  auto monkey = spawn_chaos_monkey(f.sys, *sup, cfg);
  for (int i = 0; i < 40; ++i)
    f.advance(10ms);
  f.self->send(monkey, caf::get_atom::value, faults_atom::value);
  f.sched.run();
  std::vector<fault> faults;
  receive_or_fail(f.self, "the monkey's faults",
                  [&](std::vector<fault>& xs) { faults = std::move(xs); });
  REQUIRE(faults.size() == 30);
  // Every fault was repaired by exactly one restart.
  f.self->send(*sup, snapshot_atom::value);
  f.sched.run();
  tree_snapshot snap;
  receive_or_fail(f.self, "the snapshot",
                  [&](tree_snapshot& x) { snap = std::move(x); });
  uint64_t restarts = 0;
  std::function<void(const tree_snapshot&)> walk = [&](const tree_snapshot& x) {
    CHECK(x.state == child_state::running);
    restarts += x.restart_count;
    for (auto& y : x.children)
      walk(y);
  };
  walk(snap);
  CHECK(restarts == faults.size());
  f.self->send_exit(monkey, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  f.sched.run();
  std::vector<std::string> result;
  for (auto& x : faults)
    result.push_back(to_string(x));
  return result;
}

} // namespace

TEST_CASE("a chaos monkey repeats itself given the same seed",
          "[fault_injection]") {
  auto first = chaos_run(42);
  auto again = chaos_run(42);
  CHECK(first == again);
  auto other = chaos_run(7);
  CHECK(first != other);
  // It spreads over the tree, nested supervisors included.
  auto hits = [&](const std::string& path) {
    return std::count(first.begin(), first.end(), "kill " + path)
           + std::count(first.begin(), first.end(), "exception " + path);
  };
  CHECK(hits("root/a") > 0);
  CHECK(hits("root/db/writer") + hits("root/db/reader") > 0);
}
