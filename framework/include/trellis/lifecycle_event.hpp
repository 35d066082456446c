#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

namespace trellis {

/// What happened in a supervision tree.
enum class lifecycle_kind : uint8_t {
  /// A child started for the first time (or by `start_child`,
  /// `restart_child`).
  child_started,
  /// A child's actor ended: it exited, crashed, was stopped, or was declared
  /// unhealthy. `reason` says why.
  child_exited,
  /// The supervisor restarted a child; `restart_count` counts it.
  child_restarted,
  /// A supervisor exceeded its restart intensity and gives up (OTP's
  /// `reached_max_restart_intensity`); `path` is the supervisor's,
  /// `id` the child whose exit was one too many.
  restart_given_up,
  /// A child missed its health checks; it is killed and handled as failed.
  child_unhealthy,
  /// A resource monitor's threshold was crossed; `detail` names the metric.
  alarm_set,
  /// The alarm's value went back below its clear level.
  alarm_cleared,
  /// A circuit breaker changed state; `detail` says `state=open` (or
  /// `half_open`, `closed`) and the failures counted.
  breaker_state_changed,
  /// A child's checkpoint was corrupt or unreadable; the child started
  /// without it. `reason` says what was wrong.
  checkpoint_skipped,
  /// A child's checkpoint could not be saved; `reason` says why.
  checkpoint_failed,
  /// A message crashed a child too often in a row and was quarantined as a
  /// dead letter (see `trellis::dead_letters`); `detail` shows the message.
  message_quarantined,
  /// A plain message (not a request) could not be delivered: sent to a
  /// stable handle whose child is gone for good, or that was full while the
  /// child was down. It is dropped as a dead letter; `reason` says why and
  /// `detail` shows the message. (A request gets the error as its answer
  /// instead; a plain send never gets an error message, which CAF's
  /// default handler would turn into its sender's exit.)
  message_dropped,
};

/// Returns the enumerator's name.
std::string to_string(lifecycle_kind x);

/// One event of a tree, published on the tree's event group (see
/// `events_atom`, `trellis::lifecycle_events`). The feed for metrics,
/// dashboards and tests: every supervisor in a tree publishes on the same
/// group, so one subscription sees the whole tree.
struct lifecycle_event {
  lifecycle_kind kind = lifecycle_kind::child_started;
  /// The path of the node the event is about, e.g. `root/db/writer`.
  std::string path;
  /// The node's id within its supervisor (for alarms: the alarm's name).
  std::string id;
  /// Why a child exited, was declared unhealthy, or a supervisor gave up.
  caf::error reason;
  /// The child's restart count after the event.
  uint64_t restart_count = 0;
  /// For alarms: metric, value and levels, e.g.
  /// `metric=mailbox_depth value=1200 raise_at=1000 clear_at=100`.
  std::string detail;
  /// When it happened (system clock).
  caf::timestamp time;
  /// The node the child runs (or ran) on, as `host:port`; empty when local.
  std::string node;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lifecycle_event& x) {
  return f(caf::meta::type_name("trellis::lifecycle_event"), x.kind, x.path,
           x.id, x.reason, x.restart_count, x.detail, x.time, x.node);
}

/// Renders an event as one line: `child_exited path=root/a id=a reason=...`
/// (with `node=host:port` for a remote child).
std::string to_string(const lifecycle_event& x);

} // namespace trellis
