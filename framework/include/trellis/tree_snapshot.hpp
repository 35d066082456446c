#pragma once

/// @file
/// `tree_snapshot`: a picture of a whole tree at one moment, as a value, as
/// text or as JSON.

#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "trellis/child_info.hpp"

namespace trellis {

/// A picture of a supervision tree at one moment: one node per supervisor or
/// worker, nested like the tree, each what its supervisor's `which_children`
/// says of it (a `child_info`) plus its path, uptime and children. OTP has
/// no single call for this (observer walks `which_children` itself);
/// Trellis gathers it in one request, each supervisor answering for its own
/// subtree.
///
/// The root is the supervisor that was asked. It reports its own restart
/// type as `permanent` and its restart count as 0, since only its parent
/// knows those; every other node carries what its supervisor knows of it.
struct tree_snapshot : child_info {
  /// The node's path from the root supervisor's id, e.g. `root/db/writer`.
  std::string path;
  /// How long the current actor has been running; zero when not running.
  caf::timespan uptime{0};
  /// For a supervisor node: its restart intensity; 0 for workers.
  uint64_t intensity = 0;
  /// For a supervisor node: how many more restarts its budget allows within
  /// the current period (0 once one more would escalate); 0 for workers.
  uint64_t restarts_left = 0;
  /// The children of a supervisor node, in start order; empty for workers
  /// and for supervisors that are not running.
  std::vector<tree_snapshot> children;
};

/// Lets CAF print a `tree_snapshot` (`caf::deep_to_string`) and serialize
/// it: snapshots of remote subtrees cross the wire (`configure_node`
/// registers the type).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tree_snapshot& x) {
  return f(caf::meta::type_name("trellis::tree_snapshot"),
           static_cast<child_info&>(x), x.path, x.uptime, x.intensity,
           x.restarts_left, x.children);
}

/// Renders a snapshot as indented text, one node a line:
/// `writer  path=root/db/writer type=worker restart=permanent state=running
/// actor=42 restarts=1 uptime=2.503s node=127.0.0.1:4242 last_exit="..."`
/// (actor 0: none; `node` only for a remote child;
/// `restart_due_in=0.250s` while a backoff delays a restart,
/// `paused_for=db` while storm control pauses it).
std::string to_text(const tree_snapshot& x);

/// Renders a snapshot as one JSON object with the fields of `tree_snapshot`
/// (`actor_id` for the actor, 0 for none; `uptime_ms` and
/// `restart_due_in_ms` for the times, `intensity` and `restarts_left` for a
/// supervisor's restart budget, `node` empty for a local child) and
/// `children` as an array of objects.
std::string to_json(const tree_snapshot& x);

/// Returns the node at `path` in `x`, or null.
const tree_snapshot* find(const tree_snapshot& x, const std::string& path);

} // namespace trellis
