#include "test_support.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "trellis/actors/process_stats.hpp"
#include "trellis/actors/resource_monitor.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// Handles ints only while `open` is set; until then each one waits, so a
/// backlog builds up however slowly the test sends.
caf::behavior gated_worker(caf::event_based_actor*,
                           std::shared_ptr<std::atomic<bool>> open) {
  return {[open](int x) {
    while (!open->load())
      std::this_thread::sleep_for(1ms);
    return x;
  }};
}

/// Sends `n` ints to `dest` over about `n / 10` ms, so that the monitor's
/// probes (every 10 ms) land among them with messages behind them.
void feed(const caf::actor& dest, int n) {
  for (int i = 0; i < n; ++i) {
    caf::anon_send(dest, i);
    if (i % 10 == 0)
      std::this_thread::sleep_for(1ms);
  }
}

struct open_on_exit {
  std::shared_ptr<std::atomic<bool>> open;
  ~open_on_exit() {
    open->store(true);
  }
};

lifecycle_event next_alarm(caf::scoped_actor& self) {
  return await_event_if(self, [](const lifecycle_event& ev) {
    return ev.kind == alarm_set
           || ev.kind == alarm_cleared;
  });
}

} // namespace

TEST_CASE("a mailbox past its threshold raises an alarm that clears when it "
          "drains",
          "[actors][resource_monitor]") {
  fixture f;
  log_capture logs;
  auto open = std::make_shared<std::atomic<bool>>(false);
  open_on_exit guard{open};
  std::vector<alarm> seen;
  auto sup = f.start(
    supervisor("root")
      .child(worker("slow", gated_worker, open))
      .child(resource_monitor(
        "monitor",
        resource_monitor_config{}.interval(10ms).add(
          threshold("backlog", metric::mailbox_depth, 100, 10)
            .target("root/slow")
            .on_change([&](const alarm& x) { seen.push_back(x); })))));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  feed(f.actor_of(sup, "slow"), 2000);
  open->store(true);
  auto set = next_alarm(f.probe);
  CHECK(set.kind == alarm_set);
  CHECK(set.path == "root/slow");
  CHECK(set.id == "backlog");
  CHECK_THAT(set.detail, Catch::StartsWith("metric=mailbox_depth value=")
                           && Catch::Contains("raise_at=100 clear_at=10"));
  auto cleared = next_alarm(f.probe);
  CHECK(cleared.kind == alarm_cleared);
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
  auto open = std::make_shared<std::atomic<bool>>(false);
  open_on_exit guard{open};
  auto sup = f.start(
    supervisor("root")
      .intensity(5)
      .child(worker("slow", gated_worker, open))
      .child(resource_monitor(
        "monitor", resource_monitor_config{}.interval(10ms).add(
                     threshold("backlog", metric::mailbox_depth, 100, 10)
                       .target("root/slow")
                       .restart_target()))));
  auto slow = f.actor_of(sup, "slow");
  f.probe->monitor(slow);
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  // The probes answer only once the gate opens: keep feeding until then,
  // then open it and let the first probe see what queued behind it.
  feed(slow, 2000);
  open->store(true);
  auto set = next_alarm(f.probe);
  CHECK(set.kind == alarm_set);
  // The supervisor replaces the worker at once, without waiting for it to
  // read an exit message behind its backlog.
  auto fresh = f.await_replaced(sup, "slow", slow);
  CHECK(fresh);
  auto info = f.child(sup, "slow");
  CHECK(info.restart_count == 1);
  CHECK_THAT(info.last_exit_reason,
             Catch::StartsWith("trellis::errc::unhealthy: root/slow, alarm "
                               "backlog: metric=mailbox_depth"));
  // The old incarnation finishes what was queued for it, then dies.
  caf::error reason;
  f.probe->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                   caf::after(patience) >> [] { FAIL("old worker lives"); });
  CHECK(reason == caf::exit_reason::kill);
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
  check(threshold("b", metric::threads, 1, 10), "must clear below");
  check(threshold("b2", metric::threads, 5, 5), "must clear below");
  check(threshold("d", metric::probe_rtt_ms, 5000, 10).target("root/x"),
        "above the probe timeout");
  check(threshold("c", metric::threads, 10, 1).target("root/x"),
        "watches the process");
}

