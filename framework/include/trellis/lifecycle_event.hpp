#pragma once

/// @file
/// `lifecycle_event`: what happens in a tree, published on the tree's event
/// group.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

namespace trellis {

struct crash_report;

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
  // 5 to 7 were the ready-made actors' alarm and breaker kinds, now their
  // own (see `first_library_kind`); unused, so that no kind changes meaning
  // between nodes of two versions.
  /// A child's checkpoint was corrupt or unreadable; the child started
  /// without it. `reason` says what was wrong.
  checkpoint_skipped = 8,
  /// A child's checkpoint could not be saved; `reason` says why.
  checkpoint_failed,
  /// A message crashed a child too often in a row and was quarantined as a
  /// dead letter (see `trellis::dead_letters`); `detail` says
  /// `crashes=N message=...`.
  message_quarantined,
  /// A plain message (not a request) could not be delivered: sent to a
  /// stable handle whose child is gone for good, or that was full while the
  /// child was down. It is dropped as a dead letter; `reason` says why and
  /// `detail` shows the message. (A request gets the error as its answer
  /// instead; a plain send never gets an error message, which CAF's
  /// default handler would turn into its sender's exit.)
  message_dropped,
  /// A child that keeps its mailbox (`child_spec::keep_mailbox`) restarts
  /// with messages its previous incarnation left; `detail` says
  /// `messages=N`.
  messages_kept,
  /// Messages queued for a child that keeps its mailbox were bounced or
  /// dropped since no restart followed (it was stopped or removed, or its
  /// supervisor gave up), or since an incarnation could not hand them over
  /// (it ended after it was replaced, or the box was full). `reason` is the
  /// child's last exit reason; `detail` says `requests=N messages=M`
  /// (requests were answered with an error, plain messages dropped).
  messages_lost,
  /// A handler of a child threw and its decider answered
  /// `decision::resume` within the child's `resume_limit`: the child keeps
  /// running with its state and mailbox, and the message's request got
  /// `reason` (the crash reason) as its answer. No `child_exited` or
  /// `child_restarted` follows; `restart_count` is unchanged; `detail` says
  /// `resumes=N`, the resumes within the limit's period, this one included.
  child_resumed,
  /// A dependency went down (see `dependency_policy`): failed children that
  /// depend on it are paused from now on, charged to no restart intensity.
  /// `id` is the dependency, `path` the child or reporter whose failure or
  /// report opened it (or, in a tree that joins later, its first paused
  /// child); `detail` says `incident=N cause="..."`. Published once on each
  /// tree it pauses children of.
  incident_opened,
  /// The dependency is back: the incident's paused children restart,
  /// staggered. `id` and `path` as for `incident_opened`; `detail` says
  /// `incident=N outcome=... failures=F paused=P duration_ms=D
  /// resume_over_ms=R`, the outcome `reported_up` (every reporter said it
  /// is up), `canary_ran` (a canary ran for the policy's `settle`) or
  /// `nothing_paused` (no paused child was left to probe with).
  incident_closed,
};

/// Kinds from here up belong to libraries built on Trellis, which describe
/// each with `register_kind`. Up to `first_user_kind` they are the
/// ready-made actors' (trellis/actors/): alarms and breaker changes.
constexpr uint8_t first_library_kind = 128;

/// Kinds from here up are free for other libraries and applications.
constexpr uint8_t first_user_kind = 144;

/// What an event does to the alarms of its path and id: the observer counts
/// the alarms raised and lists the open ones.
enum class alarm_effect : uint8_t {
  /// Not about an alarm.
  none,
  /// Raises the alarm of the event's path and id.
  raises,
  /// Clears the alarm of the event's path and id.
  clears,
};

/// How a library's kind of event is named and reported.
struct lifecycle_kind_info {
  /// The kind's name, e.g. `alarm_set`.
  const char* name;
  /// The report's field for who tells, the event's path (`monitor`), as in
  /// `alarm_set monitor=root/mon name=backlog <detail>`.
  const char* teller_field;
  /// The report's field for the event's id (`name` in the line above).
  const char* id_field;
  /// What events of this kind do to alarms, for the observer.
  alarm_effect alarm = alarm_effect::none;
};

