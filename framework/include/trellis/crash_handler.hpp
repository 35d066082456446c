#pragma once

#include <exception>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace trellis {

/// Turns an exception into an exit reason: `errc::unhandled_exception` whose
/// context holds the exception's demangled type and its `what()`.
caf::error crash_reason(const std::exception_ptr& x);

/// Replaces CAF's default exception handler of `self`, which prints to stdout
/// and exits with a bare `sec::runtime_error`, by one that exits with
/// `crash_reason`, so that the supervisor's report tells what was thrown.
///
/// Actors started through `child_context::spawn` or `trellis::worker` get
/// this handler automatically; call it yourself in actors you spawn by hand.
void install_crash_handler(caf::scheduled_actor* self);

} // namespace trellis
