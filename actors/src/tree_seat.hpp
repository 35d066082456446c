#pragma once

// Where a ready-made actor sits in its tree: what it keeps of its
// child_context once it runs, and how it tells the tree of events.

#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>

#include "tell.hpp"
#include "trellis/child_context.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/log.hpp"

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

  /// Tells of an event about `subject` (a path): reports it at `level`,
  /// this actor telling, and publishes it on the tree's group.
  void tell(const caf::actor_system& sys, lifecycle_kind kind,
            log_level level, std::string subject, std::string id,
            std::string what) const {
    detail::tell(
      sys, events, level,
      [&] {
        return lifecycle_event::about(kind, std::move(subject), std::move(id))
          .with_detail(std::move(what));
      },
      path);
  }
};

} // namespace trellis::detail
