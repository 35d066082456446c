#include "trellis/restart_backoff.hpp"

#include <algorithm>

#include "backoff_state.hpp"

namespace trellis {

caf::timespan restart_backoff::delay(uint32_t attempt,
                                     double random) const noexcept {
  // Doubling past 62 would overflow; the cap is reached long before.
  auto base = max_;
  if (attempt < 62 && min_.count() <= (max_.count() >> attempt))
    base = std::min(max_, caf::timespan{min_.count() << attempt});
  auto extra = static_cast<double>(base.count()) * jitter_
               * std::clamp(random, 0.0, 1.0);
  return base + caf::timespan{static_cast<caf::timespan::rep>(extra)};
}

namespace detail {

caf::timespan backoff_state::next_delay(const restart_backoff& policy,
                                        double random) {
  if (ran_for >= policy.reset_after())
    attempt = 0;
  ran_for = caf::timespan{0};
  return policy.delay(attempt++, random);
}

} // namespace detail

} // namespace trellis