namespace {

/// The monitor's current view of its only threshold.
alarm only_alarm(fixture& f, const caf::actor& monitor) {
  alarm result;
  f.probe->request(monitor, patience, caf::get_atom::value, alarms_atom::value)
    .receive([&](std::vector<alarm>& xs) { result = xs.at(0); },
             [](caf::error& err) { FAIL(to_string(err)); });
  return result;
}

/// Polls the monitor until `pred` holds for its threshold; fails, saying
/// `what`, after `patience`.
template <class Predicate>
alarm await_alarm(fixture& f, const caf::actor& monitor, const char* what,
                  Predicate pred) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  auto x = only_alarm(f, monitor);
  while (!pred(x)) {
    if (std::chrono::steady_clock::now() > deadline)
      FAIL("waited for " << what << "; last value " << x.value
                         << (x.active ? ", active" : ", inactive"));
    std::this_thread::sleep_for(5ms);
    x = only_alarm(f, monitor);
  }
  return x;
}

} // namespace

TEST_CASE("an open-files alarm keeps its state between its two levels "
          "(hysteresis)",
          "[actors][resource_monitor]") {
  fixture f;
  process_sampler sampler;
  auto base = sampler.sample();
  REQUIRE(base);
  // Margins of 20 for the descriptors others in this process open.
  auto fds = static_cast<double>(base->open_fds);
  auto sup = f.start(supervisor("root").child(resource_monitor(
    "monitor", resource_monitor_config{}.interval(10ms).add(
                 threshold("files", metric::open_fds, fds + 60, fds + 20)))));
  auto monitor = f.actor_of(sup, "monitor");
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  std::vector<std::FILE*> opened;
  auto open_until = [&](size_t n) {
    while (opened.size() < n) {
      auto file = std::fopen("/dev/null", "r");
      REQUIRE(file != nullptr);
      opened.push_back(file);
    }
    while (opened.size() > n) {
      std::fclose(opened.back());
      opened.pop_back();
    }
  };
  open_until(80);
  auto set = next_alarm(f.probe);
  CHECK(set.kind == alarm_set);
  CHECK(set.id == "files");
  CHECK_THAT(set.detail, Catch::StartsWith("metric=open_fds"));
  // Between the levels: the value follows, the alarm stays set.
  open_until(40);
  auto between = await_alarm(f, monitor, "a value between the levels",
                             [&](const alarm& x) {
                               return x.value < fds + 50;
                             });
  CHECK(between.active);
  // Past the lower level: cleared, once.
  open_until(0);
  auto cleared = next_alarm(f.probe);
  CHECK(cleared.kind == alarm_cleared);
  CHECK(cleared.id == "files");
  CHECK_FALSE(only_alarm(f, monitor).active);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a CPU alarm goes off while the process computes and clears when "
          "it stops",
          "[actors][resource_monitor]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(resource_monitor(
    "monitor", resource_monitor_config{}.interval(100ms).add(
                 threshold("cpu", metric::cpu_percent, 30, 15)))));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  // Two spinning threads: well past 30 % of a core, however busy the
  // machine, until the alarm is seen.
  std::atomic<bool> spin{true};
  auto spinner = [&] {
    volatile uint64_t x = 0;
    while (spin.load(std::memory_order_relaxed))
      x = x + 1;
  };
  std::thread a{spinner};
  std::thread b{spinner};
  auto set = next_alarm(f.probe);
  spin = false;
  a.join();
  b.join();
  CHECK(set.kind == alarm_set);
  CHECK(set.id == "cpu");
  CHECK_THAT(set.detail, Catch::StartsWith("metric=cpu_percent"));
  auto cleared = next_alarm(f.probe);
  CHECK(cleared.kind == alarm_cleared);
  CHECK(cleared.id == "cpu");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a probe-time alarm goes off when a watched actor stops reading "
          "its mailbox, counting a timed-out probe as the timeout",
          "[actors][resource_monitor]") {
  fixture f;
  auto open = std::make_shared<std::atomic<bool>>(true);
  open_on_exit guard{open};
  auto sup = f.start(
    supervisor("root")
      .child(worker("slow", gated_worker, open))
      .child(resource_monitor(
        "monitor", resource_monitor_config{}
                     .interval(20ms)
                     .probe_timeout(300ms)
                     .add(threshold("latency", metric::probe_rtt_ms, 300, 100)
                            .target("root/slow")))));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  // Stuck in a handler: probes time out.
  open->store(false);
  caf::anon_send(f.actor_of(sup, "slow"), 1);
  auto set = next_alarm(f.probe);
  CHECK(set.kind == alarm_set);
  CHECK(set.path == "root/slow");
  CHECK(set.id == "latency");
  CHECK_THAT(set.detail, Catch::StartsWith("metric=probe_rtt_ms value=")
                           && Catch::Contains("raise_at=300"));
  open->store(true);
  auto cleared = next_alarm(f.probe);
  CHECK(cleared.kind == alarm_cleared);
  CHECK(cleared.id == "latency");
  stop_supervisor(f.sys, sup);
}

