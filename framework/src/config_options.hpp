#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/config_option_set.hpp>

namespace trellis::detail {

/// Returns the option set of `cfg`, which CAF 0.17 keeps protected: a pointer
/// to member named through a derived class is the legal way in. Trellis
/// declares its `trellis.*` options there, so that `cfg.set` accepts them.
inline caf::config_option_set& options_of(caf::actor_system_config& cfg) {
  struct access : caf::actor_system_config {
    static caf::config_option_set& get(caf::actor_system_config& x) {
      return x.*(&access::custom_options_);
    }
  };
  return access::get(cfg);
}

} // namespace trellis::detail
