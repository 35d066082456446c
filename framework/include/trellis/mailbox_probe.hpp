#pragma once

/// @file
/// `install_mailbox_probe`: actors that tell their own mailbox depth.

#include <cstdint>
#include <map>
#include <string>

#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

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

struct tree_snapshot;

/// Asks every running actor of the snapshot `x` for its mailbox depth, all at
/// once, and returns the depths by path. An actor that has not answered
/// within `timeout` (stuck in a handler, gone, or not spawned by Trellis) is
/// left out, and so is a blocking actor, which is not asked (it could not
/// answer between its receives). Blocks: call it from outside the tree.
std::map<std::string, uint64_t> mailbox_depths(caf::actor_system& sys,
                                               const tree_snapshot& x,
                                               caf::timespan timeout);

} // namespace trellis
