#pragma once

// Where a ready-made actor sits in its tree: what it keeps of its
// child_context once it runs, and how it publishes on the tree's events.

#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/group.hpp>
#include <caf/send.hpp>
#include <caf/timestamp.hpp>

#include "trellis/child_context.hpp"
#include "trellis/lifecycle_event.hpp"

namespace trellis::detail {

struct tree_seat {
  /// The supervisor, through which paths in its subtree are looked up.
  caf::actor supervisor;
  /// The actor's own path, e.g. `root/monitor`.
  std::string path;
  /// The tree's event group.
  caf::group events;

  static tree_seat of(const child_context& ctx) {
    return {ctx.supervisor(), ctx.path(), ctx.events()};
  }

  /// Publishes an event about `subject` (a path) on the tree's group.
  void publish(lifecycle_kind kind, std::string subject, std::string id,
               std::string detail) const {
    if (events)
      caf::anon_send(events,
                     lifecycle_event{kind, std::move(subject), std::move(id),
                                     caf::error{}, 0, std::move(detail),
                                     caf::make_timestamp(), std::string{}});
  }
};

} // namespace trellis::detail
