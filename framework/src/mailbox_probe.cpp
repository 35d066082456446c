#include "trellis/mailbox_probe.hpp"

#include <cstdint>

#include <caf/make_message.hpp>
#include <caf/message_view.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/type_erased_tuple.hpp>

#include "trellis/atoms.hpp"

namespace trellis {

namespace {

caf::result<caf::message> answer_probe(caf::scheduled_actor* self,
                                       caf::message_view& x) {
  if (x.content().match_elements<mailbox_probe_atom>())
    return caf::make_message(static_cast<uint64_t>(self->mailbox().size()));
  return caf::print_and_drop(self, x);
}

} // namespace

void install_mailbox_probe(caf::scheduled_actor* self) {
  self->set_default_handler(answer_probe);
}

} // namespace trellis
