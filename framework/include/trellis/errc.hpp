#pragma once

/// @file
/// `errc`, the error codes of Trellis, and the helpers that make, test and
/// render its errors.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>

namespace trellis {

/// Error codes of the `trellis` error category. Rendered as text, for example
/// `trellis::errc::already_present: child cache`, once `trellis::configure`
/// registered the category with the actor system config.
///
/// Exit reasons that Trellis gives actors are `caf::error`s of this category
/// too. Every code lays its context out the same way: strings that say where
/// and what, outermost first, and, for an error caused by another (a
/// supervisor that gave up or escalated, a start that failed), the cause
/// last, as a `caf::error` value: `cause_of` walks the chain, and rendering
/// renders each link by its own category, e.g.
/// `trellis::errc::reached_max_restart_intensity: root/db, writer,
/// trellis::errc::unhandled_exception: std::runtime_error, disk full`.
enum class errc : uint8_t {
  /// A child spec or supervisor spec is invalid; the context names the field.
  invalid_spec = 1,
  /// A child's factory failed, threw, or returned an invalid handle.
  start_failed,
  /// A supervisor could not start one of its children and did not start;
  /// the context names the child, and its start error is the cause.
  failed_to_start_child,
  /// An exception escaped an actor's handler; the context holds the
  /// exception's type and `what()`.
  unhandled_exception,
  /// A supervisor gave up: more than `intensity` restarts within `period`.
  /// Its parent sees this as the supervisor's exit reason. Like OTP's
  /// `shutdown`, it counts as a normal exit for a transient parent entry.
  /// The context names the supervisor and the child whose exit was one too
  /// many; that exit's reason is the cause.
  reached_max_restart_intensity,
  /// A child with this id already exists (OTP: `already_present`).
  already_present,
  /// The child is already running (OTP: `{already_started, Pid}`).
  already_started,
  /// The child is running and cannot be deleted (OTP: `running`).
  running,
  /// The child is being restarted (OTP: `restarting`). Also the answer of
  /// a fail-fast stable handle (`down_policy::fail_fast`) while its child
  /// is down; the context names the child.
  restarting,
  /// No child with this id (OTP: `not_found`).
  not_found,
  /// The operation does not apply to this kind of supervisor
  /// (OTP: `simple_one_for_one`).
  not_supported,
  /// The supervisor is shutting down and accepts no more work.
  shutting_down,
  /// A child did not exit after being killed: it is stuck in a handler and
  /// was abandoned so that shutdown could finish.
  abandoned,
  /// A dynamic supervisor already runs `max_children` children
  /// (Elixir's `:max_children`).
  max_children,
  /// A child did not answer its health checks in time: it is probably stuck
  /// in a handler. The context says how many checks it missed.
  hung,
  /// A child answered its readiness check with an error, or an alarm asked
  /// for its restart. The context holds the cause.
  unhealthy,
  /// A child's decider asked its supervisor to give up; the context names
  /// the supervisor and the child, and the child's exit reason is the cause.
  escalated,
  // 18 was `circuit_open`, now the ready-made actors' own
  // `breaker_errc::circuit_open`; unused, so that no code changes meaning
  // between nodes of two versions.
  /// A stable handle's buffer is full while its child is down.
  overloaded = 19,
  /// A stored checkpoint failed its checksum or could not be decoded; the
  /// child started without it.
  corrupt_checkpoint,
  /// A checkpoint could not be written or read (the context has the
  /// system's error).
  checkpoint_failed,
  /// The message was quarantined: it crashed the child too often in a row,
  /// so it is kept as a dead letter instead of being handled.
  quarantined,
  /// The node a remote child ran on was lost: its connection closed or it
  /// stopped answering heartbeats. The context names the child and the
  /// node. A failure like a crash, handled by strategy and intensity.
  node_down,
  /// A node's TLS settings (`tls_config`) cannot be used: a file is not set
  /// or not readable, holds no certificate or key, or the key does not open
  /// with the passphrase or does not match the certificate. The context
  /// says which. A node with such settings neither listens nor connects.
  invalid_tls_config,
  /// The actor system was built without `trellis::configure` on its config,
  /// so Trellis cannot stop its trees when the system goes: no supervisor
  /// starts on it. The context says what to call.
  not_configured,
  /// A blocking call could never be answered: a supervisor (or an actor that
  /// it is waiting for) called a blocking helper on its own tree (OTP:
  /// `calling_self`). The context names the call.
  calling_self,
  /// A blocking call got no answer within its timeout. The context names
  /// the call and the timeout.
  timeout,
  /// A request sent through a stable handle with a retry policy may have
  /// run, but its answer was lost: the child crashed on it, its node was
  /// lost, or it was declared hung while the request was out. Since the
  /// request is not idempotent, it is not sent again. The context names
  /// the child and says so; the loss is the cause.
  in_doubt,
};

/// Returns the enumerator's name, e.g. `"already_present"`.
std::string to_string(errc x);

/// Returns the name of `x`, as `to_string` does, without a copy.
const char* name_of(errc x) noexcept;

/// The category atom of Trellis errors.
constexpr caf::atom_value errc_category = caf::atom("trellis");

/// Creates a Trellis error without context.
caf::error make_error(errc x);

/// Creates a Trellis error whose context holds `xs` (strings, usually).
template <class T, class... Ts>
caf::error make_error(errc x, T&& y, Ts&&... ys) {
  return caf::error{static_cast<uint8_t>(x), errc_category,
                    caf::make_message(std::forward<T>(y),
                                      std::forward<Ts>(ys)...)};
}

/// Returns whether `x` is a Trellis error with code `code`.
bool is(const caf::error& x, errc code);

/// Returns whether `x` is CAF's exit reason `code`. Unlike CAF 0.17's
/// `x == code`, builds no error (an allocation) to compare with.
bool is(const caf::error& x, caf::exit_reason code);

/// Returns whether `x` is CAF's system error `code`, building no error.
bool is(const caf::error& x, caf::sec code);

/// Returns whether an exit reason counts as a normal exit for a transient
/// child: `normal`, `user_shutdown` (OTP's `shutdown`) and
/// `reached_max_restart_intensity` (which OTP also reports as `shutdown`).
bool is_normal_exit(const caf::error& reason);

/// Returns the error that caused `x` (the last element of its context, if
/// that is an error), or none: for a supervisor that gave up, the exit of
/// the child that was one too many, and so on down a nested tree.
caf::error cause_of(const caf::error& x);

/// Renders an error with the renderers of `sys` (Trellis' and CAF's own).
std::string render(const caf::actor_system& sys, const caf::error& x);

} // namespace trellis