namespace {

using poll_atom = caf::atom_constant<caf::atom("poll")>;

/// Throws 20 ms after it starts while `storm` is set; polls it otherwise.
caf::behavior storm_worker(caf::event_based_actor* self,
                           std::shared_ptr<std::atomic<bool>> storm) {
  self->delayed_send(self, 20ms, poll_atom::value);
  return {
    [self, storm](poll_atom) {
      if (storm->load())
        throw std::runtime_error("the backend is gone");
      self->delayed_send(self, 20ms, poll_atom::value);
    },
  };
}

/// A tree whose `root/sub/flaky` restarts while `storm` is set, watched by
/// a monitor sampling every `interval` with `ts`.
supervisor_spec storm_tree(std::shared_ptr<std::atomic<bool>> storm,
                           caf::timespan interval, std::vector<threshold> ts) {
  resource_monitor_config config;
  config.interval(interval);
  for (auto& t : ts)
    config.add(t);
  return supervisor("root")
    .intensity(100'000)
    .child(supervisor("sub")
             .intensity(100'000)
             .child(worker("flaky", storm_worker, storm))
             .as_child())
    .child(resource_monitor("monitor", config));
}

bool about_alarms(const lifecycle_event& ev) {
  return ev.kind == alarm_set || ev.kind == alarm_cleared
         || ev.kind == alarm_predicted || ev.kind == alarm_prediction_cleared;
}

} // namespace

TEST_CASE("a threshold that forecasts predicts a rising restart rate before "
          "it reaches its level",
          "[actors][resource_monitor][prediction]") {
  fixture f;
  auto storm = std::make_shared<std::atomic<bool>>(true);
  std::vector<alarm> seen;
  auto t = threshold("storm", metric::restart_rate, 60, 5)
             .target("root/sub")
             .forecast(1min, trend_params{0.5, 0.5, 3})
             .on_change([&](const alarm& x) { seen.push_back(x); });
  auto sup = f.start(storm_tree(storm, 50ms, {t}));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  auto predicted = await_event_if(f.probe, about_alarms);
  CHECK(predicted.kind == alarm_predicted);
  CHECK(predicted.path == "root/sub");
  CHECK(predicted.id == "storm");
  CHECK_THAT(predicted.detail,
             Catch::StartsWith("metric=restart_rate value=")
               && Catch::Contains(" raise_at=60 ") && Catch::Contains(" trend=")
               && Catch::Contains(" reached_in_ms=")
               && Catch::Contains(" horizon_ms=60000"));
  // The prediction ends as the level is reached, before the alarm.
  auto reached = await_event_if(f.probe, about_alarms);
  CHECK(reached.kind == alarm_prediction_cleared);
  CHECK_THAT(reached.detail, Catch::EndsWith(" outcome=reached"));
  auto set = await_event_if(f.probe, about_alarms);
  CHECK(set.kind == alarm_set);
  CHECK(set.id == "storm");
  storm->store(false);
  stop_supervisor(f.sys, sup);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].predicted);
  CHECK_FALSE(seen[0].active);
  CHECK_FALSE(seen[1].predicted);
  CHECK(seen[2].active);
}

