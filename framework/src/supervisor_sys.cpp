// The supervisor's part that looks inside its children (trellis/sys.hpp).

#include <chrono>
#include <string>

#include "supervisor_actor.hpp"
#include "trellis/atoms.hpp"
#include "trellis/detail/member_class.hpp"
#include "trellis/detail/sys_control.hpp"
#include "trellis/errc.hpp"

namespace trellis::detail {

namespace {

/// The control of `x`, an inspectable child (see `inspected`), made first
/// if needed.
sys_control& control_of_inspected(const caf::actor& x) {
  auto ptr = caf::actor_cast<caf::abstract_actor*>(x);
  return *member_class_of(ptr)->control(*ptr, true);
}

std::string in_ms(caf::timespan x) {
  return std::to_string(
           std::chrono::duration_cast<std::chrono::milliseconds>(x).count())
         + "ms";
}

} // namespace

caf::expected<supervisor_actor::iterator>
supervisor_actor::inspected(const std::string& id, const char* op) {
  auto c = children_.find(id);
  if (c == children_.end())
    return no_child(id);
  auto refuse = [&](const std::string& why) {
    return make_error(errc::not_supported, child_path(*c),
                      std::string{op} + " needs a local event-based worker; "
                        + why);
  };
  if (c->spec.type() == child_type::supervisor)
    return refuse("this is a supervisor");
  if (!c->spec.nodes().empty() || !c->spec.remote_type().empty())
    return refuse("this is a remote child");
  if (!c->handle)
    return c->state == child_state::restarting
             ? make_error(errc::restarting, child_path(*c))
             : make_error(errc::not_found, child_path(*c), "not running");
  auto ptr = caf::actor_cast<caf::abstract_actor*>(c->handle);
  if (!inspectable(ptr))
    return refuse("this one is blocking, or its factory did not spawn it "
                  "through child_context::spawn");
  return c;
}

caf::message_handler supervisor_actor::sys_handlers() {
  // Each changes the spec too (but `suspend`), so that the next incarnation
  // starts as this one runs.
  auto control = [](iterator c) -> sys_control& {
    return control_of_inspected(c->handle);
  };
  return {
    [this, control](sys_statistics_atom, const std::string& id,
                    bool on) -> caf::result<caf::ok_atom> {
      auto c = inspected(id, "set_statistics");
      if (!c)
        return std::move(c.error());
      (*c)->spec.statistics(on);
      if (!on) {
        // Off needs no control: a child without one pays nothing.
        if (auto sys = control_of((*c)->handle))
          sys->statistics(false);
        return caf::ok_atom::value;
      }
      control(*c).statistics(true);
      // Wakes it, so that it begins collecting now unless a handler runs;
      // ahead of its backlog.
      send<caf::message_priority::high>((*c)->handle, sys_resume_atom::value);
      return caf::ok_atom::value;
    },
    [this](sys_statistics_atom,
           const std::string& id) -> caf::result<child_statistics> {
      auto c = inspected(id, "get_statistics");
      if (!c)
        return std::move(c.error());
      if (auto sys = control_of((*c)->handle))
        return sys->read(child_path(**c));
      child_statistics x;
      x.path = child_path(**c);
      return x;
    },
    [this, control](sys_trace_atom, const std::string& id,
                    uint64_t n) -> caf::result<caf::ok_atom> {
      auto c = inspected(id, "set_trace");
      if (!c)
        return std::move(c.error());
      if (n > max_traced_messages)
        return make_error(errc::invalid_spec, "trace",
                          child_path(**c) + " may trace at most "
                            + std::to_string(max_traced_messages)
                            + " messages, not " + std::to_string(n));
      (*c)->spec.trace(n);
      if (n > 0)
        control(*c).trace(n);
      else if (auto sys = control_of((*c)->handle))
        sys->trace(0);
      return caf::ok_atom::value;
    },
    [this](sys_trace_atom, const std::string& id)
      -> caf::result<std::vector<traced_message>> {
      auto c = inspected(id, "get_trace");
      if (!c)
        return std::move(c.error());
      if (auto sys = control_of((*c)->handle))
        return sys->trace();
      return std::vector<traced_message>{};
    },
    [this, control](sys_suspend_atom,
                    const std::string& id) -> caf::result<caf::ok_atom> {
      auto c = inspected(id, "suspend_child");
      if (!c)
        return std::move(c.error());
      control(*c).suspend();
      return caf::ok_atom::value;
    },
    [this](sys_resume_atom,
           const std::string& id) -> caf::result<caf::ok_atom> {
      auto c = inspected(id, "resume_child");
      if (!c)
        return std::move(c.error());
      auto sys = control_of((*c)->handle);
      if (sys != nullptr && sys->suspended()) {
        // The child ends its suspension as it handles the wake (see
        // `sys_control::request_resume`); the wake goes ahead of its
        // backlog.
        sys->request_resume();
        send<caf::message_priority::high>((*c)->handle,
                                          sys_resume_atom::value);
      }
      return caf::ok_atom::value;
    },
    [this](sys_get_state_atom, const std::string& id,
           caf::timespan within) -> caf::result<std::string> {
      auto c = inspected(id, "get_state");
      if (!c)
        return std::move(c.error());
      if (!(*c)->spec.has_crash_dump())
        return make_error(errc::not_supported, child_path(**c),
                          "get_state needs a format_state hook in the "
                          "child's spec");
      auto rp = make_response_promise();
      sys_get_state(*c, within, rp);
      return rp;
    },
  };
}

void supervisor_actor::sys_get_state(iterator c, caf::timespan within,
                                     caf::response_promise rp) {
  auto child = c->handle;
  auto& sys = control_of_inspected(child);
  auto where = child_path(*c);
  // Ahead of the child's backlog: a child behind is no hung child.
  request<caf::message_priority::high>(child, within,
                                       sys_get_state_atom::value)
    .then([rp](std::string& x) mutable { rp.deliver(std::move(x)); },
          [rp, child, where, within,
           &sys](caf::error& err) mutable {
            if (!is(err, caf::sec::request_timeout)) {
              rp.deliver(std::move(err));
              return;
            }
            // The child holds `sys` alive: `child` is a strong handle.
            auto x = sys.read(where);
            std::string why = "no answer to get_state within " + in_ms(within);
            if (x.collecting && x.handling)
              why += "; its handler has been running for "
                     + in_ms(x.current_handler);
            else if (!x.collecting)
              why += "; switch its statistics on to see whether a handler "
                     "runs";
            rp.deliver(make_error(errc::hung, where, why));
          });
}

} // namespace trellis::detail
