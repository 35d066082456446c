#pragma once

// Trellis' reports: one line each, OTP's report names, stable field names.
// The only place that touches spdlog; each function checks the level first,
// so a report that is off costs a branch and renders nothing.

#include <cstddef>
#include <string>

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "trellis/crash_report.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/log.hpp"

namespace trellis::detail::report {

/// Creates the logger if needed (idempotent, thread-safe).
void ensure_logger();

/// A supervisor ignored an exit signal from `sender`, which is neither its
/// parent nor a child (warning, at most 20 lines a second).
void exit_signal_ignored(const caf::actor_system& sys,
                         const std::string& supervisor,
                         const std::string& sender, const caf::error& reason);

/// Returns whether a report at `level` would be written.
bool wants(log_level level);

/// Returns the level at which an event of `kind` is reported.
log_level level_of(lifecycle_kind kind);

/// Writes the report of `ev`, derived from the event alone, at `level`;
/// `teller` is the path of the actor that tells it (a resource monitor
/// names itself as well as its alarm's subject). The one place an event's
/// report is worded; events that repeat for every message (dropped ones)
/// are limited to 20 lines a second.
void event(const caf::actor_system& sys, const lifecycle_event& ev,
           log_level level, const std::string& teller = {});

/// A resource monitor cannot watch `target` (warning).
void monitor_problem(const std::string& monitor, const std::string& target,
                     const std::string& problem);

/// A resource monitor cannot sample the process (error).
void monitor_failed(const caf::actor_system& sys, const std::string& monitor,
                    const caf::error& reason);

/// Progress report: a child started (info).
void child_started(const std::string& supervisor, const std::string& child,
                   caf::actor_id actor, size_t restart_count,
                   const std::string& node = {});

/// A child exited and the supervisor acts on it (error).
void child_terminated(const caf::actor_system& sys,
                      const std::string& supervisor, const std::string& child,
                      const caf::error& reason, size_t restart_count);

/// The crash report of a child of `supervisor` (error, on several lines;
/// at most 10 reports a second, since each symbolizes a stack).
void crash(const caf::actor_system& sys, const std::string& supervisor,
           const crash_report& x);

/// A child's start or restart failed (error).
void start_error(const caf::actor_system& sys, const std::string& supervisor,
                 const std::string& child, const caf::error& reason,
                 size_t restart_count);

/// A child did not stop as its shutdown policy asked (error).
void shutdown_error(const caf::actor_system& sys,
                    const std::string& supervisor, const std::string& child,
                    const caf::error& reason);

/// No handler of `receiver` matched a message from `sender` (warning),
/// instead of CAF's line on stdout that names only an actor id. Limited as
/// `message_dropped`.
void unexpected_message(const std::string& receiver, const std::string& sender,
                        bool request, const caf::message& content);

/// A supervisor shuts itself down because significant children ended
/// (info).
void auto_shutdown(const std::string& supervisor, const std::string& mode);

/// The actor system goes while `trees` trees still run: they are stopped
/// in order (info).
void trees_stopping(size_t trees);

/// A coordinated shutdown began, and why (info).
void shutdown_begins(const std::string& cause);

/// A phase of a coordinated shutdown ended (info).
void shutdown_phase_ended(const std::string& phase, const std::string& took);

/// A task or phase of a coordinated shutdown failed or ran out of time
/// (error).
void shutdown_problem(const std::string& what);

/// A coordinated shutdown ended; `problems` is empty if all went well
/// (info, or warning with problems).
void shutdown_ended(const std::string& took, const std::string& problems);

/// The actor system still runs `running` actors after the shutdown time:
/// the process ends without waiting for them (critical).
void system_abandoned(size_t running);

/// A TLS connection between nodes failed, usually in its handshake (a peer
/// without a trusted certificate, or without TLS), for OpenSSL's `reasons`
/// (warning). CAF reports only that the connection closed.
void tls_failed(const std::string& peer, const std::string& reasons);

/// A remote child hosted here for `supervisor_node` was killed by its
/// orphan guard, for `reason` (warning).
void orphan_killed(const std::string& child, const std::string& supervisor_node,
                   const std::string& reason);

/// A connection on a node's port was closed before CAF read from it, for
/// `reason` (a stable name) and `detail` (warning). At most 20 a second are
/// written; the next one tells how many were left out.
void connection_refused(const std::string& peer, const char* reason,
                        const std::string& detail);

} // namespace trellis::detail::report
