#include "trellis/actors/resource_monitor.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <caf/all.hpp>

#include "trellis/atoms.hpp"
#include "trellis/errc.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/log.hpp"
#include "trellis/actors/process_stats.hpp"
#include "tree_seat.hpp"

namespace trellis {

namespace {

using tick_atom = caf::atom_constant<caf::atom("tr_rmtick")>;

using time_point = caf::actor_clock::time_point;

/// The restarts of one target (and its subtree), from the tree's events:
/// per second over the last minute, so that a storm costs no memory.
class restart_count {
public:
  void add(time_point now) {
    advance(now);
    ++slots_[static_cast<size_t>(second_ % 60)];
    ++since_sample_;
  }

  /// Returns the restarts in the last minute.
  uint64_t last_minute(time_point now) {
    advance(now);
    uint64_t result = 0;
    for (auto n : slots_)
      result += n;
    return result;
  }

  /// Returns the restarts since the last call.
  uint64_t take_since_sample() {
    return std::exchange(since_sample_, 0);
  }

private:
  /// Clears the slots of the seconds that passed since the last call.
  void advance(time_point now) {
    auto second = std::chrono::duration_cast<std::chrono::seconds>(
                    now.time_since_epoch())
                    .count();
    auto steps = std::min<int64_t>(second - second_, 60);
    for (int64_t i = 1; i <= steps; ++i)
      slots_[static_cast<size_t>((second_ + i) % 60)] = 0;
    second_ = std::max(second_, second);
  }

  std::array<uint64_t, 60> slots_{};
  int64_t second_ = 0;
  uint64_t since_sample_ = 0;
};

struct monitor_state {
  resource_monitor_config config;
  std::vector<alarm> alarms; // One per threshold, same order.
  /// Per threshold, same order: its trend, if it forecasts.
  std::vector<std::optional<trend_forecast>> forecasts;
  /// Per threshold, same order: its band, if it is `anomalous`.
  std::vector<std::optional<rate_anomaly>> anomalies;
  /// By target, for thresholds on `metric::restart_rate`.
  std::map<std::string, restart_count> restarts;
  process_sampler sampler;
  detail::tree_seat seat;
  /// Targets with a probe on its way: one at a time, so that probes do not
  /// pile up in a backlogged mailbox.
  std::set<std::string> probing;
  /// The last problem logged per target, to log each change once.
  std::map<std::string, std::string> problems;
  static inline const char* name = "trellis.resource_monitor";
};

using monitor_actor = caf::stateful_actor<monitor_state>;

void tell(monitor_actor* self, lifecycle_kind kind, log_level level,
          const alarm& x, const threshold& t, std::string detail) {
  auto& seat = self->state.seat;
  seat.tell(self->system(), kind, level,
            x.target.empty() ? seat.path : x.target, x.name,
            std::move(detail));
  if (t.on_change())
    t.on_change()(x);
}

std::string figure(const char* key, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), " %s=%g", key, x);
  return buf;
}

