#pragma once

#include <functional>

#include <caf/message.hpp>
#include <caf/message_view.hpp>
#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>

namespace trellis::detail {

/// Answers some messages no behavior matched, or returns false to pass
/// them on.
using default_hook = bool (*)(caf::scheduled_actor* self, caf::message_view& x,
                              caf::result<caf::message>& answer);

/// Puts `hook` in front of `self`'s current default handler, which still
/// gets every message the hook passes on. Where that is CAF's
/// `print_and_drop`, Trellis' own comes instead: it reports the message to
/// Trellis' log with the receiver's path and the sender, and answers only a
/// request (`sec::unexpected_message`, naming the receiver), since an error
/// message would end a plain message's sender. Works for any behavior, across `become`, and
/// for typed actors, since only unmatched messages reach it.
void chain_default_handler(caf::scheduled_actor* self, default_hook hook);

/// Answers `(mailbox_probe_atom)` (see `install_mailbox_probe`).
bool probe_hook(caf::scheduled_actor* self, caf::message_view& x,
                caf::result<caf::message>& answer);

/// Acts on `(fault_atom, fault_kind, caf::timespan)` (see
/// `trellis/fault_injection.hpp`).
bool fault_hook(caf::scheduled_actor* self, caf::message_view& x,
                caf::result<caf::message>& answer);

/// Installs both hooks with one default handler: what every actor Trellis
/// spawns gets.
void install_default_hooks(caf::scheduled_actor* self);

} // namespace trellis::detail
