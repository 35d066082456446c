// Takeover: a remote child whose spec asks for it moves back to a more
// preferred node once that node answers again (OTP's distributed
// application takeover, here per child).

#include <algorithm>

#include "distribution.hpp"
#include "supervisor_actor.hpp"

namespace trellis::detail {

namespace {

/// Whether `c` runs on a node after the first of its candidates.
bool displaced(const child& c) {
  return c.spec.takeover() && c.handle && c.state == child_state::running
         && !c.node().empty() && c.node() != c.spec.nodes().front();
}

} // namespace

void supervisor_actor::arm_takeover(const child& c) {
  if (takeover_armed_ || !displaced(c))
    return;
  // Only a child that spawn_remote placed is displaced: a distribution is
  // installed.
  auto d = installed_distribution();
  if (d == nullptr)
    return;
  takeover_armed_ = true;
  delayed_send(this, d->takeover_interval(system()),
               takeover_tick_atom::value);
}

void supervisor_actor::on_takeover_tick() {
  takeover_armed_ = false;
  if (shutting_down_)
    return;
  auto d = installed_distribution();
  if (d == nullptr || d->unreachable(system()))
    return;
  for (auto& c : children_) {
    if (!displaced(c))
      continue;
    arm_takeover(c);
    // Probe each node preferred to the current one; the first that answers
    // gets the child back.
    for (auto& node : c.spec.nodes()) {
      if (node == c.node())
        break;
      auto where = parse_node_address(node);
      d->probe(this, where->first, where->second,
               [this, id = c.spec.id(), node] {
                 when_idle([this, id, node] { take_over(id, node); });
               });
    }
  }
}

void supervisor_actor::take_over(const std::string& id,
                                 const std::string& node) {
  auto c = children_.find(id);
  if (shutting_down_ || c == children_.end() || !displaced(*c))
    return;
  auto& nodes = c->spec.nodes();
  // Another probe may have brought it to a node preferred to `node` already.
  if (std::find(nodes.begin(), nodes.end(), node)
      > std::find(nodes.begin(), nodes.end(), c->node()))
    return;
  lost_nodes_.erase(std::remove(lost_nodes_.begin(), lost_nodes_.end(), node),
                    lost_nodes_.end());
  ops_.begin(false);
  // A planned move, not a failure: it counts as a restart of the child but
  // not against the supervisor's intensity.
  stops_.stop(c, guarded([this, c] { start_again(c, false); }));
}

} // namespace trellis::detail
