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

namespace trellis::detail::report {

/// Creates the logger if needed (idempotent, thread-safe).
void ensure_logger();

/// A supervisor ignored an exit signal from `sender`, which is neither its
/// parent nor a child (warning, at most 20 lines a second).
void exit_signal_ignored(const caf::actor_system& sys,
                         const std::string& supervisor,
                         const std::string& sender, const caf::error& reason);

/// Progress report: a child started (info).
void child_started(const std::string& supervisor, const std::string& child,
                   const caf::actor_addr& actor, size_t restart_count,
                   const std::string& node = {});

/// A child exited and the supervisor acts on it (error).
void child_terminated(const caf::actor_system& sys,
                      const std::string& supervisor, const std::string& child,
                      const caf::error& reason, size_t restart_count);

/// A child's start or restart failed (error).
void start_error(const caf::actor_system& sys, const std::string& supervisor,
                 const std::string& child, const caf::error& reason,
                 size_t restart_count);

/// A child did not stop as its shutdown policy asked (error).
void shutdown_error(const caf::actor_system& sys,
                    const std::string& supervisor, const std::string& child,
                    const caf::error& reason);

/// The supervisor gives up and escalates (error).
void reached_max_restart_intensity(const caf::actor_system& sys,
                                   const std::string& supervisor,
                                   const std::string& child,
                                   const caf::error& reason,
                                   size_t restart_count);

/// A child missed its health checks and is treated as failed (error).
void child_unhealthy(const caf::actor_system& sys,
                     const std::string& supervisor, const std::string& child,
                     const caf::error& reason, size_t restart_count);

/// A child's checkpoint could not be loaded; it starts without (warning).
void checkpoint_skipped(const caf::actor_system& sys,
                        const std::string& supervisor,
                        const std::string& child, const caf::error& reason,
                        size_t restart_count);

/// A child's checkpoint could not be saved (error).
void checkpoint_failed(const caf::actor_system& sys,
                       const std::string& supervisor, const std::string& child,
                       const caf::error& reason);

/// A message crashed a child too often in a row and is quarantined (error).
void message_quarantined(const caf::actor_system& sys,
                         const std::string& supervisor,
                         const std::string& child, const caf::error& reason,
                         const caf::message& content, size_t crashes);

/// A plain message could not be delivered and was dropped (warning). At
/// most 20 a second are written; the next one tells how many were left out.
void message_dropped(const caf::actor_system& sys, const std::string& path,
                     const caf::error& reason, const caf::message& content);

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
