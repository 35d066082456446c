#pragma once

#include <functional>
#include <optional>

#include <caf/actor_clock.hpp>

namespace trellis::detail {

/// What the shutdown sequencer keeps per child while that child's stop is
/// in flight (and only then: see `child_registry::begin_stop`): when to
/// escalate (kill, then abandon; none for `infinity`), whether it was
/// killed, and what runs once it is down.
struct stop_state {
  bool killed = false;
  std::optional<caf::actor_clock::time_point> deadline;
  std::function<void()> k;
};

} // namespace trellis::detail
