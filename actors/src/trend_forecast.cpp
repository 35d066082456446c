#include "trellis/actors/trend_forecast.hpp"

#include <chrono>

namespace trellis {

void trend_forecast::add(time_point at, double value) {
  if (samples_++ == 0) {
    level_ = value;
    last_ = at;
    return;
  }
  auto a = params_.level_smoothing;
  auto b = params_.slope_smoothing;
  if (at <= last_) {
    level_ = a * value + (1 - a) * level_;
    return;
  }
  auto dt = std::chrono::duration<double>(at - last_).count();
  last_ = at;
  // The slope starts flat: a first difference would be all noise.
  auto previous = level_;
  level_ = a * value + (1 - a) * (previous + slope_ * dt);
  slope_ = b * (level_ - previous) / dt + (1 - b) * slope_;
}

std::optional<caf::timespan> trend_forecast::time_to_reach(double x) const {
  if (!warm())
    return std::nullopt;
  if (level_ >= x)
    return caf::timespan{0};
  if (slope_ <= 0)
    return std::nullopt;
  auto secs = (x - level_) / slope_;
  // Centuries away is never, and would overflow a timespan; so is NaN.
  if (!(secs <= 1e9))
    return std::nullopt;
  return std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>(secs));
}

bool predicts(const trend_forecast& f, double x, caf::timespan horizon,
              bool predicting) {
  // Only a rise from below: a level still above `x` as the value falls
  // after its alarm cleared predicts nothing.
  if (!(f.level() < x) || !(f.slope() > 0))
    return false;
  auto eta = f.time_to_reach(x);
  if (!eta)
    return false;
  return *eta <= (predicting ? 2 * horizon : horizon);
}

} // namespace trellis
