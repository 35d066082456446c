#pragma once

#include <cstdint>

#include <caf/timespan.hpp>

#include "trellis/restart_backoff.hpp"

namespace trellis::detail {

/// What a supervisor keeps per child for its `restart_backoff`: restarts in
/// a row that it delayed, and how long the last incarnation ran.
struct backoff_state {
  uint32_t attempt = 0;
  caf::timespan ran_for{0};

  /// Returns the delay before the next restart under `policy`, given
  /// `random` in [0, 1), and counts the attempt. A stable run (at least
  /// `reset_after`) starts the delays over at `min`.
  caf::timespan next_delay(const restart_backoff& policy, double random);
};

} // namespace trellis::detail