long long milliseconds(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

/// Tells that alarm `i` was set or cleared.
void report(monitor_actor* self, size_t i) {
  auto& x = self->state.alarms[i];
  auto detail = describe(x);
  if (auto& band = self->state.anomalies[i])
    detail += " window_ms=" + std::to_string(milliseconds(band->params().window))
              + figure("baseline_per_minute", band->baseline_per_minute());
  tell(self, x.active ? alarm_set : alarm_cleared,
       x.active ? log_level::warn : log_level::info, x,
       self->state.config.thresholds()[i], std::move(detail));
}

/// Tells that alarm `i` started to predict its level, or stopped for
/// `outcome`.
void report_prediction(monitor_actor* self, size_t i, const char* outcome) {
  auto& x = self->state.alarms[i];
  auto& t = self->state.config.thresholds()[i];
  auto detail = describe(x);
  if (x.predicted) {
    auto& f = *self->state.forecasts[i];
    auto eta = f.time_to_reach(x.raise_at).value_or(caf::timespan{0});
    detail += figure("trend", f.slope()) + "/s reached_in_ms="
              + std::to_string(milliseconds(eta))
              + " horizon_ms=" + std::to_string(milliseconds(*t.horizon()));
  } else {
    detail += std::string{" outcome="} + outcome;
  }
  tell(self, x.predicted ? alarm_predicted : alarm_prediction_cleared,
       x.predicted ? log_level::warn : log_level::info, x, t,
       std::move(detail));
}

/// Asks the target's supervisor to replace it now. An exit message would
/// wait behind the very backlog that raised the alarm. Without a handle,
/// looks the target up first.
void restart(monitor_actor* self, const alarm& x, const caf::actor& target) {
  if (!target) {
    self
      ->request(self->state.seat.supervisor, self->state.config.probe_timeout(),
                lookup_atom::value, x.target)
      .then(
        [self, x](caf::actor& hdl) {
          if (hdl)
            restart(self, x, hdl);
        },
            [](caf::error&) {
              // Restarting or gone: nothing to restart now.
            });
    return;
  }
  auto parent = x.target.substr(0, x.target.rfind('/'));
  auto reason = make_error(errc::unhealthy, x.target,
                           "alarm " + x.name + ": " + describe(x));
  auto timeout = self->state.config.probe_timeout();
  self
    ->request(self->state.seat.supervisor, timeout, lookup_atom::value, parent)
    .then(
      [=](caf::actor& sup) {
        self->request(sup, timeout, unhealthy_atom::value, target, reason)
          .then([](caf::ok_atom) {},
                [](caf::error&) {
                  // Gone or replaced meanwhile: nothing left to restart.
                });
      },
      [](caf::error&) {});
}

/// Logs a problem with `target` when it differs from the last one; an empty
/// `what` means the target is fine again.
void note_problem(monitor_actor* self, const std::string& target,
                  const std::string& what) {
  auto& last = self->state.problems[target];
  if (last == what)
    return;
  last = what;
  if (!what.empty())
    detail::report::monitor_problem(self->state.seat.path, target, what);
}

void update_all(monitor_actor* self, metric what, const std::string& target,
                double value, const caf::actor& hdl = {});

/// Applies a new value to threshold `i`; `target` is the watched actor.
void update(monitor_actor* self, size_t i, double value,
            const caf::actor& target = {}) {
  auto& st = self->state;
  // A band has levels of its own, moved by `sample`.
  if (st.anomalies[i])
    return;
  auto& x = st.alarms[i];
  auto& t = st.config.thresholds()[i];
  x.value = value;
  auto& forecast = st.forecasts[i];
  if (forecast)
    forecast->add(self->clock().now(), value);
  if (!x.active && value >= x.raise_at) {
    x.active = true;
    if (x.predicted) {
      x.predicted = false;
      report_prediction(self, i, "reached");
    }
    report(self, i);
    if (t.restarts_target())
      restart(self, x, target);
  } else if (x.active && value <= x.clear_at) {
    x.active = false;
    report(self, i);
  }
  if (forecast && !x.active) {
    auto now = predicts(*forecast, x.raise_at, *t.horizon(), x.predicted);
    if (now != x.predicted) {
      x.predicted = now;
      report_prediction(self, i, "trend_turned");
    }
  }
}

/// Moves the bands of the `anomalous` thresholds by the restarts since the
/// last sample, and measures `metric::restart_rate`.
void sample_restarts(monitor_actor* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  // Once per target: two bands on one target see the same restarts.
  std::map<std::string, uint64_t> fresh;
  for (auto& [target, count] : st.restarts)
    fresh[target] = count.take_since_sample();
  for (size_t i = 0; i < st.alarms.size(); ++i) {
    auto& band = st.anomalies[i];
    if (!band)
      continue;
    auto& x = st.alarms[i];
    auto changed = band->add(now, fresh[x.target]);
    x.value = static_cast<double>(band->in_window());
    x.raise_at = static_cast<double>(band->band() + 1);
    x.clear_at = band->expected();
    if (changed) {
      x.active = band->anomalous();
      report(self, i);
      auto& t = st.config.thresholds()[i];
      if (x.active && t.restarts_target())
        restart(self, x, caf::actor{});
    }
  }
  for (auto& [target, count] : st.restarts)
    update_all(self, metric::restart_rate, target,
               static_cast<double>(count.last_minute(now)));
}

/// Counts a restart in the tree for every target it falls under.
void count_restart(monitor_actor* self, const lifecycle_event& ev) {
  if (ev.kind != lifecycle_kind::child_restarted)
    return;
  auto now = self->clock().now();
  for (auto& [target, count] : self->state.restarts) {
    auto under = ev.path.size() > target.size()
                 && ev.path.compare(0, target.size(), target) == 0
                 && ev.path[target.size()] == '/';
    if (ev.path == target || under)
      count.add(now);
  }
}

/// Applies `value` to every threshold on metric `what` of `target`.
void update_all(monitor_actor* self, metric what, const std::string& target,
                double value, const caf::actor& hdl) {
  for (size_t i = 0; i < self->state.alarms.size(); ++i)
    if (self->state.alarms[i].what == what
        && self->state.alarms[i].target == target)
      update(self, i, value, hdl);
}

void probe(monitor_actor* self, const std::string& target,
           const caf::actor& hdl) {
  // The probe waits its turn: its round trip is the queueing delay, and the
  // depth it reports is what queued up behind it meanwhile.
  auto sent = std::chrono::steady_clock::now();
  auto rtt = [=] {
    auto ms = std::chrono::duration<double, std::milli>(
      std::chrono::steady_clock::now() - sent);
    update_all(self, metric::probe_rtt_ms, target, ms.count(), hdl);
  };
  if (!self->state.probing.insert(target).second)
    return;
  self->request(hdl, self->state.config.probe_timeout(),
                mailbox_probe_atom::value)
    .then(
      [=](uint64_t depth) {
        self->state.probing.erase(target);
        note_problem(self, target, "");
        rtt();
        update_all(self, metric::mailbox_depth, target,
                   static_cast<double>(depth), hdl);
      },
      [=](caf::error& err) {
        self->state.probing.erase(target);
        if (err == caf::sec::request_timeout)
          rtt();
        else if (err != caf::sec::request_receiver_down)
          note_problem(self, target,
                       "probe failed: " + self->system().render(err));
      });
}

void sample(monitor_actor* self) {
  if (auto stats = self->state.sampler.sample()) {
    update_all(self, metric::cpu_percent, "", stats->cpu_percent);
    update_all(self, metric::resident_bytes, "",
               static_cast<double>(stats->resident_bytes));
    update_all(self, metric::threads, "", static_cast<double>(stats->threads));
    update_all(self, metric::open_fds, "", static_cast<double>(stats->open_fds));
  } else {
    detail::report::monitor_failed(self->system(), self->state.seat.path,
                                   stats.error());
  }
  sample_restarts(self);
  std::set<std::string> targets;
  for (auto& x : self->state.alarms)
    if (x.what == metric::mailbox_depth || x.what == metric::probe_rtt_ms)
      targets.insert(x.target);
  for (auto& target : targets)
    self
      ->request(self->state.seat.supervisor, self->state.config.probe_timeout(),
                lookup_atom::value, target)
      .then([=](caf::actor& hdl) { probe(self, target, hdl); },
            [=](caf::error& err) {
              // Restarting: nothing to measure until it is back. Anything
              // else (an unknown path, a stopped child) is worth a line.
              if (!is(err, errc::restarting))
                note_problem(self, target,
                             "lookup failed: " + self->system().render(err));
            });
}

caf::behavior monitor(monitor_actor* self, resource_monitor_config config,
                      detail::tree_seat seat) {
  auto& st = self->state;
  st.config = std::move(config);
  st.seat = std::move(seat);
  for (auto& t : st.config.thresholds()) {
    st.alarms.push_back(alarm{t.name(), t.what(), t.target(), 0, t.raise_at(),
                              t.clear_at(), false, false});
    st.forecasts.emplace_back();
    if (t.horizon())
      st.forecasts.back().emplace(t.trend());
    st.anomalies.emplace_back();
    if (t.anomaly())
      st.anomalies.back().emplace(*t.anomaly());
    if (t.what() == metric::restart_rate)
      st.restarts[t.target()];
  }
  // Restarts are counted from the tree's events, which come to members of
  // its group.
  if (!st.restarts.empty() && st.seat.events)
    self->join(st.seat.events);
  // The first sample after one interval, so that the first CPU rate spans
  // a whole interval.
  self->delayed_send(self, st.config.interval(), tick_atom::value);
  return {
    [self](tick_atom) {
      sample(self);
      self->delayed_send(self, self->state.config.interval(),
                         tick_atom::value);
    },
    [self](caf::get_atom, alarms_atom) { return self->state.alarms; },
    [self](const lifecycle_event& ev) { count_restart(self, ev); },
  };
}

} // namespace

