#pragma once

/// @file
/// `phi_accrual`: a suspicion level, rather than a yes or no, that a peer
/// which answered regularly has stopped answering.

#include <cstddef>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

namespace trellis {

/// The phi accrual failure detector (Hayashibara et al., 2004; the one Akka
/// and Cassandra use). It learns the distribution of the intervals between
/// a peer's heartbeats (for Trellis: the answers to a child's health
/// checks) and says how unlikely it is that the next one is merely late:
/// `phi = -log10(P(interval > elapsed))`, with the intervals taken as
/// normally distributed. phi 1 means a 10% chance that the peer is only
/// late, phi 3 a 0.1% chance, phi 8 one in 10^8.
///
/// Unlike a fixed timeout, the level adapts to the peer: a child on a
/// distant, jittery node raises suspicion later than one next door, and the
/// level grows smoothly while answers stay away, so it can be watched as a
/// metric and acted on at a level chosen for the cost of a false verdict.
///
/// Pure and deterministic: the caller passes the clock's readings.
class phi_accrual {
public:
  /// The clock's readings: CAF's actor clock, the test coordinator's too.
  using time_point = caf::actor_clock::time_point;

  /// Keeps the last `window` intervals (at least 2). `min_std_deviation`
  /// floors the learned deviation, so that a peer that answered like a
  /// metronome is not suspected at the first jitter (at least 1 µs, so
  /// that it never divides by zero); `acceptable_pause` is
  /// added to the learned mean, a pause that never raises suspicion.
  explicit phi_accrual(size_t window = 100,
                       caf::timespan min_std_deviation
                       = std::chrono::milliseconds(10),
                       caf::timespan acceptable_pause = caf::timespan{0});

  /// A heartbeat arrived at `at`.
  void heartbeat(time_point at);

  /// Returns the suspicion level at `now`: 0 until two heartbeats arrived,
  /// and for a time before the last one. Finite: capped at `max_phi`.
  double phi(time_point now) const;

  /// Returns how many heartbeats arrived.
  size_t heartbeats() const noexcept {
    return heartbeats_;
  }

  /// Returns the mean of the intervals kept, in seconds.
  double mean() const noexcept;

  /// Returns the deviation of the intervals kept, floored at
  /// `min_std_deviation`, in seconds.
  double std_deviation() const noexcept;

  /// Forgets every heartbeat (a new incarnation starts afresh).
  void reset() noexcept;

  /// The level `phi` never exceeds: past it, a peer is as good as gone.
  static constexpr double max_phi = 100;

private:
  std::vector<double> intervals_; // Seconds, a ring of `window` entries.
  size_t next_ = 0;
  size_t size_ = 0;
  double sum_ = 0;
  double sum_squares_ = 0;
  double min_std_;
  double pause_;
  size_t heartbeats_ = 0;
  time_point last_;
};

} // namespace trellis
