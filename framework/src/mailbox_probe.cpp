#include "trellis/mailbox_probe.hpp"

#include <cstdint>

#include <caf/make_message.hpp>
#include <caf/message_view.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/type_erased_tuple.hpp>

#include "trellis/atoms.hpp"

namespace trellis {

namespace {

/// Reaches the protected default handler of any scheduled actor, to chain
/// to it.
struct default_handler_access : caf::scheduled_actor {
  static default_handler& of(caf::scheduled_actor* self) {
    return self->*(&default_handler_access::default_handler_);
  }
};

} // namespace

void install_mailbox_probe(caf::scheduled_actor* self) {
  auto& current = default_handler_access::of(self);
  // Keep whatever the actor set before (CAF's print_and_drop by default) for
  // all other messages.
  auto next = current ? current : caf::scheduled_actor::default_handler{
                                    caf::print_and_drop};
  self->set_default_handler(
    [next](caf::scheduled_actor* ptr,
           caf::message_view& x) -> caf::result<caf::message> {
      if (x.content().match_elements<mailbox_probe_atom>())
        return caf::make_message(static_cast<uint64_t>(ptr->mailbox().size()));
      return next(ptr, x);
    });
}

} // namespace trellis
