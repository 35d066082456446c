#pragma once

#include <cstdint>

#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>

#include "child_registry.hpp"

namespace trellis::detail {

/// Runs the health checks of a supervisor's children (see
/// `trellis::health_check`): probes each running incarnation every
/// interval, counts the checks it misses in a row, and declares it
/// unhealthy (`errc::hung` when it did not answer, `errc::unhealthy` when
/// it answered with an error) after `max_missed`.
///
/// It holds the supervisor as a `caf::event_based_actor` for its requests
/// and timers, and reaches the rest of the supervisor through `host`.
class health_monitor {
public:
  using iterator = child_registry::iterator;

  /// What the monitor needs of its supervisor.
  class host {
  public:
    virtual ~host() = default;

    /// Child `c` failed its health checks for `reason`.
    virtual void child_unhealthy(iterator c, caf::error reason) = 0;
  };

  /// Message to `self` when a check of incarnation `who` is due.
  using tick_atom = caf::atom_constant<caf::atom("tr_health")>;

  health_monitor(caf::event_based_actor* self, host* owner,
                 child_registry& children);

  /// Starts checking the incarnation of `c` that just started, afresh.
  void watch(iterator c);

  /// Returns the suspicion that the current incarnation of `c` stopped
  /// answering its checks (`phi_accrual`); 0 for a child without checks.
  double suspicion(const child& c) const;

  /// The check of incarnation `who` is due.
  void on_tick(const caf::actor_addr& who, uint64_t token);

  /// Stops all checks for good (the supervisor stops); late answers and
  /// ticks are ignored.
  void close() noexcept {
    closed_ = true;
  }

private:
  /// Schedules the next check of `c`'s current incarnation.
  void schedule(iterator c);

  void on_passed(const caf::actor_addr& who, uint64_t token);

  void on_missed(const caf::actor_addr& who, uint64_t token,
                 caf::error cause);

  /// The child whose current check is `token`, if it still counts: running
  /// that incarnation and not being stopped.
  iterator find(const caf::actor_addr& who, uint64_t token);

  caf::event_based_actor* self_;
  host* host_;
  child_registry& children_;
  uint64_t next_token_ = 0;
  bool closed_ = false;
};

} // namespace trellis::detail
