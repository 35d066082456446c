#pragma once

#include <exception>
#include <optional>

#include "trellis/stack_trace.hpp"

namespace trellis::detail {

/// Returns the trace captured on this thread when the exception in `x` was
/// thrown, and forgets it; none if nothing was captured for it here:
/// capturing was off, the throw happened outside a supervised child
/// (`running_tree` unset) or on another thread, or it fell out of the ring
/// of the thread's last few captures. Call it where the exception is caught,
/// e.g. in an actor's exception handler, on the thread that threw.
std::optional<stack_trace> take_throw_trace(const std::exception_ptr& x);

} // namespace trellis::detail
