#pragma once

/// @file
/// `configure`: what Trellis needs from an actor system config (required).

#include <caf/fwd.hpp>

namespace trellis {

/// Registers what Trellis needs with an actor system config; call it before
/// the system is created. It registers the `trellis` error category, so that
/// errors render as `trellis::errc::already_present: ...`, Trellis' logger,
/// and the guard that stops every tree still running, in order, when the
/// actor system goes (whether or not `main` stopped it), then waits for the
/// system's actors at most `trellis.shutdown-time` (a `caf::timespan` config
/// value, 30 s by default) before it ends the process without them.
/// Required: on a system built without it, `spawn_supervisor` and
/// `start_supervisor` fail with `errc::not_configured`. Calling it twice is
/// harmless.
///
/// The guard takes over CAF's `await_actors_before_shutdown`: it stops the
/// trees first, then awaits the remaining actors itself.
void configure(caf::actor_system_config& cfg);

} // namespace trellis
