#pragma once

/// @file
/// `health_check`: how a supervisor finds a child that hangs.

#include <chrono>
#include <cstdint>

#include <caf/timespan.hpp>

namespace trellis {

/// What a health check's probe asks (see `health_check::probe`).
enum class health_probe : uint8_t {
  /// CAF's own answer: is the actor processing its mailbox?
  system,
  /// The actor's answer to `(readiness_atom)`.
  readiness,
};

/// How a supervisor checks that a running child still answers, beyond
/// noticing that it exited (OTP has no counterpart; OTP's processes cannot
/// hang a scheduler, CAF's can). Every `interval` the supervisor sends a
/// probe that must be answered within `timeout`; after `max_missed` misses
/// in a row the child is unhealthy: the supervisor reports it, kills it,
/// forgets that incarnation (so it gets no new work, even while stuck), and
/// handles it as a failure with reason `errc::hung` (or `errc::unhealthy`)
/// by its strategy and intensity.
///
/// The default probe is a system message that CAF answers itself, after
/// the messages ahead of it and without user code: it fails only when the
/// actor stops processing its mailbox (a stuck handler) or falls more than
/// `timeout` behind. With `readiness()`, the actor answers `(readiness_atom)`
/// itself with `caf::ok_atom` or an error.
class health_check {
public:
  /// Checks every `interval`, allowing `timeout` per probe and `max_missed`
  /// misses in a row.
  template <class Rep1, class Period1, class Rep2, class Period2>
  health_check(std::chrono::duration<Rep1, Period1> interval,
               std::chrono::duration<Rep2, Period2> timeout,
               int max_missed = 3)
    : interval_(std::chrono::duration_cast<caf::timespan>(interval)),
      timeout_(std::chrono::duration_cast<caf::timespan>(timeout)),
      max_missed_(max_missed) {
    // nop
  }

  /// Returns this check with a verdict that adapts to the child: at a
  /// missed check, the child is also unhealthy if the suspicion that it
  /// stopped answering (`phi_accrual`, learned from the intervals between
  /// its answers) has reached `phi`, before `max_missed` misses. A child
  /// that answered like a metronome is given up at its first miss; one on
  /// a jittery link, later. The suspicion is a metric either way
  /// (`child_info::suspicion`, `trellis_suspicion` in the observer's
  /// `/metrics`). Akka's cluster uses 8 to 12; 8 means a one in 10^8 chance
  /// that the answer is merely late.
  health_check suspect_at(double phi) const noexcept {
    auto result = *this;
    result.suspect_at_ = phi;
    return result;
  }

  /// Returns the suspicion at which a missed check is enough; 0: off (only
  /// `max_missed` decides).
  double suspect_at() const noexcept {
    return suspect_at_;
  }

  /// Returns this check with the actor's own readiness answer as probe.
  health_check readiness() const noexcept {
    auto result = *this;
    result.probe_ = health_probe::readiness;
    return result;
  }

  /// Returns how often the supervisor probes the child.
  caf::timespan interval() const noexcept {
    return interval_;
  }

  /// Returns how long a probe may wait for its answer.
  caf::timespan timeout() const noexcept {
    return timeout_;
  }

  /// Returns how many probes in a row the child may miss before it is
  /// unhealthy.
  int max_missed() const noexcept {
    return max_missed_;
  }

  /// Returns what the probe asks.
  health_probe probe() const noexcept {
    return probe_;
  }

private:
  caf::timespan interval_;
  caf::timespan timeout_;
  int max_missed_;
  health_probe probe_ = health_probe::system;
  double suspect_at_ = 0;
};

} // namespace trellis
