#pragma once

/// @file
/// `restart_limit`: how fast restarts may come, across a subtree or a node.

#include <cstdint>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace trellis {

/// A token bucket for restarts: on average at most `per_second` restarts a
/// second, with bursts of up to `burst` at once. A restart beyond it is not
/// refused but delayed until its turn (it shows as `restart_due_in`, as a
/// backoff's delay does), so that a storm of failures, however wide, takes
/// no more CPU for restarts than the limit allows and restarts in order.
///
/// Set per subtree with `supervisor_spec::restart_limit` (a root's paces its
/// whole tree in this process), and per node with `limit_node_restarts`. A
/// restart takes its turn from every limit above it. The delay is decided
/// with the restart, so it is charged to the supervisor's intensity then,
/// as a backoff's restart is. OTP has no counterpart: its restarts are as
/// fast as the scheduler.
struct restart_limit {
  /// The average restarts a second; positive and finite.
  double per_second = 0;
  /// The restarts that may come at once; at least 1.
  uint32_t burst = 1;
};

/// Returns what is wrong with `x` (a rate that is not positive and finite
/// up to 10^9 a second, a burst of 0), or null if nothing.
const char* problem_of(const restart_limit& x) noexcept;

/// Paces every restart on this node (every tree of `sys`) to `x`, for the
/// supervisors that start from now on (a tree started before keeps its
/// pace until its supervisors restart). Returns `errc::invalid_spec` for an
/// invalid limit or a system whose config `trellis::configure` did not see.
caf::error limit_node_restarts(caf::actor_system& sys, restart_limit x);

} // namespace trellis
