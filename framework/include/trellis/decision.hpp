#pragma once

/// @file
/// `decision` and `decider`: a child's own rule for its exits, in place of
/// OTP's rules by restart type.

#include <cstdint>
#include <functional>
#include <string>

#include <caf/error.hpp>

namespace trellis {

/// What a supervisor does about a child that exited, when the child's spec
/// carries a decider (Akka's supervisor directives). Without one, OTP's
/// rules by restart type hold.
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
};

/// Returns the enumerator's name.
std::string to_string(decision x);

/// Decides from an exit reason; `crash_details` (trellis/crash_handler.hpp)
/// tells the type and message of an exception. A decider that throws counts
/// as `escalate`.
using decider = std::function<decision(const caf::error& reason)>;

} // namespace trellis
