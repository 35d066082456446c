#include "trellis/child_spec.hpp"

#include "trellis/errc.hpp"
#include "trellis/supervisor_spec.hpp"

namespace trellis {

caf::error child_spec::validate() const {
  if (id_.empty())
    return make_error(errc::invalid_spec, "id", "must not be empty");
  if (id_.find('/') != std::string::npos)
    return make_error(errc::invalid_spec, "id",
                      "'" + id_ + "' must not contain '/' (paths use it)");
  if (!start_)
    return make_error(errc::invalid_spec, "start",
                      "child '" + id_ + "' has no factory");
  auto sd = shutdown();
  if (sd.policy() == trellis::shutdown::kind::timeout
      && sd.time() < caf::timespan{0})
    return make_error(errc::invalid_spec, "shutdown",
                      "child '" + id_ + "' has a negative timeout");
  if (nested_)
    return nested_->validate();
  return caf::none;
}

} // namespace trellis
