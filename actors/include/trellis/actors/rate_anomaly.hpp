#pragma once

/// @file
/// `rate_anomaly`: does a rate of events (restarts) leave its own normal
/// band? Part of `trellis::actors`.

#include <cstdint>
#include <deque>
#include <utility>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

namespace trellis {

/// The parameters of a `rate_anomaly`.
struct rate_anomaly_params {
  /// Events are counted over this sliding window.
  caf::timespan window = std::chrono::minutes(1);
  /// No verdict before this much time was seen; meanwhile the baseline is
  /// the plain mean rate. At least one window.
  caf::timespan learning = std::chrono::minutes(10);
  /// Afterwards, the baseline is an exponential moving average with this
  /// time constant: a new normal is learned in a few of them.
  caf::timespan memory = std::chrono::hours(1);
  /// The chance, under the baseline, of a window with as many events as
  /// raise the anomaly: the false alarm rate per event seen.
  double false_alarm = 1e-4;
  /// The anomaly clears when a window as full as the current one is this
  /// likely again (hysteresis).
  double clear_at = 1e-2;
  /// The least baseline, in events per hour (positive and finite): a child
  /// that never restarted is not anomalous at its first restart.
  double floor_per_hour = 1;
};

/// Tells when a rate of events, such as a child's or a subtree's restarts,
/// leaves its own normal band. It learns a baseline rate, then counts the
/// events in a sliding window; taking them as Poisson at the baseline, it
/// raises when the window holds so many that their chance is below
/// `false_alarm`, and clears when it is above `clear_at` again. While
/// anomalous, the baseline learns four times slower: a storm of minutes
/// barely moves it, while a new rate that stays becomes the normal in hours
/// (2 to 20 a minute, with the defaults: cleared within 8 hours).
///
/// A threshold on the rate needs someone to know the normal rate of every
/// child; this band is each child's own, and its false alarm rate is a
/// parameter, not a guess (checked on synthetic Poisson series in
/// tests/actors/prediction.cpp).
///
/// Pure and deterministic: the caller passes the clock's readings.
class rate_anomaly {
public:
  /// The clock's readings: CAF's actor clock, the test coordinator's too.
  using time_point = caf::actor_clock::time_point;

  /// Starts learning, with `params`.
  explicit rate_anomaly(rate_anomaly_params params = {});

  /// Adds the `events` that happened since the last call, at `at`. Returns
  /// whether the verdict changed.
  bool add(time_point at, uint64_t events);

  /// Returns whether the rate is anomalous.
  bool anomalous() const noexcept {
    return anomalous_;
  }

  /// Returns whether the learning period is over.
  bool learned() const noexcept;

  /// Returns the events in the current window.
  uint64_t in_window() const noexcept {
    return in_window_;
  }

  /// Returns the baseline, in events per window.
  double expected() const noexcept;

  /// Returns the baseline, in events per minute.
  double baseline_per_minute() const noexcept;

  /// Returns the most events a window holds within the band: one more has
  /// a chance below `false_alarm`.
  uint64_t band() const;

  /// Returns the chance, under the baseline, of a window with at least as
  /// many events as the current one.
  double chance() const;

  /// Returns the parameters.
  const rate_anomaly_params& params() const noexcept {
    return params_;
  }

private:
  rate_anomaly_params params_;
  /// Events per second.
  double baseline_;
  double floor_;
  std::deque<std::pair<time_point, uint64_t>> recent_;
  uint64_t in_window_ = 0;
  uint64_t total_ = 0;
  bool started_ = false;
  bool anomalous_ = false;
  time_point first_;
  time_point last_;
};

/// Returns the chance that a Poisson variable of mean `mean` is at least
/// `n`.
double poisson_tail(double mean, uint64_t n);

} // namespace trellis
