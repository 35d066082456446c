#pragma once

/// @file
/// Crash reasons: the exception behind an actor's exit, as an error value.

#include <exception>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace trellis {

/// Turns an exception into an exit reason: `errc::unhandled_exception` whose
/// context holds the exception's demangled type and its `what()`.
caf::error crash_reason(const std::exception_ptr& x);

/// The exception behind a crash reason.
struct crash_details {
  /// The exception's demangled type, e.g. `std::invalid_argument`.
  std::string type;
  /// Its `what()`.
  std::string what;
};

/// Returns the exception's type and message if `reason` is a crash reason
/// (`errc::unhandled_exception`), for deciders that tell crashes apart.
std::optional<crash_details> crash_details_of(const caf::error& reason);

/// Replaces CAF's default exception handler of `self`, which prints to stdout
/// and exits with a bare `sec::runtime_error`, by one that exits with
/// `crash_reason`, so that the supervisor's report tells what was thrown.
///
/// Actors started through `child_context::spawn` or `trellis::worker` get
/// this handler automatically; call it yourself in actors you spawn by hand.
void install_crash_handler(caf::scheduled_actor* self);

namespace detail {

/// `crash_reason` for the exception being handled, called inside its catch
/// clause: `e` if it is a `std::exception`, else null. No second throw to
/// learn what the exception is.
caf::error current_crash_reason(const std::exception* e);

} // namespace detail

} // namespace trellis
