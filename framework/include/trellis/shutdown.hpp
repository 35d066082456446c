#pragma once

/// @file
/// `shutdown`: how a supervisor stops a child (OTP's `shutdown` field).

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/timespan.hpp>

namespace trellis {

/// The three kinds of shutdown policy (see `shutdown::kind`).
enum class shutdown_kind : uint8_t {
  /// Kill at once (`caf::exit_reason::kill`), no clean-up.
  brutal_kill,
  /// Ask to stop, kill after the timeout.
  timeout,
  /// Ask to stop and wait as long as it takes. The default for supervisor
  /// children (which bound their own children's stops). For a worker it
  /// risks a shutdown that never ends: no kill follows and the child is
  /// never abandoned, so a worker that ignores the request, or is stuck in
  /// a handler, holds its supervisor's shutdown, and every ancestor's,
  /// forever. Use it for workers only with a way out, such as
  /// `trellis::shutdown_system`'s deadline.
  infinity,
};

/// How a supervisor stops a child (OTP's `shutdown` field).
///
/// With `timeout`, the child gets an exit message with reason
/// `caf::exit_reason::user_shutdown` (OTP's `shutdown`) and may clean up in
/// its exit handler; if it has not exited when the timeout passes, it is
/// killed with `caf::exit_reason::kill`.
///
/// Where Trellis differs from OTP: CAF cannot preempt an actor stuck inside
/// a handler, so even `kill` only takes effect when the actor next reads its
/// mailbox. A child that has not exited `kill_timeout` (a supervisor flag)
/// after being killed is abandoned and reported, so that shutdown finishes.
class shutdown {
public:
  /// Kill the child at once.
  static shutdown brutal_kill() noexcept {
    return shutdown{shutdown_kind::brutal_kill, caf::timespan{0}};
  }

  /// Ask the child to stop and kill it after `t`.
  template <class Rep, class Period>
  static shutdown timeout(std::chrono::duration<Rep, Period> t) noexcept {
    return shutdown{shutdown_kind::timeout,
                    std::chrono::duration_cast<caf::timespan>(t)};
  }

  /// Ask the child to stop and wait for it indefinitely.
  static shutdown infinity() noexcept {
    return shutdown{shutdown_kind::infinity, caf::timespan{0}};
  }

  /// Returns the policy's kind.
  shutdown_kind kind() const noexcept {
    return kind_;
  }

  /// Returns the timeout; only meaningful for `shutdown_kind::timeout`.
  caf::timespan time() const noexcept {
    return time_;
  }

  /// Returns whether both policies have the same kind and timeout.
  friend bool operator==(const shutdown& x, const shutdown& y) noexcept {
    return x.kind_ == y.kind_ && x.time_ == y.time_;
  }

  /// Returns whether the policies differ in kind or timeout.
  friend bool operator!=(const shutdown& x, const shutdown& y) noexcept {
    return !(x == y);
  }

private:
  shutdown(shutdown_kind k, caf::timespan t) noexcept : kind_(k), time_(t) {
    // nop
  }

  shutdown_kind kind_;
  caf::timespan time_;
};

/// Renders a policy, e.g. `"brutal_kill"`, `"timeout(5000ms)"`, `"infinity"`.
std::string to_string(const shutdown& x);

} // namespace trellis
