#pragma once

// Telling of an event, once: one value, from which the report is derived and
// which is published on the tree's group.

#include <string>
#include <utility>

#include <caf/fwd.hpp>
#include <caf/group.hpp>
#include <caf/send.hpp>

#include "report.hpp"
#include "trellis/detail/event_feed.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/log.hpp"

namespace trellis::detail {

/// Returns the feed's group if anyone may listen on it, else an invalid one.
inline caf::group listened(const event_feed* feed) {
  return feed && feed->live() ? feed->group() : caf::group{};
}

/// Tells of the event that `make()` builds: writes its report at `level`
/// (see `report::event`; `teller` is who tells) and publishes it on
/// `events` if that is valid. Nothing is built when neither reads it.
template <class Make>
void tell(const caf::actor_system& sys, const caf::group& events,
          log_level level, Make make, const std::string& teller = {}) {
  auto log = report::wants(level);
  if (!log && !events)
    return;
  lifecycle_event ev = make();
  if (log)
    report::event(sys, ev, level, teller);
  if (events)
    caf::anon_send(events, std::move(ev));
}

/// As above, at the level of the event's kind.
template <class Make>
void tell(const caf::actor_system& sys, const caf::group& events,
          lifecycle_kind kind, Make make) {
  tell(sys, events, report::level_of(kind), std::move(make));
}

} // namespace trellis::detail
