#pragma once

/// @file
/// `child_info` and `child_counts`: what `which_children` and
/// `count_children` answer.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "trellis/child_type.hpp"
#include "trellis/restart.hpp"

namespace trellis {

/// Where a child is in its life.
enum class child_state : uint8_t {
  /// The child has an actor that started.
  running,
  /// The child exited and the supervisor is restarting it; it has no actor.
  restarting,
  /// The child has no actor and none is coming: it was terminated, exited
  /// normally as a transient child, or its factory answered `ignore`.
  stopped,
};

/// Returns the enumerator's name.
std::string to_string(child_state x);

/// One line of `which_children`: what a supervisor knows of a child.
struct child_info {
  /// The child's id within its supervisor.
  std::string id;
  /// The current actor, invalid unless `state` is `running`: CAF answers a
  /// request to an invalid handle with a bare `sec::invalid_argument`, so
  /// ask `lookup` (which says `restarting` or `not_found`) or send through a
  /// `stable_handle` rather than keep this handle.
  caf::actor actor;
  /// Worker or supervisor.
  child_type type = child_type::worker;
  /// The child's restart type.
  restart restart_type = restart::permanent;
  /// Running, restarting or stopped.
  child_state state = child_state::stopped;
  /// How often the supervisor restarted this child.
  uint64_t restart_count = 0;
  /// The last exit reason, rendered; empty if it never exited.
  std::string last_exit_reason;
  /// For a restart delayed by backoff: the time left until it is due;
  /// zero otherwise.
  caf::timespan restart_due_in{0};
  /// The node the child runs on, as `host:port`; empty for a local child
  /// (see `child_spec::nodes`).
  std::string node;
  /// Whether the service's readiness depends on this child
  /// (`child_spec::needed_for_readiness`).
  bool needed_for_readiness = false;
  /// Health checks the current incarnation missed in a row; 0 while it
  /// answers, and for a child without `health_check`.
  uint32_t missed_health_checks = 0;
  /// Whether the child has a `health_check`.
  bool health_checked = false;
  /// The suspicion that the current incarnation stopped answering its
  /// health checks: phi of a `phi_accrual` detector learned from the
  /// intervals between its answers (1: a 10% chance that the next answer is
  /// merely late, 3: 0.1%, 8: 10^-8); 0 for a child without `health_check`
  /// or without a running incarnation.
  double suspicion = 0;
  /// For a child paused by storm control (state `restarting`): the
  /// dependency whose incident it waits for (see `dependency_policy`);
  /// empty otherwise.
  std::string paused_for;
};

/// Lets CAF print a `child_info` (`caf::deep_to_string`) and serialize it,
/// as part of a `tree_snapshot` that crosses the wire.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("trellis::child_info"), x.id, x.actor, x.type,
           x.restart_type, x.state, x.restart_count, x.last_exit_reason,
           x.restart_due_in, x.node, x.needed_for_readiness,
           x.missed_health_checks, x.health_checked, x.suspicion,
           x.paused_for);
}

/// The counts of `count_children` (OTP's `count_children/1`).
struct child_counts {
  /// All children, running or not; 1 for a dynamic supervisor, whose only
  /// spec is its template (as in OTP).
  uint64_t specs = 0;
  /// Children that have a running actor.
  uint64_t active = 0;
  /// Children of type supervisor, running or not.
  uint64_t supervisors = 0;
  /// Children of type worker, running or not.
  uint64_t workers = 0;
};

/// Lets CAF print `child_counts` (`caf::deep_to_string`) and serialize them.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("trellis::child_counts"), x.specs, x.active,
           x.supervisors, x.workers);
}

} // namespace trellis
