#include "trellis/child_spec.hpp"

#include <unordered_set>

#include "spec_rules.hpp"
#include "trellis/errc.hpp"
#include "trellis/phi_accrual.hpp"
#include "trellis/supervisor_spec.hpp"

namespace trellis {

caf::error child_spec::validate() const {
  if (id_.empty())
    return make_error(errc::invalid_spec, "id", "must not be empty");
  if (id_.find('/') != std::string::npos)
    return make_error(errc::invalid_spec, "id",
                      "'" + id_ + "' must not contain '/' (paths use it)");
  if (detail::has_control_char(id_))
    return make_error(errc::invalid_spec, "id", detail::control_char_text());
  if (detail::beyond(restart(), trellis::restart::temporary))
    return make_error(errc::invalid_spec, "restart",
                      "child '" + id_
                        + "' has no restart type of trellis::restart");
  if (detail::beyond(type(), child_type::supervisor))
    return make_error(errc::invalid_spec, "type",
                      "child '" + id_ + "' has no type of trellis::child_type");
  if (detail::beyond(shutdown().kind(), trellis::shutdown_kind::infinity))
    return make_error(errc::invalid_spec, "shutdown",
                      "child '" + id_
                        + "' has no shutdown kind of trellis::shutdown_kind");
  if (!d_->start)
    return make_error(errc::invalid_spec, "start",
                      "child '" + id_ + "' has no factory");
  auto sd = shutdown();
  if (sd.kind() == trellis::shutdown_kind::timeout
      && sd.time() < caf::timespan{0})
    return make_error(errc::invalid_spec, "shutdown",
                      "child '" + id_ + "' has a negative timeout");
  if (sd.kind() == trellis::shutdown_kind::timeout
      && sd.time() > detail::longest_span)
    return make_error(errc::invalid_spec, "shutdown",
                      "child '" + id_
                        + "' has a timeout above 1 year: use "
                          "shutdown::infinity() to wait for ever");
  if (d_->health_check) {
    auto& hc = *d_->health_check;
    if (hc.interval() <= caf::timespan{0} || hc.timeout() <= caf::timespan{0}
        || hc.interval() > detail::longest_span
        || hc.timeout() > detail::longest_span)
      return make_error(errc::invalid_spec, "health_check",
                        "child '" + id_
                          + "' needs a health check interval and timeout "
                            "above 0 and at most 1 year");
    if (hc.max_missed() < 1)
      return make_error(errc::invalid_spec, "health_check",
                        "child '" + id_ + "' needs max_missed of at least 1");
    // `!(x >= 0)` also rejects a NaN.
    if (!(hc.suspect_at() >= 0) || hc.suspect_at() > phi_accrual::max_phi)
      return make_error(errc::invalid_spec, "health_check",
                        "child '" + id_
                          + "' needs a positive suspicion level up to "
                            "phi_accrual::max_phi, or 0 for none");
    if (hc.probe() == trellis::health_probe::readiness
        && d_->type == child_type::supervisor)
      return make_error(errc::invalid_spec, "health_check",
                        "child '" + id_
                          + "' is a supervisor, which has no readiness "
                            "answer");
  }
  // Bounds keep the delay arithmetic far from overflow; `!(a <= b)` also
  // rejects a NaN jitter.
  if (d_->backoff
      && (d_->backoff->min() <= caf::timespan{0} || d_->backoff->max() < d_->backoff->min()
          || d_->backoff->max() > detail::longest_span
          || !(d_->backoff->jitter() >= 0 && d_->backoff->jitter() <= 1)
          || d_->backoff->reset_after() < caf::timespan{0}))
    return make_error(errc::invalid_spec, "backoff",
                      "child '" + id_
                        + "' needs 0 < min <= max <= 1 year, a jitter "
                          "between 0 and 1, and a non-negative reset_after");
  if (d_->resume_limit.period <= caf::timespan{0}
      || d_->resume_limit.period > detail::longest_span)
    return make_error(errc::invalid_spec, "resume_limit",
                      "child '" + id_
                        + "' needs a resume period above 0 and at most 1 "
                          "year");
  if (d_->quarantine_after < 0)
    return make_error(errc::invalid_spec, "quarantine_after",
                      "child '" + id_ + "' has a negative quarantine_after");
  if (d_->quarantine_after > 0 && d_->type == child_type::supervisor)
    return make_error(errc::invalid_spec, "quarantine_after",
                      "child '" + id_
                        + "' is a supervisor; only workers quarantine "
                          "messages");
  if (d_->keep_mailbox && d_->type == child_type::supervisor)
    return make_error(errc::invalid_spec, "keep_mailbox",
                      "child '" + id_
                        + "' is a supervisor; only workers keep their "
                          "mailbox");
  if (d_->keep_mailbox && (d_->placed || !d_->remote_type.empty()))
    return make_error(errc::invalid_spec, "keep_mailbox",
                      "child '" + id_
                        + "' is remote; a lost node's mailbox is gone, so "
                          "only local children keep their mailbox");
  if (auto n = keep_last_messages(); n > 10'000)
    return make_error(errc::invalid_spec, "keep_last_messages",
                      "child '" + id_ + "' keeps " + std::to_string(n)
                        + " messages; at most 10,000");
  if (auto n = trace(); n > max_traced_messages)
    return make_error(errc::invalid_spec, "trace",
                      "child '" + id_ + "' traces " + std::to_string(n)
                        + " messages; at most "
                        + std::to_string(max_traced_messages));
  if (d_->forensics && d_->type == child_type::supervisor)
    return make_error(errc::invalid_spec, d_->forensics->first_option(),
                      "child '" + id_
                        + "' is a supervisor, whose crash reports are its "
                          "children's; only workers record their own");
  if (d_->forensics && (d_->placed || !d_->remote_type.empty()))
    return make_error(errc::invalid_spec, d_->forensics->first_option(),
                      "child '" + id_
                        + "' is remote; its crash is recorded on its node, "
                          "so only local children record messages and "
                          "state");
  if (d_->significant && d_->restart == trellis::restart::permanent)
    return make_error(errc::invalid_spec, "significant",
                      "child '" + id_
                        + "' is permanent; only transient and temporary "
                          "children may be significant");
  for (auto& dep : d_->dependencies)
    if (dep.empty())
      return make_error(errc::invalid_spec, "depends_on",
                        "child '" + id_ + "' names a dependency without a name");
  if (auto err = validate_placement())
    return err;
  if (d_->nested)
    return d_->nested->validate();
  return caf::none;
}

caf::error child_spec::validate_placement() const {
  if (!d_->placed && d_->remote_type.empty())
    return caf::none;
  if (!d_->placed)
    return make_error(errc::invalid_spec, "nodes",
                      "remote child '" + id_
                        + "' needs nodes({\"host:port\", ...})");
  if (d_->remote_type.empty())
    return make_error(errc::invalid_spec, "remote_type",
                      "child '" + id_
                        + "' is placed on nodes but has no remote type "
                          "name (use remote_worker)");
  if (d_->nodes.empty())
    return make_error(errc::invalid_spec, "nodes",
                      "child '" + id_ + "' has an empty list of nodes");
  for (size_t i = 0; i < d_->nodes.size(); ++i)
    if (!parse_node_address(d_->nodes[i]))
      return make_error(errc::invalid_spec,
                        "nodes[" + std::to_string(i) + "]",
                        "child '" + id_ + "': '" + d_->nodes[i]
                          + "' is not host:port");
  return caf::none;
}

std::optional<std::pair<std::string, uint16_t>>
parse_node_address(const std::string& x) {
  auto colon = x.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == x.size()
      || x.size() - colon > 6)
    return std::nullopt;
  uint32_t port = 0;
  for (auto i = colon + 1; i < x.size(); ++i) {
    if (x[i] < '0' || x[i] > '9')
      return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(x[i] - '0');
  }
  if (port == 0 || port > 65535)
    return std::nullopt;
  return std::make_pair(x.substr(0, colon), static_cast<uint16_t>(port));
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
