#pragma once

/// @file
/// `stable_handle_options`: how a stable handle treats messages while its
/// child is down, and whether it sends a request again after the
/// incarnation it went to ended.

#include <cstddef>
#include <cstdint>
#include <string>

namespace trellis {

/// What a stable handle does with a message that arrives while its child is
/// down (exited, restarting, waiting out a backoff).
enum class down_policy : uint8_t {
  /// Keeps it for the next incarnation, at most `stable_handle_options::
  /// buffer` messages (the default).
  buffer,
  /// Answers a request at once with `errc::restarting`; drops a plain
  /// message as a dead letter (reported and published as
  /// `message_dropped`). For callers that would rather try elsewhere than
  /// wait for a restart.
  fail_fast,
};

/// Returns the enumerator's name, e.g. `"fail_fast"`.
std::string to_string(down_policy x);

/// Whether a stable handle sends a request again when the incarnation it
/// went to ended before answering it. OTP has no such thing: a
/// `gen_server:call` to a process that dies exits the caller.
///
/// With retry on, the handle tells two cases apart:
/// - The request never ran: the incarnation bounced it from its mailbox
///   (`caf::sec::request_receiver_down` with no sender), or it never
///   reached the node. It is sent again to the next incarnation, whether
///   idempotent or not.
/// - The request may have run: the incarnation crashed on it
///   (`errc::unhandled_exception`), its node was lost while the request was
///   out (`errc::node_down`), or it was declared hung or abandoned. An
///   idempotent request is sent again; any other gets `errc::in_doubt`.
///
/// Each request is sent again at most `attempts` times; after that its
/// caller gets the last error. Every request gets exactly one answer.
struct retry_policy {
  /// How many times a request may be sent again; 0 turns retry off, and the
  /// handle forwards requests with their sender and request id, as without
  /// options.
  uint32_t attempts = 0;

  /// Whether handling a request twice does no harm, so that a request that
  /// may have run can be sent again (at-least-once). If false, such a
  /// request gets `errc::in_doubt` instead (at-most-once).
  bool idempotent = false;
};

/// Options of `trellis::stable_handle`. The defaults make the handle of
/// `stable_handle(sys, root, path)`.
struct stable_handle_options {
  /// How many messages wait at most while the child is down; at least 1
  /// (messages also wait until the handle's first lookup answers).
  size_t buffer = 1000;

  /// What happens to a message that arrives while the child is down.
  down_policy while_down = down_policy::buffer;

  /// Whether requests are sent again after their incarnation ended.
  retry_policy retry;
};

} // namespace trellis
