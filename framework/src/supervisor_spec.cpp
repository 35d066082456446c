#include "trellis/supervisor_spec.hpp"

#include <unordered_set>

#include "supervisor_actor.hpp"
#include "trellis/errc.hpp"

namespace trellis {

child_spec supervisor_spec::as_child() const {
  auto nested = std::make_shared<const supervisor_spec>(*this);
  child_spec result{id_, [nested](child_context& ctx) -> start_result {
                      return ctx.system().spawn<detail::supervisor_actor>(
                        *nested, ctx.path());
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
  std::unordered_set<std::string> ids;
  for (auto& child : children_) {
    if (auto err = child.validate())
      return err;
    if (!ids.insert(child.id()).second)
      return make_error(errc::invalid_spec, "id",
                        "supervisor '" + id_ + "' has two children with id '"
                          + child.id() + "'");
  }
  return caf::none;
}

} // namespace trellis
