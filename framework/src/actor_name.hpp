#pragma once

#include <string>

#include <caf/abstract_actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/node_id.hpp>
#include <caf/actor_control_block.hpp>

#include "trellis/detail/member_class.hpp"
#include "trellis/detail/running_tree.hpp"

namespace trellis::detail {

/// Names an actor by its id, and its node if it is not this one.
inline std::string name_of(caf::actor_id id, const caf::node_id& node) {
  auto result = "actor " + std::to_string(id);
  if (node != caf::node_id{})
    result += "@" + caf::to_string(node);
  return result;
}

/// Names an actor for a report: by its path in a tree if it is a member of
/// one, else by its id (and node, if remote); `anonymous` for none.
inline std::string name_of(const caf::strong_actor_ptr& x) {
  if (!x)
    return "anonymous";
  auto ptr = caf::actor_cast<caf::abstract_actor*>(x);
  if (auto member = tree_member_of(ptr))
    return member->path();
  return name_of(x->id(), x->node());
}

/// Names an actor that may have ended already (its path is gone with it).
inline std::string name_of(const caf::actor_addr& x) {
  if (!x)
    return "anonymous";
  if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(x))
    return name_of(strong);
  return name_of(x.id(), x.node());
}

} // namespace trellis::detail
