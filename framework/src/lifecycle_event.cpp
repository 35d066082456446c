#include "trellis/lifecycle_event.hpp"

namespace trellis {

std::string to_string(lifecycle_kind x) {
  switch (x) {
    case lifecycle_kind::child_started:
      return "child_started";
    case lifecycle_kind::child_exited:
      return "child_exited";
    case lifecycle_kind::child_restarted:
      return "child_restarted";
    case lifecycle_kind::restart_given_up:
      return "restart_given_up";
    case lifecycle_kind::child_unhealthy:
      return "child_unhealthy";
    case lifecycle_kind::alarm_set:
      return "alarm_set";
    case lifecycle_kind::alarm_cleared:
      return "alarm_cleared";
    case lifecycle_kind::breaker_state_changed:
      return "breaker_state_changed";
    case lifecycle_kind::checkpoint_skipped:
      return "checkpoint_skipped";
    case lifecycle_kind::checkpoint_failed:
      return "checkpoint_failed";
    case lifecycle_kind::message_quarantined:
      return "message_quarantined";
    case lifecycle_kind::message_dropped:
      return "message_dropped";
  }
  return "unknown";
}

std::string to_string(const lifecycle_event& x) {
  auto result = to_string(x.kind) + " path=" + x.path + " id=" + x.id
                + " restart_count=" + std::to_string(x.restart_count);
  if (!x.node.empty())
    result += " node=" + x.node;
  if (x.reason)
    result += " reason=" + caf::to_string(x.reason);
  if (!x.detail.empty())
    result += " " + x.detail;
  return result;
}

} // namespace trellis
