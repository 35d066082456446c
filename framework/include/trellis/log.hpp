#pragma once

/// @file
/// Trellis' logger and the level of its reports.

#include <cstdint>

namespace trellis {

/// The name of the spdlog logger that Trellis reports through. Tests and
/// applications reach it with `spdlog::get(trellis::logger_name)`, for
/// example to add a sink; `trellis::configure` creates it.
constexpr const char* logger_name = "trellis";

/// Severity levels, in spdlog's order.
enum class log_level : uint8_t {
  /// spdlog's finest level; Trellis reports nothing below `info`, so this
  /// shows what `info` shows.
  trace,
  /// As `trace`: Trellis reports nothing at this level.
  debug,
  /// Progress reports as well, such as `child_started` and
  /// `child_restarted`.
  info,
  /// Warnings, such as a skipped checkpoint or a dropped message, and errors:
  /// the default.
  warn,
  /// Error reports only, such as `child_terminated` and `start_error`.
  error,
  /// Only `system_abandoned`: actors still running when the process exits.
  critical,
  /// No reports at all.
  off,
};

/// Sets the level of Trellis' reports. The default is `warn`, as OTP's
/// logger hides progress reports by default: error reports
/// (`child_terminated`, `start_error`, `shutdown_error`,
/// `reached_max_restart_intensity`) show, progress reports
/// (`child_started`, at `info`) do not. Use `info` to see progress.
void set_log_level(log_level x);

} // namespace trellis