caf::error resource_monitor_config::validate() const {
  if (interval_ <= caf::timespan{0})
    return make_error(errc::invalid_spec, "interval",
                      "a resource monitor needs a positive interval");
  if (probe_timeout_ <= caf::timespan{0})
    return make_error(errc::invalid_spec, "probe_timeout",
                      "a resource monitor needs a positive probe timeout");
  for (auto& t : thresholds_) {
    if (auto err = t.validate())
      return err;
    // A probe that times out counts as the timeout: a higher level could
    // never be reached.
    auto timeout_ms = std::chrono::duration<double, std::milli>(probe_timeout_);
    if (t.what() == metric::probe_rtt_ms && t.raise_at() > timeout_ms.count())
      return make_error(errc::invalid_spec, "threshold",
                        "'" + t.name()
                          + "' raises above the probe timeout, which caps "
                            "probe_rtt_ms");
    // Restarts are counted per sample: a band's window must hold whole
    // samples, several of them, or it counts more time than it assumes.
    if (auto& band = t.anomaly();
        band
        && (band->window < 4 * interval_
            || band->window.count() % interval_.count() != 0))
      return make_error(errc::invalid_spec, "threshold",
                        "'" + t.name()
                          + "' needs a window of at least 4 intervals, and "
                            "a whole number of them");
  }
  return caf::none;
}

child_spec resource_monitor(std::string id, resource_monitor_config config) {
  return worker(std::move(id),
                [config](child_context& ctx) -> start_result {
                  if (auto err = config.validate())
                    return err;
                  return ctx.spawn(monitor, config,
                                   detail::tree_seat::of(ctx));
                });
}

} // namespace trellis
