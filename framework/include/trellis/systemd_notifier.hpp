#pragma once

/// @file
/// `systemd_notifier`: systemd's notify protocol for a service that runs a
/// tree (`Type=notify`, `WatchdogSec=`).

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

namespace trellis {

/// Sends `state` (`"READY=1"`, `"STATUS=..."`, lines separated by `\n`) to
/// the service manager over `$NOTIFY_SOCKET`, as `sd_notify(3)` does.
/// Returns false when the variable is unset (no service manager listens),
/// true once sent, or `caf::sec::invalid_argument` for an address it cannot
/// use and `caf::sec::network_syscall_failed` naming the call that failed.
caf::expected<bool> notify_systemd(const std::string& state);

/// Tells systemd how a service's tree is doing, from a thread of its own:
///
/// - `READY=1` once the root has started all its children (for
///   `Type=notify`);
/// - `WATCHDOG=1` every half of `$WATCHDOG_USEC` (`WatchdogSec=`), only
///   while the root supervisor answers within that time: a root that
///   exited or hangs stops the pings, and systemd restarts the service;
/// - `STOPPING=1` when a `coordinated_shutdown` begins, or when the
///   notifier is destroyed first.
///
/// Without `$NOTIFY_SOCKET` it does nothing. Start it after the tree and
/// destroy it before the actor system. libsystemd is not needed: the
/// protocol is one datagram per state. See docs/operations.md for a unit
/// file.
class systemd_notifier {
public:
  /// Takes over the other's thread.
  systemd_notifier(systemd_notifier&&) noexcept;
  /// Stops this notifier's thread and takes over the other's.
  systemd_notifier& operator=(systemd_notifier&&) noexcept;
  /// Sends `STOPPING=1` unless a shutdown did, and stops the thread.
  ~systemd_notifier();

  /// Returns whether a service manager listens (`$NOTIFY_SOCKET` is set).
  bool active() const noexcept;

  /// Returns the interval between watchdog pings; zero without
  /// `$WATCHDOG_USEC` (or when it names another process' `$WATCHDOG_PID`).
  caf::timespan watchdog_interval() const noexcept;

  /// The implementation; private to Trellis.
  struct impl;

  /// Wraps a started implementation; use `start_systemd_notifier`.
  explicit systemd_notifier(std::unique_ptr<impl> ptr);

private:
  std::unique_ptr<impl> impl_;
};

/// Starts telling systemd about the tree under `root` (see
/// `systemd_notifier`). Fails with `caf::sec::invalid_argument` for an
/// invalid `root`, a malformed `$WATCHDOG_USEC` or a `$NOTIFY_SOCKET`
/// that is neither a path nor an abstract address (`@...`).
caf::expected<systemd_notifier> start_systemd_notifier(caf::actor_system& sys,
                                                       const caf::actor& root);

} // namespace trellis
