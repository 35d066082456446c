#pragma once

/// @file
/// `shutdown_phase`: where a service's coordinated shutdown is.

#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

namespace trellis {

/// The phases of a coordinated shutdown (see `coordinated_shutdown`), in the
/// order they run. Each starts when the one before it ended or ran out of
/// time.
enum class shutdown_phase : uint8_t {
  /// No shutdown has begun.
  running,
  /// The service says it is not ready (`/readyz` answers 503, systemd hears
  /// `STOPPING=1`) and waits for load balancers to notice.
  not_ready,
  /// The application stops taking new work: it closes its listeners.
  stop_intake,
  /// Work in flight finishes: the tree's mailboxes empty, and a stable
  /// handle whose child is down refuses (`errc::shutting_down`) rather than
  /// buffer for a restart.
  drain,
  /// The trees stop, each child in reverse start order by its shutdown
  /// policy.
  stop_tree,
  /// What must outlive the tree is written out: checkpoints, logs.
  flush,
  /// The shutdown ended; the process may return from `main`.
  done,
};

/// Returns the phase's name, e.g. `"stop_intake"`.
std::string to_string(shutdown_phase x);

/// Returns how far the shutdown of `sys` has come: the phase of its
/// `coordinated_shutdown`, or `stop_tree` once the actor system is being
/// destroyed without one; `running` before either, and for a system that
/// `trellis::configure` did not set up.
shutdown_phase current_shutdown_phase(const caf::actor_system& sys);

} // namespace trellis
