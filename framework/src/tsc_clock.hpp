#pragma once

#include <cstdint>

namespace trellis::detail {

/// A monotonic clock in nanoseconds on the steady clock's scale, for short
/// intervals read on hot paths (a child's handler times, with every message
/// it handles). Where the CPU says its time-stamp counter is invariant
/// (x86-64), it reads the counter, scaled: some 11 ns on the machine of
/// docs/benchmarks.md, against some 30 for `std::chrono::steady_clock`.
/// Elsewhere it is the steady clock.
///
/// The scale is measured, not assumed: the first read anchors the counter
/// to the steady clock, and the first read 50 ms or more later takes their
/// ratio. Until then, reads are the steady clock's. A counter that goes
/// backwards or at an implausible rate against the steady clock leaves the
/// steady clock in place for good.
///
/// Only differences of its readings mean anything: the counter's time
/// drifts from the steady clock's by the scale's error (some 40 parts per
/// million), and a virtual machine restored from a snapshot may see the
/// counter jump, which one handler's time then shows (a backward jump
/// counts as zero).
class tsc_clock {
public:
  /// Returns the time in nanoseconds; any thread.
  static int64_t now_ns() noexcept;

  /// Returns whether reads come from the time-stamp counter yet.
  static bool counting() noexcept;

  /// Returns the steady clock's time in nanoseconds.
  static int64_t steady_ns() noexcept;
};

} // namespace trellis::detail
