#pragma once

/// @file
/// `trend_forecast`: when will a metric reach a level, at its current
/// trend? Part of `trellis::actors`.

#include <cstddef>
#include <optional>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

namespace trellis {

/// The parameters of a `trend_forecast`.
struct trend_params {
  /// How fast the level follows new values, in (0, 1]: higher follows
  /// noise, lower lags a change.
  double level_smoothing = 0.1;
  /// How fast the slope follows the level's changes, in (0, 1]: lower
  /// ignores more noise and takes longer to see a leak start.
  double slope_smoothing = 0.01;
  /// Values to see before forecasting at all.
  size_t warmup = 10;
};

class trend_forecast;

/// Whether `f` predicts that its metric rises to `x` within `horizon`, given
/// whether it did so at the last sample (`predicting`): never while the
/// level is at or above `x` or the slope is flat or falling; it starts to when
/// the estimate falls within the horizon, and stops when the trend turns or
/// the estimate moves past twice the horizon (hysteresis, so that an
/// estimate hovering at the horizon does not flap).
bool predicts(const trend_forecast& f, double x, caf::timespan horizon,
              bool predicting);

/// Holt's linear trend (double exponential smoothing), over samples that
/// need not be evenly spaced: a smoothed level and a smoothed slope per
/// second, from which it extrapolates when a level will be reached. A leak
/// is a steady slope; noise around a flat level averages to no slope; a
/// step moves the level and briefly the slope, which then decays. The
/// slope starts flat and learns: the defaults see a leak of 0.5 a second
/// through noise of deviation 20, sampled every second, about 45 s before
/// it crosses a level 100 above its start, and raised no prediction in 20
/// simulated hours of that noise alone at 5 deviations below the level
/// (docs/detection.md, "Predicting failures").
///
/// Pure and deterministic: the caller passes the clock's readings.
class trend_forecast {
public:
  /// The clock's readings: CAF's actor clock, the test coordinator's too.
  using time_point = caf::actor_clock::time_point;

  /// Starts with no samples, with `params`.
  explicit trend_forecast(trend_params params = {}) : params_(params) {
    // nop
  }

  /// Adds the value measured at `at`. A sample not after the last one only
  /// moves the level.
  void add(time_point at, double value);

  /// Returns the smoothed level.
  double level() const noexcept {
    return level_;
  }

  /// Returns the smoothed slope, per second.
  double slope() const noexcept {
    return slope_;
  }

  /// Returns how many values were added.
  size_t samples() const noexcept {
    return samples_;
  }

  /// Returns whether enough values were added to forecast.
  bool warm() const noexcept {
    return samples_ >= params_.warmup;
  }

  /// Returns how long until the smoothed level reaches `x` from below at
  /// the current slope: zero if it is there, none if the trend does not
  /// lead there (a flat or falling slope) or before `warm()`.
  std::optional<caf::timespan> time_to_reach(double x) const;

  /// Returns the parameters.
  const trend_params& params() const noexcept {
    return params_;
  }

private:
  trend_params params_;
  double level_ = 0;
  double slope_ = 0;
  size_t samples_ = 0;
  time_point last_;
};

} // namespace trellis
