#include "trellis/configure.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/deep_to_string.hpp>

#include "config_options.hpp"
#include "report.hpp"
#include "system_guard.hpp"
#include "trellis/errc.hpp"
#include "trellis/error_category.hpp"

namespace trellis {

namespace {

using renderer_map = caf::actor_system_config::error_renderer_map;

/// What the renderers need: CAF's own (for exit reasons and system errors)
/// and the Trellis categories, as they were when `configure` ran; a copy,
/// since the config itself may be moved.
struct renderers {
  renderer_map others;
  std::vector<error_category> ours;

  const error_category* find(caf::atom_value x) const {
    for (auto& c : ours)
      if (c.atom == x)
        return &c;
    return nullptr;
  }
};

std::string render_ours(const renderers& rs, const error_category& c,
                        uint8_t code, const caf::message& ctx);

/// Renders `x` as the actor system does: a Trellis error here, another by
/// its category's renderer, else by CAF's generic text.
std::string render_any(const renderers& rs, const caf::error& x) {
  if (!x)
    return caf::to_string(x);
  if (auto c = rs.find(x.category()))
    return render_ours(rs, *c, x.code(), x.context());
  auto i = rs.others.find(x.category());
  if (i == rs.others.end())
    return caf::to_string(x);
  return i->second(x.code(), x.category(), x.context());
}

// Renders `trellis::errc::code: a, b, c` where a, b, c are the context's
// elements, outermost first: strings that say where and what, and last,
// for an error caused by another (an escalation, a failed start), the
// cause itself as a `caf::error`, kept as a value so that a tool can walk
// the chain, rendered here by its own category.
std::string render_ours(const renderers& rs, const error_category& c,
                        uint8_t code, const caf::message& ctx) {
  // Rendered for every crash report: sized first, so that it allocates once.
  std::string_view prefix = c.prefix;
  std::string_view name = c.name(code);
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
    else if (ctx.match_element<caf::error>(i))
      result += render_any(rs, ctx.get_as<caf::error>(i));
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
  auto rs = std::make_shared<renderers>();
  rs->ours = error_categories();
  for (auto& c : rs->ours)
    cfg.error_renderers.erase(c.atom);
  rs->others = cfg.error_renderers;
  for (auto& c : rs->ours)
    cfg.add_error_category(c.atom, [rs, c](uint8_t code, caf::atom_value,
                                           const caf::message& ctx) {
      return render_ours(*rs, c, code, ctx);
    });
  detail::report::ensure_logger();
}

} // namespace trellis
