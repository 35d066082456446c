#pragma once

/// @file
/// `restart`: permanent, transient or temporary (OTP's `restart` field).

#include <cstdint>
#include <string>

namespace trellis {

/// When a supervisor restarts a child that exited (OTP's `restart` field).
enum class restart : uint8_t {
  /// Always restarted, whatever the exit reason.
  permanent,
  /// Restarted only after an abnormal exit; `normal`, `user_shutdown` and
  /// `reached_max_restart_intensity` count as normal (see `is_normal_exit`).
  transient,
  /// Never restarted; removed from the child list once it exits.
  temporary,
};

/// Returns the enumerator's name.
std::string to_string(restart x);

} // namespace trellis
