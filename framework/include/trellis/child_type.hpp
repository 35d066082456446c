#pragma once

/// @file
/// `child_type`: worker or supervisor (OTP's `type` field).

#include <cstdint>
#include <string>

namespace trellis {

/// What a child is (OTP's `type` field). It selects the default shutdown
/// policy and how the supervisor knows the child has started.
enum class child_type : uint8_t {
  /// Any actor. Started once it has run its initialization and answers
  /// messages. Default shutdown: a 5 second timeout.
  worker,
  /// A Trellis supervisor. Started once all of its own children started.
  /// Default shutdown: infinity, so that its subtree can stop in order.
  supervisor,
};

/// Returns the enumerator's name.
std::string to_string(child_type x);

} // namespace trellis