/// Describes the library kind `kind` (at least `first_library_kind`); a
/// library does so while the program initializes, from a header its users
/// include, so that every process that sees its events names them. `info`
/// is kept, not copied: a constant of the library. The first description of
/// a kind stays: returns false if another one holds it, or for a kind below
/// `first_library_kind`.
bool register_kind(lifecycle_kind kind, const lifecycle_kind_info& info);

/// Returns the description of library kind `kind`, or null.
const lifecycle_kind_info* info_of(lifecycle_kind kind) noexcept;

/// Returns the kind's name: the enumerator's, or a library kind's as it
/// registered it (`kind_<number>` if it did not).
std::string to_string(lifecycle_kind x);

/// One event of a tree, published on the tree's event group (see
/// `events_atom`, `trellis::lifecycle_events`). The feed for metrics,
/// dashboards and tests: every supervisor in a tree publishes on the same
/// group, so one subscription sees the whole tree.
struct lifecycle_event {
  /// An event of `kind` about the node at `path` (whose id is `id`),
  /// happening now; set the other fields as they apply.
  static lifecycle_event about(lifecycle_kind kind, std::string path,
                               std::string id);

  // Chainable setters; on a temporary (`about(...).with_reason(...)`) they
  // move the event along rather than copy it.

  /// Sets `reason`; returns the event, for chaining.
  lifecycle_event& with_reason(caf::error x) & {
    reason = std::move(x);
    return *this;
  }

  /// Sets `reason` on a temporary event and moves the event along.
  lifecycle_event with_reason(caf::error x) && {
    reason = std::move(x);
    return std::move(*this);
  }

  /// Sets `restart_count`; returns the event, for chaining.
  lifecycle_event& with_restart_count(uint64_t x) & {
    restart_count = x;
    return *this;
  }

  /// Sets `restart_count` on a temporary event and moves the event along.
  lifecycle_event with_restart_count(uint64_t x) && {
    restart_count = x;
    return std::move(*this);
  }

  /// Sets `detail`; returns the event, for chaining.
  lifecycle_event& with_detail(std::string x) & {
    detail = std::move(x);
    return *this;
  }

  /// Sets `detail` on a temporary event and moves the event along.
  lifecycle_event with_detail(std::string x) && {
    detail = std::move(x);
    return std::move(*this);
  }

  /// Sets `node`; returns the event, for chaining.
  lifecycle_event& with_node(std::string x) & {
    node = std::move(x);
    return *this;
  }

  /// Sets `node` on a temporary event and moves the event along.
  lifecycle_event with_node(std::string x) && {
    node = std::move(x);
    return std::move(*this);
  }

  /// What happened.
  lifecycle_kind kind = lifecycle_kind::child_started;
  /// The path of the node the event is about, e.g. `root/db/writer`.
  std::string path;
  /// The node's id within its supervisor (for a library's kind, what it
  /// says: an alarm's name, a breaker's target).
  std::string id;
  /// Why a child exited, was declared unhealthy, or a supervisor gave up.
  caf::error reason;
  /// The child's restart count after the event.
  uint64_t restart_count = 0;
  /// What else there is to say, as `key=value` pairs: a quarantined or
  /// dropped message, or an alarm's metric, value and levels, e.g.
  /// `metric=mailbox_depth value=1200 raise_at=1000 clear_at=100`.
  std::string detail;
  /// When it happened (system clock).
  caf::timestamp time;
  /// The node the child runs (or ran) on, as `host:port`; empty when local.
  std::string node;
  /// For a `child_exited` event after an exception: the crash report its
  /// supervisor keeps (see `trellis::crash_reports`); null otherwise.
  /// Shared, not copied, and not serialized: a subscriber on another node
  /// gets the event without it.
  std::shared_ptr<const crash_report> crash;
};

/// Lets CAF print a `lifecycle_event` (`caf::deep_to_string`) and serialize
/// it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lifecycle_event& x) {
  return f(caf::meta::type_name("trellis::lifecycle_event"), x.kind, x.path,
           x.id, x.reason, x.restart_count, x.detail, x.time, x.node);
}

/// Renders an event as one line: `child_exited path=root/a id=a reason=...`
/// (with `node=host:port` for a remote child).
std::string to_string(const lifecycle_event& x);

} // namespace trellis
