#pragma once

#include <exception>
#include <optional>

#include "trellis/stack_trace.hpp"

namespace trellis::detail {

/// Placeholder until the capture lands.
inline std::optional<stack_trace> take_throw_trace(const std::exception_ptr&) {
  return std::nullopt;
}

} // namespace trellis::detail
