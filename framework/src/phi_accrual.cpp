#include "trellis/phi_accrual.hpp"

#include <algorithm>
#include <cmath>

namespace trellis {

namespace {

double seconds(caf::timespan x) {
  return std::chrono::duration<double>(x).count();
}

/// -log10 of the upper tail of the standard normal distribution at `y`.
double minus_log10_tail(double y) {
  auto tail = 0.5 * std::erfc(y / std::sqrt(2.0));
  if (tail > 0)
    return -std::log10(tail);
  // erfc underflows past y ~ 38: its asymptote, in logs.
  auto ln_tail = -y * y / 2 - std::log(y * std::sqrt(2 * M_PI));
  return -ln_tail / std::log(10.0);
}

} // namespace

phi_accrual::phi_accrual(size_t window, caf::timespan min_std_deviation,
                         caf::timespan acceptable_pause)
  : intervals_(std::max<size_t>(window, 2), 0.0),
    // A deviation of 0 would divide by it.
    min_std_(std::max(seconds(min_std_deviation), 1e-6)),
    pause_(seconds(acceptable_pause)) {
  // nop
}

void phi_accrual::heartbeat(time_point at) {
  if (heartbeats_++ > 0 && at > last_) {
    auto x = seconds(at - last_);
    if (size_ == intervals_.size()) {
      auto old = intervals_[next_];
      sum_ -= old;
      sum_squares_ -= old * old;
    } else {
      ++size_;
    }
    intervals_[next_] = x;
    next_ = (next_ + 1) % intervals_.size();
    sum_ += x;
    sum_squares_ += x * x;
    if (next_ == 0) {
      // Once a lap, so that rounding in the running sums cannot build up.
      sum_ = sum_squares_ = 0;
      for (auto y : intervals_) {
        sum_ += y;
        sum_squares_ += y * y;
      }
    }
  }
  if (heartbeats_ == 1 || at > last_)
    last_ = at;
}

double phi_accrual::mean() const noexcept {
  return size_ == 0 ? 0 : sum_ / static_cast<double>(size_);
}

double phi_accrual::std_deviation() const noexcept {
  if (size_ == 0)
    return min_std_;
  auto m = mean();
  // Running sums drift below zero by rounding when the intervals are equal.
  auto variance = std::max(0.0, sum_squares_ / static_cast<double>(size_)
                                  - m * m);
  return std::max(std::sqrt(variance), min_std_);
}

double phi_accrual::phi(time_point now) const {
  if (size_ == 0 || now <= last_)
    return 0;
  auto elapsed = seconds(now - last_);
  auto y = (elapsed - (mean() + pause_)) / std_deviation();
  return std::clamp(minus_log10_tail(y), 0.0, max_phi);
}

void phi_accrual::reset() noexcept {
  std::fill(intervals_.begin(), intervals_.end(), 0.0);
  next_ = size_ = heartbeats_ = 0;
  sum_ = sum_squares_ = 0;
  last_ = time_point{};
}

} // namespace trellis
