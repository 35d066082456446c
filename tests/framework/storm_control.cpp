#include "test_support.hpp"

#include <algorithm>
#include <atomic>
#include <memory>

#include "trellis/dependency.hpp"
#include "trellis/incident.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using query_atom = caf::atom_constant<caf::atom("query")>;

/// A backend the test takes down and brings back.
using backend = std::shared_ptr<std::atomic<bool>>;

/// A worker that needs the backend: its start fails while the backend is
/// down, and a query then crashes it.
child_spec db_user(const std::string& id, backend up) {
  return worker(id, [up](child_context& ctx) -> start_result {
    if (!*up)
      return make_error(errc::unhealthy, "backend unreachable");
    return ctx.spawn([up](caf::event_based_actor*) -> caf::behavior {
      return {
        [up](query_atom) -> int {
          if (!*up)
            throw std::runtime_error("backend unreachable");
          return 1;
        },
      };
    });
  });
}

supervisor_spec tree_of(int n, backend up, bool storm_control) {
  // 200 restarts in 5 s would spend it four times over.
  auto root = supervisor("root").intensity(50).period(std::chrono::seconds(5));
  for (int i = 0; i < n; ++i) {
    auto spec = db_user("w" + std::to_string(i), up);
    if (storm_control)
      spec.depends_on("db");
    root.child(spec);
  }
  return root;
}

void listen(fixture& f, const caf::actor& sup) {
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
}

/// Sends a query to every running child, which crash at once while the
/// backend is down.
void query_all(fixture& f, const caf::actor& sup) {
  for (auto& x : f.children(sup))
    if (x.actor)
      f.probe->send(x.actor, query_atom::value);
}

size_t count_paused(fixture& f, const caf::actor& sup) {
  auto xs = f.children(sup);
  return std::count_if(xs.begin(), xs.end(), [](const child_info& x) {
    return x.paused_for == "db";
  });
}

} // namespace

TEST_CASE("storm control: 200 children of one flaky backend pause, charged "
          "to no budget, and come back staggered",
          "[storm_control]") {
  fixture f;
  REQUIRE_FALSE(declare_dependency(f.sys, dependency_policy{"db"}
                                            .incident_after(5, 10s)
                                            .probe_after(100ms, 400ms)
                                            .settle(200ms)
                                            .resume_over(1s)));
  auto up = std::make_shared<std::atomic<bool>>(true);
  constexpr int n = 200;
  auto sup = f.start(tree_of(n, up, true));
  listen(f, sup);
  *up = false;
  query_all(f, sup);
  auto opened = await_event_if(f.probe, [](const lifecycle_event& ev) {
    return ev.kind == lifecycle_kind::incident_opened;
  });
  CHECK(opened.id == "db");
  CHECK_THAT(opened.detail, Catch::Contains("cause=\"5 failures within 10s\""));
  // The first four restarted, charged; their starts failed and they wait
  // too. Everyone else pauses: nothing is charged and nobody gives up.
  eventually("every child to pause", [&] { return count_paused(f, sup) == n; });
  auto node = snapshot(f.sys, sup);
  REQUIRE(node);
  CHECK(node->restarts_left > 0);
  CHECK_THAT(to_json(*node), Catch::Contains("\"paused_for\":\"db\""));
  // Canaries fail while the backend stays down: the incident waits on.
  eventually("a second canary", [&] {
    auto xs = open_incidents(f.sys);
    return xs.size() == 1 && xs[0].probes >= 2;
  });
  auto xs = open_incidents(f.sys);
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].dependency == "db");
  CHECK(xs[0].failures >= static_cast<uint64_t>(n));
  *up = true;
  // One event groups the 200 failures: no second one before the close.
  size_t opened_again = 0;
  auto closed = await_event_if(f.probe, [&](const lifecycle_event& ev) {
    opened_again += ev.kind == lifecycle_kind::incident_opened ? 1 : 0;
    return ev.kind == lifecycle_kind::incident_closed;
  });
  CHECK(opened_again == 0);
  CHECK_THAT(closed.detail, Catch::Contains("outcome=canary_ran"));
  CHECK(open_incidents(f.sys).empty());
  // The canary runs already; the others restart spread over the second.
  std::vector<caf::timestamp> restarts;
  while (restarts.size() < n - 1)
    restarts.push_back(
      await_event_if(f.probe, [](const lifecycle_event& ev) {
        CHECK(ev.kind != lifecycle_kind::restart_given_up);
        return ev.kind == lifecycle_kind::child_restarted;
      }).time);
  auto spread = std::chrono::duration<double>(restarts.back()
                                              - restarts.front())
                  .count();
  // All at once, they would take a few milliseconds.
  CHECK(spread >= 0.5);
  for (auto& x : f.children(sup)) {
    CHECK(x.state == child_state::running);
    CHECK(x.paused_for.empty());
  }
  CHECK_FALSE(stop_supervisor(f.sys, sup, caf::exit_reason::user_shutdown));
}