TEST_CASE("a restart storm in a subtree leaves its own band and clears "
          "after it",
          "[actors][resource_monitor][prediction]") {
  fixture f;
  auto storm = std::make_shared<std::atomic<bool>>(false);
  // Two bands on one target see the same restarts.
  auto band = [](std::string name) {
    return threshold::anomalous(std::move(name),
                                rate_anomaly_params{500ms, 500ms, 1min, 1e-4,
                                                    1e-2, 1})
      .target("root/sub");
  };
  auto sup = f.start(storm_tree(storm, 20ms, {band("storm"), band("too")}));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  // Learns a quiet normal, then storms.
  std::this_thread::sleep_for(800ms);
  storm->store(true);
  std::set<std::string> raised;
  for (int i = 0; i < 2; ++i) {
    auto set = await_event_if(f.probe, about_alarms);
    CHECK(set.kind == alarm_set);
    CHECK(set.path == "root/sub");
    CHECK_THAT(set.detail, Catch::StartsWith("metric=restart_rate value=")
                             && Catch::Contains(" target=root/sub")
                             && Catch::Contains(" window_ms=500")
                             && Catch::Contains(" baseline_per_minute="));
    raised.insert(set.id);
  }
  CHECK(raised == std::set<std::string>{"storm", "too"});
  storm->store(false);
  std::set<std::string> cleared;
  for (int i = 0; i < 2; ++i) {
    auto ev = await_event_if(f.probe, about_alarms);
    CHECK(ev.kind == alarm_cleared);
    cleared.insert(ev.id);
  }
  CHECK(cleared == raised);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("forecasts and bands are checked", "[actors][resource_monitor]") {
  auto invalid = [](const threshold& t) {
    return is(resource_monitor_config{}.add(t).validate(), errc::invalid_spec);
  };
  CHECK(invalid(threshold::anomalous("a")));
  CHECK_FALSE(invalid(threshold::anomalous("a").target("root/x")));
  CHECK(invalid(threshold::anomalous("a").target("root/x").forecast(1min)));
  CHECK(invalid(threshold::anomalous(
                  "a", rate_anomaly_params{1min, 10min, 1h, 0.5, 0.1, 1})
                  .target("root/x")));
  CHECK(invalid(threshold::anomalous(
                  "a", rate_anomaly_params{0s, 10min, 1h, 1e-4, 1e-2, 1})
                  .target("root/x")));
  auto memory = threshold("m", metric::resident_bytes, 2e9, 1e9);
  CHECK_FALSE(invalid(memory.forecast(10min)));
  CHECK(invalid(memory.forecast(0s)));
  CHECK(invalid(memory.forecast(10min, trend_params{0, 0.1, 10})));
  CHECK(invalid(memory.forecast(10min, trend_params{0.1, 1.5, 10})));
  CHECK(invalid(threshold("r", metric::restart_rate, 10, 1)));
  CHECK(invalid(threshold("n", metric::threads, std::nan(""), 1)));
  CHECK(invalid(threshold::anomalous(
                  "a", rate_anomaly_params{1min, 10min, 1h, 1e-4, 1e-2,
                                           std::numeric_limits<double>::infinity()})
                  .target("root/x")));
  // A band's window holds whole samples, several of them.
  auto band = threshold::anomalous("a", rate_anomaly_params{500ms}).target("root/x");
  CHECK_FALSE(is(resource_monitor_config{}.interval(100ms).add(band).validate(),
                 errc::invalid_spec));
  CHECK(is(resource_monitor_config{}.interval(200ms).add(band).validate(),
           errc::invalid_spec));
  CHECK(is(resource_monitor_config{}.interval(150ms).add(band).validate(),
           errc::invalid_spec));
}
