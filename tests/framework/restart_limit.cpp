#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "restart_pacer.hpp"
#include "synthetic_clock.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

TEST_CASE("a restart pacer lets a burst through, then one restart a slot",
          "[restart_limit]") {
  detail::restart_pacer pacer{restart_limit{10, 3}};
  std::vector<caf::timespan> waits;
  for (int i = 0; i < 6; ++i)
    waits.push_back(pacer.reserve(at_second(0)));
  CHECK(waits == std::vector<caf::timespan>{0ms, 0ms, 0ms, 100ms, 200ms, 300ms});
  // Delayed restarts reserved their slots: one that comes meanwhile queues
  // behind them.
  CHECK(pacer.reserve(at_second(0.25)) == 150ms);
  // Idle long enough, the burst is back.
  for (int i = 0; i < 3; ++i)
    CHECK(pacer.reserve(at_second(10)) == 0ms);
  CHECK(pacer.reserve(at_second(10)) == 100ms);
}

TEST_CASE("restart limits are checked", "[restart_limit]") {
  auto spec = [](restart_limit x) {
    return supervisor("root").restart_limit(x).validate();
  };
  CHECK_FALSE(spec(restart_limit{100, 10}));
  CHECK(is(spec(restart_limit{0, 10}), errc::invalid_spec));
  CHECK(is(spec(restart_limit{-1, 10}), errc::invalid_spec));
  CHECK(is(spec(restart_limit{std::nan(""), 10}), errc::invalid_spec));
  CHECK(is(spec(restart_limit{INFINITY, 10}), errc::invalid_spec));
  CHECK(is(spec(restart_limit{100, 0}), errc::invalid_spec));
  fixture f;
  CHECK(is(limit_node_restarts(f.sys, restart_limit{0, 1}),
           errc::invalid_spec));
  CHECK_THAT(f.render(spec(restart_limit{100, 0})),
             Catch::Contains("restart_limit")
               && Catch::Contains("burst of at least 1"));
}

namespace {

/// Subscribes the probe to the tree's events.
void listen(fixture& f, const caf::actor& sup) {
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
}

/// Crashes every child in `paths` at once; returns the times of the
/// restarts that follow, in seconds after the first.
std::vector<double> storm(fixture& f, const caf::actor& sup,
                          const std::vector<std::string>& paths) {
  for (auto& path : paths) {
    auto hdl = lookup(f.sys, sup, path);
    REQUIRE(hdl);
    f.probe->send(*hdl, crash_atom::value);
  }
  std::vector<caf::timestamp> times;
  while (times.size() < paths.size())
    times.push_back(
      await_event_if(f.probe, [](const lifecycle_event& ev) {
        return ev.kind == lifecycle_kind::child_restarted;
      }).time);
  std::vector<double> result;
  for (auto& t : times)
    result.push_back(std::chrono::duration<double>(t - times.front()).count());
  return result;
}

std::vector<std::string> paths(const std::string& prefix, int n) {
  std::vector<std::string> result;
  for (int i = 0; i < n; ++i)
    result.push_back(prefix + std::to_string(i));
  return result;
}

} // namespace

TEST_CASE("a tree's restart limit spreads a storm of restarts",
          "[restart_limit]") {
  fixture f;
  auto root = supervisor("root").intensity(1000).restart_limit(
    restart_limit{50, 5});
  auto sub = supervisor("sub").intensity(1000);
  for (int i = 0; i < 20; ++i)
    root.child(f.probed("w" + std::to_string(i)));
  for (int i = 0; i < 20; ++i)
    sub.child(f.probed("v" + std::to_string(i)));
  root.child(sub);
  auto sup = f.start(root);
  listen(f, sup);
  auto all = paths("root/w", 20);
  for (auto& p : paths("root/sub/v", 20))
    all.push_back(p);
  auto times = storm(f, sup, all);
  // 40 restarts at 50 a second after a burst of 5: 0.7 s, here or in the
  // subtree; unpaced, they take a few milliseconds.
  CHECK(times.back() >= 0.5);
  // Every one came back, none charged beyond the budget.
  CHECK(f.child(sup, "w0").state == child_state::running);
}

TEST_CASE("a subtree's limit paces the subtree alone", "[restart_limit]") {
  fixture f;
  auto sub = supervisor("sub").intensity(1000).restart_limit(
    restart_limit{20, 1});
  for (int i = 0; i < 10; ++i)
    sub.child(f.probed("v" + std::to_string(i)));
  auto root = supervisor("root").intensity(1000);
  for (int i = 0; i < 10; ++i)
    root.child(f.probed("w" + std::to_string(i)));
  root.child(sub);
  auto sup = f.start(root);
  listen(f, sup);
  auto outside = storm(f, sup, paths("root/w", 10));
  auto inside = storm(f, sup, paths("root/sub/v", 10));
  // 10 at 20 a second after a burst of 1: 0.45 s.
  CHECK(inside.back() >= 0.3);
  CHECK(outside.back() < inside.back());
}

TEST_CASE("a node's restart limit paces the trees started after it",
          "[restart_limit]") {
  fixture f;
  REQUIRE_FALSE(limit_node_restarts(f.sys, restart_limit{20, 1}));
  auto root = supervisor("root").intensity(1000);
  for (int i = 0; i < 10; ++i)
    root.child(f.probed("w" + std::to_string(i)));
  auto sup = f.start(root);
  listen(f, sup);
  auto times = storm(f, sup, paths("root/w", 10));
  CHECK(times.back() >= 0.3);
}

TEST_CASE("a dynamic supervisor's paced restarts keep their arguments",
          "[restart_limit][dynamic]") {
  fixture f;
  auto probe = caf::actor{f.probe};
  auto sup = f.start(
    dynamic_supervisor("sessions",
                       worker("session",
                              [probe](child_context& ctx,
                                      const std::string& name) {
                                return ctx.spawn(probed_worker, name, probe);
                              }))
      .intensity(100)
      .restart_limit(restart_limit{20, 1}));
  std::vector<caf::actor> sessions;
  for (int i = 0; i < 5; ++i) {
    auto x = start_child(f.sys, sup,
                         caf::make_message("s" + std::to_string(i)));
    REQUIRE(x);
    sessions.push_back(*x);
    CHECK(f.next_event() == "started:s" + std::to_string(i));
  }
  listen(f, sup);
  for (auto& x : sessions)
    f.probe->send(x, crash_atom::value);
  std::set<std::string> restarted;
  while (restarted.size() < 5)
    restarted.insert(
      await_event_if(f.probe, [](const lifecycle_event& ev) {
        return ev.kind == lifecycle_kind::child_restarted;
      }).path);
  CHECK(restarted
        == std::set<std::string>{"sessions/session#1", "sessions/session#2",
                                 "sessions/session#3", "sessions/session#4",
                                 "sessions/session#5"});
  // Each came back as itself: the five started again with their names.
  std::set<std::string> started;
  for (auto& x : f.next_events(10))
    if (x.rfind("started:", 0) == 0)
      started.insert(x);
  CHECK(started
        == std::set<std::string>{"started:s0", "started:s1", "started:s2",
                                 "started:s3", "started:s4"});
  auto kids = f.children(sup);
  CHECK(kids.size() == 5);
  CHECK(std::all_of(kids.begin(), kids.end(), [](const child_info& x) {
    return x.state == child_state::running;
  }));
}
