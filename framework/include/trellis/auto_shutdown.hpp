#pragma once

/// @file
/// `auto_shutdown`: when a supervisor ends itself after significant children
/// ended (OTP's `auto_shutdown` flag).

#include <cstdint>
#include <string>

namespace trellis {

/// When a supervisor shuts itself down because significant children ended
/// (OTP's `auto_shutdown` supervisor flag, OTP 24 and later). Only a
/// significant child that ends by itself counts: a transient one that exits
/// normally, or a temporary one that exits for any reason. Children the
/// supervisor stops (terminate_child, a sibling's restart, shutdown) never
/// trigger it. The supervisor then exits with `caf::exit_reason::user_shutdown`
/// (OTP's `shutdown`), so a transient parent entry does not restart it.
enum class auto_shutdown : uint8_t {
  /// Never shut down automatically; no child may be significant (default).
  never,
  /// Shut down when any significant child ended by itself.
  any_significant,
  /// Shut down when the last significant child that was still alive ended by
  /// itself.
  all_significant,
};

/// Returns the enumerator's name.
std::string to_string(auto_shutdown x);

} // namespace trellis
