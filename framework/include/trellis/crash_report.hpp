#pragma once

/// @file
/// `crash_report`: where a child crashed, on what message, and in what
/// state (OTP's crash report, with the throw site's stack).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include "trellis/stack_trace.hpp"

namespace trellis {

/// A message as a crash report shows it: the message itself, who sent it,
/// and whether it was a request. Rendered only when the report is.
struct logged_message {
  /// The message (shared with the mailbox element it came in, not copied).
  caf::message content;
  /// The sender: its path in a tree, or `actor #<id>` (with `@<node>` for a
  /// remote one); empty for an anonymous message.
  std::string sender;
  /// Whether the sender waits for an answer.
  bool request = false;
};

/// At most this many characters of one element of a message are shown; a
/// string or a byte buffer is cut before it is rendered.
constexpr size_t max_rendered_element = 256;

/// At most this many characters of a whole message are shown.
constexpr size_t max_rendered_message = 1024;

/// At most this many characters of a child's state (`on_crash_dump`) are
/// kept; a longer one is cut and ends in `...`. A report is copied to every
/// reader, and a supervisor keeps 64.
constexpr size_t max_rendered_state = 64 * 1024;

/// Returns the element types of `x`, e.g. `std::string, int32_t`.
std::string type_names(const caf::message& x);

/// Renders `x` within `max_rendered_element` per element and
/// `max_rendered_message` in all, e.g. `("put", 42)`; cut parts end in `...`.
std::string render_bounded(const caf::message& x);

/// Renders a logged message on one line:
/// `request from root/api: (std::string, int32_t) ("put", 42)`.
std::string to_string(const logged_message& x);

/// What a supervisor keeps of one crash of a child: an exception that
/// escaped one of its handlers or its initialization. Listed by
/// `trellis::crash_reports`, carried by the `child_exited` event
/// (`lifecycle_event::crash`) and written by the report sink.
///
/// Erlang's crash report carries the last message, the process state and
/// the stack; this one does too, as far as C++ allows: the stack of the
/// throw (captured when it was thrown, see `stack_trace`), the message
/// being handled, the child's last messages if its spec keeps them
/// (`child_spec::keep_last_messages`), and its state if its spec can render
/// it (`child_spec::on_crash_dump`).
struct crash_report {
  /// The child's path, e.g. `root/db/writer`.
  std::string path;
  /// The child's id within its supervisor.
  std::string id;
  /// The child's restart count when it crashed: which incarnation.
  uint64_t restart_count = 0;
  /// When the supervisor learned of it (system clock).
  caf::timestamp time;
  /// The exit reason: `errc::unhandled_exception` with the exception's type
  /// and `what()` (see `crash_details_of`).
  caf::error reason;
  /// The message the child was handling; none for a crash in its
  /// initialization. As the handler left it: a handler that moved from its
  /// arguments leaves them moved-from (the last of `last_messages` shows it
  /// as it arrived).
  std::optional<logged_message> message;
  /// The child's last handled messages, oldest first, the one it crashed on
  /// last; empty unless its spec keeps them. A supervisor keeps them in its
  /// newest 8 reports only, which bounds what its reports hold.
  std::vector<logged_message> last_messages;
  /// The stack where the exception was thrown, innermost frame first; none
  /// when it was not captured (thrown outside the child's handler, or
  /// capture is off).
  std::optional<stack_trace> trace;
  /// The child's state as its `on_crash_dump` hook rendered it, at most
  /// `max_rendered_state` characters; empty without a hook.
  std::string state;
  /// Why the hook gave no state (it threw, or the child is not of the type
  /// the hook takes); empty otherwise.
  std::string state_error;
};

/// Renders a report on several lines: the child and its exception, the
/// message, the stack (symbolized now), the last messages and the state.
std::string to_string(const crash_report& x);

/// Lets CAF print and serialize a `logged_message`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, logged_message& x) {
  return f(caf::meta::type_name("trellis.logged_message"), x.content,
           x.sender, x.request);
}

} // namespace trellis

// Local only: a report travels in the answer of `crash_reports`, printed by
// its `to_string`; its stack's addresses mean nothing on another node.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(trellis::crash_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<trellis::crash_report>)
