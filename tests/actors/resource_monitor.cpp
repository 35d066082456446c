#include "test_support.hpp"

#include "trellis/resource_monitor.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// Takes 2 ms per message, so a faster sender builds a backlog.
caf::behavior slow_worker(caf::event_based_actor*) {
  return {[](int x) {
    std::this_thread::sleep_for(2ms);
    return x;
  }};
}

/// Sends `n` messages to `dest`, one every 0.5 ms: twice as fast as
/// `slow_worker` takes them, so a backlog builds up while it runs.
void flood(const caf::actor& dest, int n) {
  for (int i = 0; i < n; ++i) {
    caf::anon_send(dest, i);
    std::this_thread::sleep_for(500us);
  }
}

lifecycle_event next_alarm(caf::scoped_actor& self) {
  lifecycle_event result;
  bool found = false;
  while (!found) {
    bool timed_out = false;
    self->receive(
      [&](lifecycle_event& ev) {
        if (ev.kind == lifecycle_kind::alarm_set
            || ev.kind == lifecycle_kind::alarm_cleared) {
          result = std::move(ev);
          found = true;
        }
      },
      caf::after(patience) >> [&] { timed_out = true; });
    if (timed_out)
      FAIL("no alarm event");
  }
  return result;
}

} // namespace

TEST_CASE("a mailbox past its threshold raises an alarm that clears when it "
          "drains",
          "[actors][resource_monitor]") {
  fixture f;
  log_capture logs;
  std::vector<alarm> seen;
  auto sup = f.start(
    supervisor("root")
      .child(worker("slow", slow_worker))
      .child(resource_monitor(
        "monitor",
        resource_monitor_config{}.interval(10ms).add(
          threshold("backlog", metric::mailbox_depth, 100, 10)
            .target("root/slow")
            .on_change([&](const alarm& x) { seen.push_back(x); })))));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  flood(f.actor_of(sup, "slow"), 600);
  auto set = next_alarm(f.probe);
  CHECK(set.kind == lifecycle_kind::alarm_set);
  CHECK(set.path == "root/slow");
  CHECK(set.id == "backlog");
  CHECK_THAT(set.detail, Catch::StartsWith("metric=mailbox_depth value=")
                           && Catch::Contains("raise_at=100 clear_at=10"));
  auto cleared = next_alarm(f.probe);
  CHECK(cleared.kind == lifecycle_kind::alarm_cleared);
  CHECK(cleared.id == "backlog");
  // The monitor's own view, and the log.
  alarm state;
  f.probe->request(f.actor_of(sup, "monitor"), patience, caf::get_atom::value,
                   alarms_atom::value)
    .receive([&](std::vector<alarm>& xs) { state = xs.at(0); },
             [](caf::error& err) { FAIL(to_string(err)); });
  CHECK_FALSE(state.active);
  CHECK(state.value <= 10);
  CHECK(logs.reports("alarm_set monitor=root/monitor name=backlog").size() == 1);
  CHECK(logs.reports("alarm_cleared monitor=root/monitor name=backlog").size()
        == 1);
  stop_supervisor(f.sys, sup);
  // on_change ran inside the monitor, which has stopped by now.
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].active);
  CHECK(seen[0].value >= 100);
  CHECK_FALSE(seen[1].active);
}

TEST_CASE("an alarm may restart its target", "[actors][resource_monitor]") {
  fixture f;
  auto sup = f.start(
    supervisor("root")
      .intensity(5)
      .child(worker("slow", slow_worker))
      .child(resource_monitor(
        "monitor", resource_monitor_config{}.interval(10ms).add(
                     threshold("backlog", metric::mailbox_depth, 100, 10)
                       .target("root/slow")
                       .restart_target()))));
  auto slow = f.actor_of(sup, "slow");
  flood(slow, 600);
  auto fresh = f.await_replaced(sup, "slow", slow);
  CHECK(fresh);
  auto info = f.child(sup, "slow");
  CHECK(info.restart_count == 1);
  CHECK_THAT(info.last_exit_reason,
             Catch::Contains("unhealthy") && Catch::Contains("alarm backlog"));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a process threshold alarms on the process' own numbers",
          "[actors][resource_monitor]") {
  fixture f;
  log_capture logs;
  // Every process has at least one thread: this alarm must go off.
  auto sup = f.start(supervisor("root").child(resource_monitor(
    "monitor", resource_monitor_config{}.interval(10ms).add(
                 threshold("threads", metric::threads, 1, 0)))));
  auto monitor = f.actor_of(sup, "monitor");
  alarm state;
  for (int i = 0; i < 20'000 && !state.active; ++i) {
    f.probe->request(monitor, patience, caf::get_atom::value, alarms_atom::value)
      .receive([&](std::vector<alarm>& xs) { state = xs.at(0); },
               [](caf::error& err) { FAIL(to_string(err)); });
    std::this_thread::sleep_for(1ms);
  }
  CHECK(state.active);
  CHECK(state.value >= 1);
  CHECK(state.target.empty());
  CHECK(logs.reports("alarm_set monitor=root/monitor name=threads metric=threads")
          .size()
        == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("an invalid monitor config fails the start",
          "[actors][resource_monitor]") {
  fixture f;
  auto check = [&](threshold t, const std::string& text) {
    auto res = start_supervisor(
      f.sys, supervisor("root").child(resource_monitor(
               "monitor", resource_monitor_config{}.add(std::move(t)))));
    REQUIRE_FALSE(res);
    CHECK_THAT(f.render(res.error()),
               Catch::Contains("invalid_spec") && Catch::Contains(text));
  };
  check(threshold("a", metric::mailbox_depth, 10, 1), "needs a target path");
  check(threshold("b", metric::threads, 1, 10), "clears above");
  check(threshold("c", metric::threads, 10, 1).target("root/x"),
        "watches the process");
}
