// to_string for Trellis' small vocabulary enums, spelled as OTP spells them.

#include "trellis/auto_shutdown.hpp"
#include "trellis/child_info.hpp"
#include "trellis/decision.hpp"
#include "trellis/child_type.hpp"
#include "trellis/restart.hpp"
#include "trellis/shutdown.hpp"
#include "trellis/shutdown_phase.hpp"
#include "trellis/strategy.hpp"

namespace trellis {

std::string to_string(restart x) {
  switch (x) {
    case restart::permanent:
      return "permanent";
    case restart::transient:
      return "transient";
    case restart::temporary:
      return "temporary";
  }
  return "unknown";
}

std::string to_string(child_type x) {
  switch (x) {
    case child_type::worker:
      return "worker";
    case child_type::supervisor:
      return "supervisor";
  }
  return "unknown";
}

std::string to_string(strategy x) {
  switch (x) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
    case strategy::simple_one_for_one:
      return "simple_one_for_one";
  }
  return "unknown";
}

std::string to_string(auto_shutdown x) {
  switch (x) {
    case auto_shutdown::never:
      return "never";
    case auto_shutdown::any_significant:
      return "any_significant";
    case auto_shutdown::all_significant:
      return "all_significant";
  }
  return "unknown";
}

std::string to_string(shutdown_phase x) {
  switch (x) {
    case shutdown_phase::running:
      return "running";
    case shutdown_phase::not_ready:
      return "not_ready";
    case shutdown_phase::stop_intake:
      return "stop_intake";
    case shutdown_phase::drain:
      return "drain";
    case shutdown_phase::stop_tree:
      return "stop_tree";
    case shutdown_phase::flush:
      return "flush";
    case shutdown_phase::done:
      return "done";
  }
  return "unknown";
}

std::string to_string(child_state x) {
  switch (x) {
    case child_state::running:
      return "running";
    case child_state::restarting:
      return "restarting";
    case child_state::stopped:
      return "stopped";
  }
  return "unknown";
}

std::string to_string(const shutdown& x) {
  switch (x.kind()) {
    case shutdown_kind::brutal_kill:
      return "brutal_kill";
    case shutdown_kind::infinity:
      return "infinity";
    case shutdown_kind::timeout:
      break;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(x.time());
  return "timeout(" + std::to_string(ms.count()) + "ms)";
}

std::string to_string(decision x) {
  switch (x) {
    case decision::restart:
      return "restart";
    case decision::stop:
      return "stop";
    case decision::escalate:
      return "escalate";
    case decision::resume:
      return "resume";
  }
  return "unknown";
}

} // namespace trellis
