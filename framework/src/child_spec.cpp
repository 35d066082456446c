#include "trellis/child_spec.hpp"

#include <unordered_set>

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
  if (health_check_) {
    auto& hc = *health_check_;
    if (hc.interval() <= caf::timespan{0} || hc.timeout() <= caf::timespan{0})
      return make_error(errc::invalid_spec, "health_check",
                        "child '" + id_
                          + "' needs a positive health check interval and "
                            "timeout");
    if (hc.max_missed() == 0)
      return make_error(errc::invalid_spec, "health_check",
                        "child '" + id_ + "' needs max_missed of at least 1");
    if (hc.kind() == trellis::health_check::probe::readiness
        && type_ == child_type::supervisor)
      return make_error(errc::invalid_spec, "health_check",
                        "child '" + id_
                          + "' is a supervisor, which has no readiness "
                            "answer");
  }
  // Bounds keep the delay arithmetic far from overflow; `!(a <= b)` also
  // rejects a NaN jitter.
  if (backoff_
      && (backoff_->min() <= caf::timespan{0} || backoff_->max() < backoff_->min()
          || backoff_->max() > std::chrono::hours(24 * 365)
          || !(backoff_->jitter() >= 0 && backoff_->jitter() <= 1)
          || backoff_->reset_after() < caf::timespan{0}))
    return make_error(errc::invalid_spec, "backoff",
                      "child '" + id_
                        + "' needs 0 < min <= max <= 1 year, a jitter "
                          "between 0 and 1, and a non-negative reset_after");
  if (quarantine_after_ > 0 && type_ == child_type::supervisor)
    return make_error(errc::invalid_spec, "quarantine_after",
                      "child '" + id_
                        + "' is a supervisor; only workers quarantine "
                          "messages");
  if (significant_ && restart_ == trellis::restart::permanent)
    return make_error(errc::invalid_spec, "significant",
                      "child '" + id_
                        + "' is permanent; only transient and temporary "
                          "children may be significant");
  if (nested_)
    return nested_->validate();
  return caf::none;
}

caf::error check_childspecs(const std::vector<child_spec>& specs) {
  std::unordered_set<std::string> ids;
  for (auto& spec : specs) {
    if (auto err = spec.validate())
      return err;
    if (!ids.insert(spec.id()).second)
      return make_error(errc::invalid_spec, "id",
                        "two children with id '" + spec.id() + "'");
  }
  return caf::none;
}

} // namespace trellis
