#include "trellis/supervisor_spec.hpp"

#include "supervisor_actor.hpp"
#include "trellis/errc.hpp"

namespace trellis {

child_spec supervisor_spec::as_child() const {
  auto nested = std::make_shared<const supervisor_spec>(*this);
  child_spec result{id_, [nested](child_context& ctx) -> start_result {
                      return detail::supervisor_actor::spawn(
                        ctx.system(), *nested, ctx.path(), ctx.events());
                    }};
  result.type(child_type::supervisor);
  result.nested_ = std::move(nested);
  return result;
}

caf::error supervisor_spec::validate() const {
  if (id_.empty())
    return make_error(errc::invalid_spec, "id",
                      "a supervisor's id must not be empty");
  if (intensity_ < 0)
    return make_error(errc::invalid_spec, "intensity",
                      "supervisor '" + id_ + "' has a negative intensity");
  if (period_ <= caf::timespan{0})
    return make_error(errc::invalid_spec, "period",
                      "supervisor '" + id_ + "' needs a positive period");
  if (kill_timeout_ < caf::timespan{0})
    return make_error(errc::invalid_spec, "kill_timeout",
                      "supervisor '" + id_ + "' has a negative kill_timeout");
  if (dynamic()) {
    if (children_.size() != 1)
      return make_error(errc::invalid_spec, "children",
                        "dynamic supervisor '" + id_
                          + "' needs exactly one child spec, its template");
    if (auto_shutdown_ != trellis::auto_shutdown::never)
      return make_error(errc::invalid_spec, "auto_shutdown",
                        "dynamic supervisor '" + id_
                          + "' cannot shut down automatically");
  } else if (max_children_) {
    return make_error(errc::invalid_spec, "max_children",
                      "supervisor '" + id_
                        + "' is not dynamic; only dynamic supervisors have "
                          "max_children");
  }
  if (auto err = check_childspecs(children_))
    return err;
  for (auto& child : children_)
    if (auto err = check_significance(child))
      return err;
  return caf::none;
}

caf::error supervisor_spec::check_significance(const child_spec& x) const {
  if (x.significant() && auto_shutdown_ == trellis::auto_shutdown::never)
    return make_error(errc::invalid_spec, "significant",
                      "child '" + x.id() + "' of supervisor '" + id_
                        + "' is significant, but the supervisor's "
                          "auto_shutdown is never");
  return caf::none;
}

} // namespace trellis
