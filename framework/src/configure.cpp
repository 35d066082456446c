#include "trellis/configure.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/deep_to_string.hpp>

#include "report.hpp"
#include "trellis/errc.hpp"

namespace trellis {

namespace {

// Renders `trellis::errc::code: a: b: c` where a, b, c are the context's
// elements: Trellis puts rendered strings there, outermost cause first.
std::string render_errc(uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string result = "trellis::errc::";
  result += to_string(static_cast<errc>(code));
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
  cfg.add_error_category(errc_category, render_errc);
  detail::report::ensure_logger();
}

} // namespace trellis
