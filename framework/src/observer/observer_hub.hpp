#pragma once

// The observer's memory of a tree's events: counters for /metrics and a
// bounded log that event streams (SSE) follow. Fed by one actor, read by
// the HTTP server's threads, hence the lock.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/timespan.hpp>

#include "trellis/lifecycle_event.hpp"

namespace trellis::detail {

/// What the observer counted since it started.
struct observer_counters {
  /// Restarts by child path.
  std::map<std::string, uint64_t> restarts;
  /// Crashes (abnormal exits) by child path and reason (the error's code,
  /// without its context, so the label's values stay few).
  std::map<std::pair<std::string, std::string>, uint64_t> crashes;
  /// Escalations (`restart_given_up`) by supervisor path.
  std::map<std::string, uint64_t> escalations;
  /// Alarms raised by (path, alarm), and whether each is open now.
  std::map<std::pair<std::string, std::string>, uint64_t> alarms_raised;
  /// How many of the alarms are open now (0 or 1 per child; a dynamic
  /// template's count adds up its children's).
  std::map<std::pair<std::string, std::string>, uint64_t> alarms_open;
  /// Events by kind.
  std::map<std::string, uint64_t> events;
};

/// One event as an event stream sends it.
struct observer_entry {
  uint64_t seq;
  std::string kind;
  std::string json;
};

class observer_hub {
public:
  /// Keeps the last `capacity` events for streams that lag behind. Unless
  /// `per_child_series`, a dynamic child's counters count under its
  /// template (see `series_path`).
  explicit observer_hub(size_t capacity = 4096, bool per_child_series = false)
    : capacity_(capacity), per_child_series_(per_child_series) {
    // nop
  }

  /// Counts `ev` and appends it to the log. `reason` is the rendered
  /// reason, `reason_code` the reason without its context (empty if none).
  void publish(const lifecycle_event& ev, const std::string& reason,
               const std::string& reason_code);

  /// Returns the events after `seq` and advances `seq`, waiting up to
  /// `timeout` for one to arrive; returns none on timeout or once stopped.
  /// Events that left the log before a slow reader got them are skipped.
  std::vector<observer_entry> wait(uint64_t& seq, caf::timespan timeout);

  /// Starts a stream: returns the last `recent` events and those that
  /// raised the alarms open now (a page that connects late must still show
  /// them), in order, the restart, crash and escalation counters as of the
  /// last of them, and sets `seq` to the last event, all at one moment.
  std::vector<observer_entry> subscribe(uint64_t& seq, size_t recent,
                                        observer_counters& now) const;

  /// Wakes all waiting readers for good.
  void stop();

  bool stopped() const;

  /// Records that the tree's root ended, for `reason` (rendered).
  void tree_ended(std::string reason);

  /// Returns why the tree's root ended, or none while it runs.
  std::optional<std::string> ended() const;

  observer_counters counters() const;

private:
  size_t capacity_;
  bool per_child_series_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<observer_entry> log_;
  uint64_t seq_ = 0;
  bool stopped_ = false;
  std::optional<std::string> ended_;
  observer_counters counters_;
  std::map<std::pair<std::string, std::string>, observer_entry> open_alarms_;
};

/// Renders the totals of `x` as
/// `{"restarts":R,"crashes":C,"escalations":E,"seq":S}`, the page's counts
/// up to event `seq`.
std::string counters_json(const observer_counters& x, uint64_t seq);

/// The path a metric series and a counter use for `path`: a dynamic child's
/// id (`job#17`, anywhere in the path) becomes its template's (`job#*`), so
/// that children that come and go do not grow the series without bound.
std::string series_path(const std::string& path);

/// Renders `ev` as one JSON object: `kind`, `path`, `id`, `reason`,
/// `crash` (an abnormal exit), `restart_count`, `detail` and `time_ms`
/// (milliseconds since the epoch).
std::string event_json(const lifecycle_event& ev, const std::string& reason,
                       bool crash);

} // namespace trellis::detail
