#pragma once

/// @file
/// `incident_info`: an open incident of a dependency, and how to list them.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>

namespace trellis {

/// An open incident: a dependency is down, and the failed children that
/// depend on it wait, paused (see `dependency_policy`).
struct incident_info {
  /// The incident's number on this node, from 1; its events say
  /// `incident=N`.
  uint64_t id = 0;
  /// The dependency's name.
  std::string dependency;
  /// `waiting` (for a reporter or the next canary), or `probing` (a canary
  /// runs).
  std::string state;
  /// What opened it: `3 failures within 10s` or `reported down by
  /// root/db_breaker: ...`.
  std::string cause;
  /// When it opened (system clock).
  caf::timestamp opened_at;
  /// Failures of children that depend on it, those that opened it
  /// included.
  uint64_t failures = 0;
  /// Children paused now, waiting for the incident to close.
  uint64_t paused = 0;
  /// Canaries restarted so far.
  uint64_t probes = 0;
  /// Reporters that say the dependency is down, comma-separated.
  std::string reported_down_by;
  /// The time left until the next canary; zero while one runs or while a
  /// reporter says the dependency is down.
  caf::timespan next_probe_in{0};
};

/// Lets CAF print an `incident_info` (`caf::deep_to_string`).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, incident_info& x) {
  return f(caf::meta::type_name("trellis::incident_info"), x.id, x.dependency,
           x.state, x.cause, x.opened_at, x.failures, x.paused, x.probes,
           x.reported_down_by, x.next_probe_in);
}

/// Returns the open incidents of this node, oldest first; none for a system
/// that `trellis::configure` did not see.
std::vector<incident_info> open_incidents(const caf::actor_system& sys);

} // namespace trellis
