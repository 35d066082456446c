#pragma once

/// @file
/// `restart_backoff`: growing delays between a child's restarts.

#include <chrono>

#include <caf/timespan.hpp>

namespace trellis {

/// Delays a child's restarts exponentially (Akka's backoff supervision,
/// Elixir's and OTP's missing piece): the n-th restart in a row waits
/// `min * 2^n`, at most `max`, plus up to `jitter` of that at random, so
/// that many children failing together do not restart in lockstep. After
/// the child ran `reset_after` without failing, the next restart waits
/// `min` again.
///
/// A delayed restart is charged to the supervisor's restart budget once,
/// when it is decided; meanwhile the child shows as `restarting` with the
/// time left until it is due (`child_info::restart_due_in`). Under
/// `one_for_all` and `rest_for_one`, the group is stopped and started when
/// the delay has passed. `terminate_child` and shutdown cancel it.
class restart_backoff {
public:
  /// Waits `min`, doubling up to `max`, with up to `jitter` (a fraction
  /// between 0 and 1, 0.2 = 20 %) added at random; resets after `max` of
  /// stable running. A child spec checks `0 < min <= max <= 1 year`.
  template <class Rep1, class Period1, class Rep2, class Period2>
  restart_backoff(std::chrono::duration<Rep1, Period1> min,
                  std::chrono::duration<Rep2, Period2> max,
                  double jitter = 0.2)
    : min_(std::chrono::duration_cast<caf::timespan>(min)),
      max_(std::chrono::duration_cast<caf::timespan>(max)),
      reset_after_(max_),
      jitter_(jitter) {
    // nop
  }

  /// Sets how long a child must run without failing for the delay to start
  /// over at `min`.
  template <class Rep, class Period>
  restart_backoff& reset_after(std::chrono::duration<Rep, Period> x) {
    reset_after_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns the delay of the first restart in a row.
  caf::timespan min() const noexcept {
    return min_;
  }

  /// Returns the longest delay, before jitter.
  caf::timespan max() const noexcept {
    return max_;
  }

  /// Returns how long a child must run without failing for the delay to
  /// start over at `min`.
  caf::timespan reset_after() const noexcept {
    return reset_after_;
  }

  /// Returns the largest random part added to a delay, as a fraction of it.
  double jitter() const noexcept {
    return jitter_;
  }

  /// Returns the delay before restart number `attempt` in a row (0 for the
  /// first), given `random` in [0, 1).
  caf::timespan delay(uint32_t attempt, double random) const noexcept;

private:
  caf::timespan min_;
  caf::timespan max_;
  caf::timespan reset_after_;
  double jitter_;
};

} // namespace trellis
