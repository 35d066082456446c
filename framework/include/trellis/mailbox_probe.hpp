#pragma once

/// @file
/// `install_mailbox_probe`: actors that tell their own mailbox depth.

#include <caf/fwd.hpp>

namespace trellis {

/// Makes `self` answer `(mailbox_probe_atom)` with its mailbox depth as
/// `uint64_t`, through CAF's default handler (which only sees messages no
/// behavior matched), so it works for any behavior, across `become`, and for
/// typed actors. Other unmatched messages go to the default handler the
/// actor had (unless it set its own, for example in its constructor,
/// Trellis' replacement for CAF's `print_and_drop`: see
/// `detail::chain_default_handler`). An actor that sets a default handler
/// afterwards stops answering the probe; a resource monitor then sees the
/// probe fail.
///
/// Reading the depth from another thread would race with the actor, which
/// is why the actor answers for itself. Actors started through
/// `child_context::spawn` or `trellis::worker` get this automatically, as do
/// Trellis' supervisors.
void install_mailbox_probe(caf::scheduled_actor* self);

} // namespace trellis
