#pragma once

#include <mutex>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

#include "trellis/restart_limit.hpp"

namespace trellis::detail {

/// Paces restarts to a `restart_limit`, shared by the supervisors of a
/// subtree or a node (so it locks; restarts are rare next to messages).
/// A generic cell rate algorithm: each restart reserves the next free slot,
/// so restarts delayed together come out one slot apart, in order.
class restart_pacer {
public:
  using time_point = caf::actor_clock::time_point;

  explicit restart_pacer(restart_limit limit);

  /// Reserves a slot for a restart due at `at`; returns how much later than
  /// `at` it may run (zero within the burst).
  caf::timespan reserve(time_point at);

private:
  std::mutex mtx_;
  caf::timespan interval_;
  caf::timespan tolerance_;
  /// When the next restart would run, were the bucket empty.
  time_point next_;
};

} // namespace trellis::detail
