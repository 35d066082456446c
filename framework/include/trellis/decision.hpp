#pragma once

/// @file
/// `decision` and `decider`: a child's own rule for its exits, in place of
/// OTP's rules by restart type, and `resume_limit`, how often it may resume.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

namespace trellis {

/// What a supervisor does about a child that exited, or about an exception
/// one of its handlers threw, when the child's spec carries a decider
/// (Akka's supervisor directives). Without one, OTP's rules by restart type
/// hold.
enum class decision : uint8_t {
  /// Restart it by the supervisor's strategy, charged to the budget.
  restart,
  /// Leave it stopped (a temporary or dynamic child is removed), as a
  /// transient child that exited normally.
  stop,
  /// Give up: the supervisor stops its children and exits with
  /// `errc::escalated`, naming the child and its reason, so that its own
  /// supervisor handles the failure.
  escalate,
  /// Keep the child running (Akka's `Resume`; OTP has none): when one of its
  /// handlers throws, the message's request (if it is one) gets the crash
  /// reason as its answer, and the child goes on with the next message,
  /// with its state and its mailbox, as if the handler had returned. No
  /// restart, nothing charged to the budget; the supervisor reports and
  /// publishes `lifecycle_kind::child_resumed`.
  ///
  /// At most `child_spec::resume_limit` resumes within its period: past it,
  /// the exception takes the restart path (the child crashes, restarted and
  /// charged as by `restart`). For an exit that already happened (a kill, a
  /// normal exit, an exception in the actor's initialization) and for a
  /// child that cannot resume (a blocking child, a supervisor, a remote
  /// child, an actor not spawned through `child_context::spawn`, or one
  /// that installed its own exception handler), `resume` means `restart`.
  resume,
};

/// Returns the enumerator's name.
std::string to_string(decision x);

/// Decides from an exit reason, or from the crash reason of an exception a
/// handler threw; `crash_details` (trellis/crash_handler.hpp) tells the type
/// and message of an exception. A decider that throws counts as `escalate`.
///
/// The supervisor calls it for each exit of its child. For an exception in
/// a handler of a child that can resume (see `decision::resume`), the
/// child calls it first, on its own thread, with the reason the crash would
/// have; unless it answers `resume` (within the limit), that answer is the
/// crash's decision, and the supervisor does not ask again. Each failure is
/// decided once. A decider may therefore run on several threads at once
/// (every child of a dynamic supervisor shares one): make it thread-safe,
/// as a pure function of the reason is.
using decider = std::function<decision(const caf::error& reason)>;

/// How often a child may resume (see `decision::resume`): a resume is
/// allowed while at most `resumes` of them, this one included, fall within
/// `period`, counted across the child's incarnations, as OTP counts
/// restarts against a supervisor's intensity. The default, 3 within 5
/// seconds, lets a child shrug off a few bad requests but restarts one that
/// fails on message after message, whose state is likely what is broken.
struct resume_limit {
  /// At most this many resumes within `period`; 0 never resumes.
  size_t resumes = 3;
  /// The sliding window, positive.
  caf::timespan period = std::chrono::seconds(5);
};

} // namespace trellis
