#pragma once

/// @file
/// `strategy`: how a supervisor restarts its children (OTP's `strategy`
/// flag).

#include <cstdint>
#include <string>

namespace trellis {

/// How a supervisor restarts its children when one of them exits
/// (OTP's `strategy` supervisor flag).
enum class strategy : uint8_t {
  /// Restart only the child that exited.
  one_for_one,
  /// Stop all other children in reverse start order, then start all of them
  /// again in start order.
  one_for_all,
  /// Stop the children started after the one that exited, in reverse start
  /// order, then start it and them again in start order.
  rest_for_one,
  /// A dynamic supervisor: one child template, children started on demand
  /// with their own arguments, each restarted alone (OTP's
  /// `simple_one_for_one`, Elixir's `DynamicSupervisor`). Build one with
  /// `trellis::dynamic_supervisor`.
  simple_one_for_one,
};

/// Returns the enumerator's name.
std::string to_string(strategy x);

} // namespace trellis
