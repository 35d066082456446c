#include "blocking_call.hpp"

#include <caf/actor_cast.hpp>

#include "trellis/atoms.hpp"
#include "trellis/detail/member_class.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/fault_injection.hpp"

namespace trellis::detail {

caf::error refuse_calling_self(const caf::actor& target, const char* what) {
  if (running_tree == nullptr)
    return caf::none;
  // Remote actors (proxies) are no tree member: never refused.
  auto member = tree_member_of(caf::actor_cast<caf::abstract_actor*>(target));
  if (member == nullptr || member->tree() != running_tree)
    return caf::none;
  return make_error(errc::calling_self, what,
                    "a blocking call from an actor of the tree it calls "
                    "(a child factory, a supervisor or a child's handler) "
                    "cannot be answered until the caller returns: use "
                    "request() from the actor, or call from outside the tree");
}

const char* call_name(caf::atom_value x) noexcept {
  switch (static_cast<uint64_t>(x)) {
    case started_atom::uint_value():
      return "start_supervisor";
    case which_children_atom::uint_value():
      return "which_children";
    case count_children_atom::uint_value():
      return "count_children";
    case start_child_atom::uint_value():
      return "start_child";
    case terminate_child_atom::uint_value():
      return "terminate_child";
    case restart_child_atom::uint_value():
      return "restart_child";
    case delete_child_atom::uint_value():
      return "delete_child";
    case get_childspec_atom::uint_value():
      return "get_childspec";
    case snapshot_atom::uint_value():
      return "snapshot";
    case lookup_atom::uint_value():
      return "lookup";
    case dead_letters_atom::uint_value():
      return "dead_letters";
    case crash_reports_atom::uint_value():
      return "crash_reports";
    case events_atom::uint_value():
      return "lifecycle_events";
    case fault_atom::uint_value():
      return "inject_fault";
    case sys_statistics_atom::uint_value():
      return "statistics";
    case sys_trace_atom::uint_value():
      return "trace";
    case sys_suspend_atom::uint_value():
      return "suspend_child";
    case sys_resume_atom::uint_value():
      return "resume_child";
    case sys_get_state_atom::uint_value():
      return "get_state";
    default:
      return "request";
  }
}

caf::error name_timeout(caf::error err, const char* what,
                        caf::duration timeout) {
  if (err != caf::sec::request_timeout)
    return err;
  return make_error(errc::timeout, what,
                    "no answer within " + caf::to_string(timeout));
}

} // namespace trellis::detail
