#pragma once

/// @file
/// Thresholds and alarms of the resource monitor. Part of `trellis::actors`.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include "trellis/actors/rate_anomaly.hpp"
#include "trellis/actors/trend_forecast.hpp"
#include "trellis/lifecycle_event.hpp"

namespace trellis {

/// The kind of `lifecycle_event` a resource monitor publishes when a
/// threshold was reached (a kind of this library, see `first_library_kind`):
/// `path` is the watched actor's (or the monitor's, for a process metric),
/// `id` the alarm's name, `detail` its metric, value and levels.
inline constexpr lifecycle_kind alarm_set{first_library_kind};
/// The kind of `lifecycle_event` a resource monitor publishes when a value
/// went back to its threshold's clear level; its fields as for `alarm_set`.
inline constexpr lifecycle_kind alarm_cleared{first_library_kind + 1};

/// The kind of `lifecycle_event` a resource monitor publishes when a
/// threshold that forecasts (`threshold::forecast`) predicts that its value
/// reaches `raise_at` within the horizon at its current trend; its fields
/// as for `alarm_set`, and `detail` adds the estimate: `trend=<per second>
/// reached_in_ms=<estimate> horizon_ms=<horizon>`.
inline constexpr lifecycle_kind alarm_predicted{first_library_kind + 3};

/// The kind of `lifecycle_event` a resource monitor publishes when a
/// prediction ends; `detail` adds `outcome=trend_turned` (the estimate left
/// twice the horizon, or the trend turned) or `outcome=reached` (the value
/// reached `raise_at`: `alarm_set` follows).
inline constexpr lifecycle_kind alarm_prediction_cleared{first_library_kind
                                                         + 4};

namespace detail {

inline constexpr lifecycle_kind_info alarm_predicted_info{
  "alarm_predicted", "monitor", "name"};

inline constexpr lifecycle_kind_info alarm_prediction_cleared_info{
  "alarm_prediction_cleared", "monitor", "name"};

inline constexpr lifecycle_kind_info alarm_set_info{
  "alarm_set", "monitor", "name", alarm_effect::raises};

inline constexpr lifecycle_kind_info alarm_cleared_info{
  "alarm_cleared", "monitor", "name", alarm_effect::clears};

/// Describes the kinds in every program that sees this header, before
/// `main` runs.
inline const bool alarm_kinds_described
  = register_kind(alarm_set, alarm_set_info)
    && register_kind(alarm_cleared, alarm_cleared_info)
    && register_kind(alarm_predicted, alarm_predicted_info)
    && register_kind(alarm_prediction_cleared, alarm_prediction_cleared_info);

} // namespace detail

/// What a resource monitor measures.
enum class metric : uint8_t {
  /// The process' CPU use, in percent of one core.
  cpu_percent,
  /// The process' resident memory, in bytes.
  resident_bytes,
  /// The process' threads.
  threads,
  /// The process' open file descriptors.
  open_fds,
  /// Messages waiting in a supervised actor's mailbox, as its probe sees
  /// them: those queued behind the probe (per target).
  mailbox_depth,
  /// Round trip of a probe through a supervised actor's mailbox, in
  /// milliseconds: its queueing delay (per target). A probe that times out
  /// counts as the timeout.
  probe_rtt_ms,
  /// Restarts of a supervised actor, or of a whole subtree when the target
  /// is a supervisor, in the last minute (per target), counted from the
  /// tree's `child_restarted` events.
  restart_rate,
};

/// Returns the enumerator's name.
std::string to_string(metric x);

/// Returns whether `x` is measured per supervised actor (needs a target).
bool per_actor(metric x);

/// The state of one threshold: set when its value reached `raise_at`,
/// cleared when it fell back to `clear_at` (hysteresis: between the two,
/// an alarm keeps its state, so a value hovering at one level does not
/// flap).
struct alarm {
  /// The threshold's name.
  std::string name;
  /// What the threshold measures.
  metric what = metric::cpu_percent;
  /// The path of the watched actor; empty for process metrics.
  std::string target;
  /// The last value measured.
  double value = 0;
  /// The level at which the alarm is set.
  double raise_at = 0;
  /// The level at which the alarm is cleared.
  double clear_at = 0;
  /// Whether the alarm is set.
  bool active = false;
  /// Whether the threshold predicts that `raise_at` is reached within its
  /// horizon (see `threshold::forecast`).
  bool predicted = false;
};

/// Lets CAF print an `alarm` (`caf::deep_to_string`) and serialize it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alarm& x) {
  return f(caf::meta::type_name("trellis::alarm"), x.name, x.what, x.target,
           x.value, x.raise_at, x.clear_at, x.active, x.predicted);
}