TEST_CASE("storm control: without it, the same outage exhausts the budget",
          "[storm_control]") {
  fixture f;
  auto up = std::make_shared<std::atomic<bool>>(true);
  auto sup = f.start(tree_of(200, up, false));
  *up = false;
  query_all(f, sup);
  CHECK_THAT(f.exit_reason_of(sup),
             Catch::Contains("reached_max_restart_intensity"));
}

TEST_CASE("storm control: a reporter opens and closes an incident, and "
          "stopped children stay stopped",
          "[storm_control]") {
  fixture f;
  auto up = std::make_shared<std::atomic<bool>>(true);
  auto sup = f.start(tree_of(3, up, true));
  listen(f, sup);
  REQUIRE_FALSE(report_dependency(f.sys, "db", dependency_status::down,
                                  "pool", "connection refused"));
  auto xs = open_incidents(f.sys);
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].cause == "reported down by pool: connection refused");
  CHECK(xs[0].reported_down_by == "pool");
  CHECK(xs[0].next_probe_in == caf::timespan{0});
  *up = false;
  query_all(f, sup);
  // The first failure pauses: the incident is open already.
  auto opened = await_event_if(f.probe, [](const lifecycle_event& ev) {
    return ev.kind == lifecycle_kind::incident_opened;
  });
  CHECK(opened.id == "db");
  eventually("three paused children", [&] { return count_paused(f, sup) == 3; });
  CHECK_THAT(f.render(restart_child(f.sys, sup, "w0").error()),
             Catch::Contains("restarting")
               && Catch::Contains("paused until the incident of dependency "
                                  "'db' closes"));
  CHECK_FALSE(terminate_child(f.sys, sup, "w1"));
  CHECK(f.child(sup, "w1").state == child_state::stopped);
  CHECK(f.child(sup, "w1").paused_for.empty());
  // Up from someone who never said down changes nothing.
  REQUIRE_FALSE(report_dependency(f.sys, "db", dependency_status::up, "other"));
  CHECK(open_incidents(f.sys).size() == 1);
  *up = true;
  REQUIRE_FALSE(report_dependency(f.sys, "db", dependency_status::up, "pool"));
  auto closed = await_event_if(f.probe, [](const lifecycle_event& ev) {
    return ev.kind == lifecycle_kind::incident_closed;
  });
  CHECK_THAT(closed.detail, Catch::Contains("outcome=reported_up")
                              && Catch::Contains("paused=2"));
  eventually("w0 and w2 running", [&] {
    return f.child(sup, "w0").state == child_state::running
           && f.child(sup, "w2").state == child_state::running;
  });
  CHECK(f.child(sup, "w1").state == child_state::stopped);
}

TEST_CASE("storm control: a decider's stop wins over a pause, and a paused "
          "tree shuts down cleanly",
          "[storm_control]") {
  fixture f;
  auto up = std::make_shared<std::atomic<bool>>(true);
  REQUIRE_FALSE(report_dependency(f.sys, "db", dependency_status::down, "pool"));
  auto root = supervisor("root").child(
    db_user("stopper", up).depends_on("db").decider(
      [](const caf::error&) { return decision::stop; }));
  root.child(db_user("paused", up).depends_on("db"));
  auto sup = f.start(root);
  *up = false;
  query_all(f, sup);
  eventually("one child stopped and one paused", [&] {
    return f.child(sup, "stopper").state == child_state::stopped
           && f.child(sup, "paused").paused_for == "db";
  });
  REQUIRE(open_incidents(f.sys).size() == 1);
  CHECK(open_incidents(f.sys)[0].paused == 1);
  REQUIRE_FALSE(stop_supervisor(f.sys, sup, caf::exit_reason::user_shutdown));
  // Its paused child went with it.
  eventually("the board to forget the paused child", [&] {
    auto xs = open_incidents(f.sys);
    return xs.size() == 1 && xs[0].paused == 0;
  });
}

