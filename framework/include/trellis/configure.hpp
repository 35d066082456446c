#pragma once

#include <caf/fwd.hpp>

namespace trellis {

/// Registers what Trellis needs with an actor system config before the system
/// is created: the `trellis` error category, so that errors render as
/// `trellis::errc::already_present: ...`, and Trellis' logger.
void configure(caf::actor_system_config& cfg);

} // namespace trellis
