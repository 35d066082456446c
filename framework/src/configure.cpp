#include "trellis/configure.hpp"

#include <string>
#include <string_view>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/deep_to_string.hpp>

#include "config_options.hpp"
#include "report.hpp"
#include "system_guard.hpp"
#include "trellis/errc.hpp"

namespace trellis {

namespace {

// Renders `trellis::errc::code: a, b, c` where a, b, c are the context's
// elements: Trellis puts rendered strings there, outermost cause first.
std::string render_errc(uint8_t code, caf::atom_value, const caf::message& ctx) {
  // Rendered for every crash report: sized first, so that it allocates once.
  constexpr std::string_view prefix = "trellis::errc::";
  std::string_view name = name_of(static_cast<errc>(code));
  auto size = prefix.size() + name.size();
  for (size_t i = 0; i < ctx.size(); ++i)
    size += 2 + (ctx.match_element<std::string>(i)
                   ? ctx.get_as<std::string>(i).size()
                   : 16);
  std::string result;
  result.reserve(size);
  result.append(prefix.data(), prefix.size());
  result.append(name.data(), name.size());
  for (size_t i = 0; i < ctx.size(); ++i) {
    result += i == 0 ? ": " : ", ";
    if (ctx.match_element<std::string>(i))
      result += ctx.get_as<std::string>(i);
    else
      result += ctx.cvals()->stringify(i);
  }
  return result;
}

} // namespace

void configure(caf::actor_system_config& cfg) {
  // Idempotent: a second guard would take the first one's module slot.
  if (cfg.error_renderers.count(errc_category) == 0) {
    detail::install_system_guard(cfg);
    caf::config_option_adder{detail::options_of(cfg), "trellis"}
      .add<caf::timespan>("shutdown-time",
                          "how long the system's trees and actors may take "
                          "to stop when the actor system goes");
  }
  cfg.add_error_category(errc_category, render_errc);
  detail::report::ensure_logger();
}

} // namespace trellis
