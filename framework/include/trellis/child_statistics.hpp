#pragma once

/// @file
/// `child_statistics`: what one incarnation of a child did since its
/// statistics were switched on (OTP's `sys:statistics`), and what it is
/// doing now.

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>

namespace trellis {

/// The statistics of a child's current incarnation (see `get_statistics`).
///
/// Handler times are kept in a histogram with four buckets per power of
/// two: a percentile is the upper bound of its bucket, at most 25% above
/// the true value and never above `handler_max`. A handler that follows
/// another in the same run of the child is timed from that one's end, one
/// clock read per message instead of two: its time includes CAF's taking
/// of its message from the mailbox, a few dozen nanoseconds.
///
/// `current_handler` tells a stuck handler from a child that is behind on
/// its mailbox, which a health check that times out cannot: a long
/// `current_handler` with a growing `mailbox_depth` is a handler that does
/// not return, a short one with a growing depth is a child that cannot keep
/// up.
struct child_statistics {
  /// The child's path, e.g. `root/db/writer`.
  std::string path;
  /// Whether statistics are on for the child (its spec's `statistics`, or
  /// `set_statistics`). Everything below is zero while they are off.
  bool enabled = false;
  /// Whether the incarnation began collecting: it does at its first message
  /// after the switch (Trellis sends it one). False with `enabled` means the
  /// child has not taken a message since: its handler ran since before the
  /// switch, and how long is unknown.
  bool collecting = false;
  /// When the incarnation began collecting (system clock).
  caf::timestamp since;
  /// Messages whose handlers ran to their end since `since`: they returned,
  /// or threw and were resumed. A crash, a skip and a quarantined message do
  /// not count.
  uint64_t messages_handled = 0;
  /// The median handler time of those messages.
  caf::timespan handler_p50{0};
  /// Their 90th percentile.
  caf::timespan handler_p90{0};
  /// Their 99th percentile.
  caf::timespan handler_p99{0};
  /// The longest.
  caf::timespan handler_max{0};
  /// Whether a handler runs right now.
  bool handling = false;
  /// For how long the running handler has been running: read from outside
  /// the child, so that it is known while the handler is stuck.
  caf::timespan current_handler{0};
  /// Messages waiting in the mailbox (not the one being handled): pushes
  /// counted by their senders less those the child took out, checked
  /// against the mailbox itself when collecting begins, on each message
  /// from its supervisor, and every 256 handlers. Exact whenever no send to
  /// the child is half done, but for messages that bypass the child's
  /// handlers (CAF's stream messages) since the last check.
  uint64_t mailbox_depth = 0;
  /// Whether the child is suspended (see `suspend_child`).
  bool suspended = false;
};

/// Renders `x` on one line, e.g. `root/db: 1200 handled, p50 12us, p90
/// 40us, p99 1ms, max 3ms, idle, 0 waiting`.
std::string to_string(const child_statistics& x);

/// Lets CAF print and serialize `child_statistics`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_statistics& x) {
  return f(caf::meta::type_name("trellis.child_statistics"), x.path,
           x.enabled, x.collecting, x.since, x.messages_handled,
           x.handler_p50, x.handler_p90, x.handler_p99, x.handler_max,
           x.handling, x.current_handler, x.mailbox_depth, x.suspended);
}

} // namespace trellis
