#include "trellis/errc.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>

namespace trellis {

const char* name_of(errc x) noexcept {
  switch (x) {
    case errc::invalid_spec:
      return "invalid_spec";
    case errc::start_failed:
      return "start_failed";
    case errc::failed_to_start_child:
      return "failed_to_start_child";
    case errc::unhandled_exception:
      return "unhandled_exception";
    case errc::reached_max_restart_intensity:
      return "reached_max_restart_intensity";
    case errc::already_present:
      return "already_present";
    case errc::already_started:
      return "already_started";
    case errc::running:
      return "running";
    case errc::restarting:
      return "restarting";
    case errc::not_found:
      return "not_found";
    case errc::not_supported:
      return "not_supported";
    case errc::shutting_down:
      return "shutting_down";
    case errc::abandoned:
      return "abandoned";
    case errc::max_children:
      return "max_children";
    case errc::hung:
      return "hung";
    case errc::unhealthy:
      return "unhealthy";
    case errc::escalated:
      return "escalated";
    case errc::overloaded:
      return "overloaded";
    case errc::corrupt_checkpoint:
      return "corrupt_checkpoint";
    case errc::checkpoint_failed:
      return "checkpoint_failed";
    case errc::quarantined:
      return "quarantined";
    case errc::node_down:
      return "node_down";
    case errc::invalid_tls_config:
      return "invalid_tls_config";
    case errc::not_configured:
      return "not_configured";
    case errc::calling_self:
      return "calling_self";
    case errc::timeout:
      return "timeout";
    case errc::in_doubt:
      return "in_doubt";
  }
  return "unknown";
}

std::string to_string(errc x) {
  return name_of(x);
}

caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), errc_category};
}

namespace {

bool has_code(const caf::error& x, caf::atom_value category, uint8_t code) {
  // CAF 0.17's accessors dereference the error's data: none has none.
  return x && x.category() == category && x.code() == code;
}

} // namespace

bool is(const caf::error& x, errc code) {
  return has_code(x, errc_category, static_cast<uint8_t>(code));
}

bool is(const caf::error& x, caf::exit_reason code) {
  return has_code(x, caf::atom("exit"), static_cast<uint8_t>(code));
}

bool is(const caf::error& x, caf::sec code) {
  return has_code(x, caf::atom("system"), static_cast<uint8_t>(code));
}

bool is_normal_exit(const caf::error& reason) {
  if (!reason)
    return true;
  // Asked with every exit: CAF's accessors once each, not once per code.
  auto category = reason.category();
  auto code = reason.code();
  if (category == caf::atom("exit"))
    return code == static_cast<uint8_t>(caf::exit_reason::normal)
           || code == static_cast<uint8_t>(caf::exit_reason::user_shutdown);
  return category == errc_category
         && code == static_cast<uint8_t>(errc::reached_max_restart_intensity);
}

caf::error cause_of(const caf::error& x) {
  if (!x)
    return caf::none;
  auto& ctx = x.context();
  if (ctx.empty() || !ctx.match_element<caf::error>(ctx.size() - 1))
    return caf::none;
  return ctx.get_as<caf::error>(ctx.size() - 1);
}

std::string render(const caf::actor_system& sys, const caf::error& x) {
  return sys.render(x);
}

} // namespace trellis