/// Renders an alarm's facts: `metric=mailbox_depth value=1200 raise_at=1000
/// clear_at=100`, plus `target=...` for a per-actor metric.
std::string describe(const alarm& x);

/// A level a resource monitor watches, and what to do when it is crossed.
/// Every alarm is logged (`alarm_set` at warn, `alarm_cleared` at info on the
/// `trellis` logger) and published as a `lifecycle_event`; it may also call
/// a function and restart its target.
class threshold {
public:
  /// Raises alarm `name` when `what` reaches `raise_at` and clears it when
  /// it falls to `clear_at` (below `raise_at`).
  threshold(std::string name, metric what, double raise_at, double clear_at)
    : name_(std::move(name)),
      what_(what),
      raise_at_(raise_at),
      clear_at_(clear_at) {
    // nop
  }

  /// For per-actor metrics: the path of the supervised actor to watch,
  /// within the subtree of the monitor's own supervisor, such as `root/db`.
  threshold& target(std::string path) {
    target_ = std::move(path);
    return *this;
  }

  /// A threshold on the target's restart rate (`metric::restart_rate`)
  /// whose levels are the target's own: it raises alarm `name` when the
  /// restarts in a window leave the band learned from the target's past
  /// (see `rate_anomaly`), and clears when they are back within it. Needs a
  /// `target`; `raise_at` and `clear_at` in its alarm are the band's upper
  /// edge plus one and the baseline per window.
  static threshold anomalous(std::string name, rate_anomaly_params params = {}) {
    threshold result{std::move(name), metric::restart_rate, 1, 0};
    result.anomaly_ = params;
    return result;
  }

  /// Also forecasts: from a smoothed level and slope of the metric (see
  /// `trend_forecast`), publishes `alarm_predicted` when the value will
  /// reach `raise_at` within `horizon`, with the estimate, and
  /// `alarm_prediction_cleared` when the trend turns or the value gets
  /// there. Time to act before the alarm: add capacity, shed load, restart
  /// a leaking child at a quiet moment.
  template <class Rep, class Period>
  threshold& forecast(std::chrono::duration<Rep, Period> horizon,
                      trend_params params = {}) {
    horizon_ = std::chrono::duration_cast<caf::timespan>(horizon);
    trend_ = params;
    return *this;
  }

  /// Returns the forecast's horizon, if the threshold forecasts.
  const std::optional<caf::timespan>& horizon() const noexcept {
    return horizon_;
  }

  /// Returns the forecast's parameters.
  const trend_params& trend() const noexcept {
    return trend_;
  }

  /// Returns the band's parameters, if the threshold is `anomalous`.
  const std::optional<rate_anomaly_params>& anomaly() const noexcept {
    return anomaly_;
  }

  /// When the alarm is set, kill the target with `errc::unhealthy` so that
  /// its supervisor restarts it by its strategy and intensity.
  threshold& restart_target(bool x = true) noexcept {
    restart_target_ = x;
    return *this;
  }

  /// Calls `f` inside the monitor each time the alarm is set or cleared,
  /// and each time a prediction starts or ends (`alarm::predicted`).
  threshold& on_change(std::function<void(const alarm&)> f) {
    on_change_ = std::move(f);
    return *this;
  }

  /// Returns the alarm's name.
  const std::string& name() const noexcept {
    return name_;
  }

  /// Returns what the threshold measures.
  metric what() const noexcept {
    return what_;
  }

  /// Returns the level at which the alarm is set.
  double raise_at() const noexcept {
    return raise_at_;
  }

  /// Returns the level at which the alarm is cleared.
  double clear_at() const noexcept {
    return clear_at_;
  }

  /// Returns the path of the watched actor; empty for process metrics.
  const std::string& target() const noexcept {
    return target_;
  }

  /// Returns whether a set alarm kills the target for a restart.
  bool restarts_target() const noexcept {
    return restart_target_;
  }

  /// Returns the function called when the alarm is set or cleared, if any.
  const std::function<void(const alarm&)>& on_change() const noexcept {
    return on_change_;
  }

  /// Checks the levels and the target: `errc::invalid_spec` or none.
  caf::error validate() const;

private:
  std::string name_;
  metric what_;
  double raise_at_;
  double clear_at_;
  std::string target_;
  bool restart_target_ = false;
  std::function<void(const alarm&)> on_change_;
  std::optional<caf::timespan> horizon_;
  trend_params trend_;
  std::optional<rate_anomaly_params> anomaly_;
};

} // namespace trellis
