#pragma once

/// @file
/// `traced_message`: one entry of a child's trace (OTP's `sys:log`): a
/// message it handled, when, for how long, and how it ended.

#include <cstdint>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>

#include "trellis/crash_report.hpp"

namespace trellis {

/// How a traced message's handling ended.
enum class trace_outcome : uint8_t {
  /// Its handler returned.
  handled,
  /// Its handler threw, and the child's decider resumed it
  /// (`decision::resume`).
  resumed,
  /// Its handler threw and the child crashed. Each incarnation's trace is
  /// its own and starts empty, so this shows only while the crashed one is
  /// read; its crash report keeps its last messages
  /// (`child_spec::keep_last_messages`).
  crashed,
  /// It was quarantined as poison and not handled (see
  /// `child_spec::quarantine_after`).
  quarantined,
};

/// Returns the enumerator's name, e.g. `"handled"`.
std::string to_string(trace_outcome x);

/// Maximum number of messages a child's trace keeps (see `set_trace`).
constexpr size_t max_traced_messages = 10000;

/// A message a child handled while its trace was on (see `get_trace`). A
/// message its behavior skips (`caf::skip`) is traced once handled, not on
/// each try.
struct traced_message {
  /// When its handler began (system clock).
  caf::timestamp at;
  /// How long its handler ran.
  caf::timespan took{0};
  /// How its handling ended.
  trace_outcome outcome = trace_outcome::handled;
  /// The message as it arrived, its sender, and whether it was a request.
  logged_message message;
};

/// Renders `x` on one line: `<time> +<took> <outcome> <message>`.
std::string to_string(const traced_message& x);

} // namespace trellis

// Local only, as a crash report: it carries the message as it arrived.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(trellis::traced_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<trellis::traced_message>)
