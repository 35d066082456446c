#pragma once

#include <cstdint>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

#include "trellis/restart_backoff.hpp"

namespace trellis::detail {

/// What a supervisor keeps per child for its `restart_backoff`: restarts in
/// a row that it delayed, how long the last incarnation ran, and the
/// delayed restart that is pending.
struct backoff_state {
  uint32_t attempt = 0;
  /// The dependency incident the child is paused for (0: none; see
  /// `dependency_board`, whose numbers fit): it restarts when the incident
  /// closes. Here, it fills what would be padding.
  uint32_t paused_for = 0;
  caf::timespan ran_for{0};
  /// When the pending delayed restart is due, and which one it is (0:
  /// none pending; whatever starts the child meanwhile supersedes it).
  caf::actor_clock::time_point due;
  uint64_t due_token = 0;

  /// Returns the delay before the next restart under `policy`, given
  /// `random` in [0, 1), and counts the attempt. A stable run (at least
  /// `reset_after`) starts the delays over at `min`.
  caf::timespan next_delay(const restart_backoff& policy, double random);
};

} // namespace trellis::detail
