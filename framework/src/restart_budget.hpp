#pragma once

#include <cstddef>
#include <deque>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

namespace trellis::detail {

/// OTP's restart intensity rule: a restart is allowed while at most
/// `intensity` restarts, this one included, fall within `period`.
///
/// OTP keeps a list of restart times and walks it on every restart, so its
/// cost grows with the restarts it remembers. This keeps the times in a
/// queue, newest at the back: each restart pushes one time and pops the ones
/// that left the period, so a check is amortised O(1) whatever the intensity.
/// The queue never holds more than `intensity + 1` times, and never more than
/// the restarts that happened within one period. Times are exact (the
/// clock's resolution), where OTP counts in whole seconds.
class restart_budget {
public:
  using time_point = caf::actor_clock::time_point;

  restart_budget(size_t intensity, caf::timespan period)
    : intensity_(intensity), period_(period) {
    // nop
  }

  /// Records a restart at `now`. Returns false if this restart exceeds the
  /// intensity, i.e. it is restart number `intensity + 1` within `period`.
  bool add_restart(time_point now) {
    // A restart at time t is within the period of `now` when t >= now - period,
    // as in OTP's supervisor.
    auto threshold = now - period_;
    while (!times_.empty() && times_.front() < threshold)
      times_.pop_front();
    times_.push_back(now);
    if (times_.size() > intensity_) {
      times_.pop_front();
      return false;
    }
    return true;
  }

  /// Returns how many more restarts `now` would allow.
  size_t remaining(time_point now) const {
    auto threshold = now - period_;
    size_t in_period = 0;
    for (auto i = times_.rbegin(); i != times_.rend() && *i >= threshold; ++i)
      ++in_period;
    return in_period >= intensity_ ? 0 : intensity_ - in_period;
  }

  /// Returns the configured intensity.
  size_t intensity() const noexcept {
    return intensity_;
  }

  /// Returns the configured period.
  caf::timespan period() const noexcept {
    return period_;
  }

private:
  size_t intensity_;
  caf::timespan period_;
  std::deque<time_point> times_;
};

} // namespace trellis::detail
