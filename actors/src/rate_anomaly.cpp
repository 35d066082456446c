#include "trellis/actors/rate_anomaly.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace trellis {

namespace {

double seconds(caf::timespan x) {
  return std::chrono::duration<double>(x).count();
}

double log_pmf(double mean, uint64_t k) {
  auto x = static_cast<double>(k);
  return -mean + x * std::log(mean) - std::lgamma(x + 1);
}

} // namespace

double poisson_tail(double mean, uint64_t n) {
  if (n == 0)
    return 1;
  if (!(mean > 0))
    return 0;
  // Each sum starts at the term nearest the mean and walks away from it,
  // where the terms fall, until they no longer count.
  if (static_cast<double>(n) > mean) {
    auto term = std::exp(log_pmf(mean, n));
    double sum = 0;
    for (auto k = n; term > sum * 1e-17;) {
      sum += term;
      term *= mean / static_cast<double>(++k);
    }
    return std::min(sum, 1.0);
  }
  auto term = std::exp(log_pmf(mean, n - 1));
  double below = 0;
  for (auto k = n - 1; term > below * 1e-17; --k) {
    below += term;
    if (k == 0)
      break;
    term *= static_cast<double>(k) / mean;
  }
  return std::clamp(1 - below, 0.0, 1.0);
}

rate_anomaly::rate_anomaly(rate_anomaly_params params)
  : params_(params), floor_(params.floor_per_hour / 3600) {
  baseline_ = floor_;
}

bool rate_anomaly::learned() const noexcept {
  return started_
         && last_ - first_ >= std::max(params_.learning, params_.window);
}

double rate_anomaly::expected() const noexcept {
  return baseline_ * seconds(params_.window);
}

double rate_anomaly::baseline_per_minute() const noexcept {
  return baseline_ * 60;
}

double rate_anomaly::chance() const {
  return poisson_tail(expected(), in_window_);
}

uint64_t rate_anomaly::band() const {
  // The least n whose tail P(X >= n + 1) is below `false_alarm`: the tail
  // falls with n, so a binary search between the mean and far past it.
  auto mean = expected();
  auto lo = static_cast<uint64_t>(mean);
  auto hi = static_cast<uint64_t>(mean + 50 * std::sqrt(mean) + 50);
  while (lo < hi) {
    auto mid = lo + (hi - lo) / 2;
    if (poisson_tail(mean, mid + 1) < params_.false_alarm)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

bool rate_anomaly::add(time_point at, uint64_t events) {
  if (!started_) {
    started_ = true;
    first_ = last_ = at;
  }
  double dt = 0;
  if (at > last_) {
    dt = seconds(at - last_);
    last_ = at;
  }
  total_ += events;
  if (events > 0) {
    recent_.emplace_back(at, events);
    in_window_ += events;
  }
  while (!recent_.empty() && recent_.front().first <= last_ - params_.window) {
    in_window_ -= recent_.front().second;
    recent_.pop_front();
  }
  auto changed = false;
  if (learned()) {
    // Only a new event can make the window anomalous: one test per event,
    // which is what `false_alarm` counts.
    auto p = chance();
    if (!anomalous_ && events > 0 && p < params_.false_alarm)
      changed = anomalous_ = true;
    else if (anomalous_ && p >= params_.clear_at)
      changed = !(anomalous_ = false);
  }
  // The baseline learns after the verdict.
  if (!learned()) {
    auto elapsed = seconds(last_ - first_);
    baseline_ = elapsed > 0
                  ? std::max(static_cast<double>(total_) / elapsed, floor_)
                  : floor_;
  } else if (dt > 0) {
    // While anomalous it learns four times slower: a storm of minutes
    // barely moves it, a rate that stays becomes the new normal in hours.
    auto memory = seconds(params_.memory) * (anomalous_ ? 4 : 1);
    auto weight = 1 - std::exp(-dt / memory);
    baseline_ += weight * (static_cast<double>(events) / dt - baseline_);
    baseline_ = std::max(baseline_, floor_);
  }
  return changed;
}

} // namespace trellis
