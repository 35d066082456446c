#include "restart_pacer.hpp"

#include <algorithm>
#include <chrono>

namespace trellis {

const char* problem_of(const restart_limit& x) noexcept {
  // `!(a <= b)` also rejects a NaN.
  if (!(x.per_second > 0) || !(x.per_second <= 1e9))
    return "needs a restart rate that is positive and at most 1e9 a second";
  if (x.burst < 1)
    return "needs a restart burst of at least 1";
  return nullptr;
}

} // namespace trellis

namespace trellis::detail {

restart_pacer::restart_pacer(restart_limit limit)
  : interval_(std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>(1.0 / limit.per_second))),
    tolerance_(interval_ * (std::max<uint32_t>(limit.burst, 1) - 1)) {
  // nop
}

caf::timespan restart_pacer::reserve(time_point at) {
  std::lock_guard<std::mutex> guard{mtx_};
  next_ = std::max(next_, at);
  auto wait = std::max(caf::timespan{0}, next_ - tolerance_ - at);
  next_ += interval_;
  return wait;
}

} // namespace trellis::detail