TEST_CASE("storm control: one child failing alone opens no incident, and "
          "its supervisor gives up as OTP's would",
          "[storm_control]") {
  fixture f;
  REQUIRE_FALSE(declare_dependency(f.sys, dependency_policy{"db"}.probe_after(
                                            10ms, 100ms)));
  auto up = std::make_shared<std::atomic<bool>>(true);
  auto sup = f.start(supervisor("root").intensity(3).child(
    db_user("only", up).depends_on("db")));
  *up = false;
  query_all(f, sup);
  CHECK_THAT(f.exit_reason_of(sup),
             Catch::Contains("reached_max_restart_intensity"));
  CHECK(open_incidents(f.sys).empty());
}

TEST_CASE("storm control: a withdrawn report falls back to canaries, and a "
          "one_for_all group restarts with its canary",
          "[storm_control]") {
  fixture f;
  REQUIRE_FALSE(declare_dependency(f.sys, dependency_policy{"db"}
                                            .probe_after(50ms, 200ms)
                                            .settle(100ms)
                                            .resume_over(0s)));
  auto up = std::make_shared<std::atomic<bool>>(true);
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::one_for_all)
                       .intensity(3)
                       .child(db_user("a", up).depends_on("db"))
                       .child(f.probed("b")));
  CHECK(f.next_event() == "started:b");
  listen(f, sup);
  REQUIRE_FALSE(report_dependency(f.sys, "db", dependency_status::down,
                                  "pool"));
  *up = false;
  f.probe->send(f.actor_of(sup, "a"), query_atom::value);
  eventually("a to pause", [&] { return count_paused(f, sup) == 1; });
  // Its sibling runs on: a pause restarts no group.
  CHECK(f.child(sup, "b").restart_count == 0);
  // Nobody says up; canaries take over once the reporter withdraws.
  REQUIRE_FALSE(report_dependency(f.sys, "db", dependency_status::withdrawn,
                                  "pool"));
  eventually("a canary", [&] {
    auto xs = open_incidents(f.sys);
    return xs.size() == 1 && xs[0].probes >= 1;
  });
  *up = true;
  auto closed = await_event_if(f.probe, [](const lifecycle_event& ev) {
    return ev.kind == lifecycle_kind::incident_closed;
  });
  CHECK_THAT(closed.detail, Catch::Contains("outcome=canary_ran"));
  eventually("a and b running", [&] {
    return f.child(sup, "a").state == child_state::running
           && f.child(sup, "b").state == child_state::running;
  });
  // The canary restarted its group, as any restart under one_for_all does.
  CHECK(f.child(sup, "b").restart_count >= 1);
  CHECK(count_paused(f, sup) == 0);
}

TEST_CASE("storm control: policies and reports are checked",
          "[storm_control]") {
  fixture f;
  auto bad = [&](dependency_policy x) {
    return is(declare_dependency(f.sys, std::move(x)), errc::invalid_spec);
  };
  CHECK(bad(dependency_policy{""}));
  CHECK(bad(dependency_policy{"db"}.incident_after(0, 1s)));
  CHECK(bad(dependency_policy{"db"}.incident_after(3, 0s)));
  CHECK(bad(dependency_policy{"db"}.probe_after(2s, 1s)));
  CHECK(bad(dependency_policy{"db"}.probe_after(0s, 1s)));
  CHECK(bad(dependency_policy{"db"}.settle(0s)));
  CHECK(bad(dependency_policy{"db"}.resume_over(-1s)));
  CHECK_FALSE(declare_dependency(f.sys, dependency_policy{"db"}));
  CHECK_THAT(f.render(declare_dependency(f.sys, dependency_policy{"db"}
                                                  .incident_after(0, 1s))),
             Catch::Contains("dependency 'db' needs 1 to 10,000 failures"));
  CHECK(bad(dependency_policy{"db"}.incident_after(10'001, 1s)));
  CHECK(is(report_dependency(f.sys, "", dependency_status::down, "x"),
           errc::invalid_spec));
  CHECK(is(report_dependency(f.sys, "db", dependency_status::down, ""),
           errc::invalid_spec));
  CHECK(is(worker("w", [](child_context&) -> start_result {
             return caf::actor{};
           })
             .depends_on("")
             .validate(),
           errc::invalid_spec));
}
