#pragma once

#include <cstdint>
#include <functional>

#include <caf/error.hpp>

namespace trellis::detail {

/// What a supervisor keeps per child while the current incarnation's start
/// is pending (and only then: see `child_registry::begin_start`): which
/// start it is, and what runs once the incarnation has initialized, with
/// none, or has failed, with the reason.
struct start_state {
  uint64_t token = 0;
  std::function<void(caf::error)> k;
};

} // namespace trellis::detail
