#include "trellis/mailbox_probe.hpp"

#include <cstdint>
#include <string>

#include <caf/actor_cast.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>
#include <caf/type_erased_tuple.hpp>

#include "trellis/atoms.hpp"
#include "trellis/detail/default_handler.hpp"
#include "trellis/detail/running_tree.hpp"

#include "actor_name.hpp"
#include "report.hpp"

namespace trellis {

namespace detail {

namespace {

/// Reaches the protected default handler of any scheduled actor, to chain
/// to it.
struct default_handler_access : caf::scheduled_actor {
  static default_handler& of(caf::scheduled_actor* self) {
    return self->*(&default_handler_access::default_handler_);
  }
};

/// What CAF's `print_and_drop` does, with two differences. The report goes
/// to Trellis' log and names the receiver by its path and the sender, not
/// only an actor id on stdout. And a plain message gets no answer: CAF
/// answers it with an error message, whose default handler ends the
/// *sender*, which a supervisor would then restart for the receiver's
/// mistake.
caf::result<caf::message> report_and_drop(caf::scheduled_actor* self,
                                          caf::message_view& x) {
  auto receiver = name_of(caf::strong_actor_ptr{self->ctrl()});
  auto request = self->current_message_id().is_request();
  report::unexpected_message(receiver, name_of(self->current_sender()),
                             request, caf::message::copy(x.content()));
  if (!request)
    return caf::message{};
  return caf::make_error(caf::sec::unexpected_message, receiver,
                         "no handler matches "
                           + caf::to_string(x.content()).substr(0, 200));
}

using plain_handler = caf::result<caf::message> (*)(caf::scheduled_actor*,
                                                   caf::message_view&);

/// Returns the handler to chain to: the actor's own, or ours where it has
/// CAF's default.
caf::scheduled_actor::default_handler next_of(caf::scheduled_actor* self) {
  auto& current = default_handler_access::of(self);
  auto target = current.target<plain_handler>();
  if (!current || (target && *target == caf::print_and_drop))
    return report_and_drop;
  return current;
}

} // namespace

void chain_default_handler(caf::scheduled_actor* self, default_hook hook) {
  auto next = next_of(self);
  self->set_default_handler(
    [next, hook](caf::scheduled_actor* ptr,
                 caf::message_view& x) -> caf::result<caf::message> {
      caf::result<caf::message> answer{caf::message{}};
      if (hook(ptr, x, answer))
        return answer;
      return next(ptr, x);
    });
}

bool probe_hook(caf::scheduled_actor* self, caf::message_view& x,
                caf::result<caf::message>& answer) {
  if (!x.content().match_elements<mailbox_probe_atom>())
    return false;
  answer = caf::make_message(static_cast<uint64_t>(self->mailbox().size()));
  return true;
}

namespace {

bool both_hooks(caf::scheduled_actor* self, caf::message_view& x,
                caf::result<caf::message>& answer) {
  return probe_hook(self, x, answer) || fault_hook(self, x, answer);
}

caf::result<caf::message> hooks_then_drop(caf::scheduled_actor* self,
                                          caf::message_view& x) {
  caf::result<caf::message> answer{caf::message{}};
  if (both_hooks(self, x, answer))
    return answer;
  return report_and_drop(self, x);
}

} // namespace

void install_default_hooks(caf::scheduled_actor* self) {
  // Every child gets this at spawn: where CAF's default comes next, a plain
  // function does, without a closure to allocate per actor.
  auto next = next_of(self);
  auto target = next.target<plain_handler>();
  if (target && *target == report_and_drop) {
    self->set_default_handler(hooks_then_drop);
    return;
  }
  chain_default_handler(self, both_hooks);
}

} // namespace detail

void install_mailbox_probe(caf::scheduled_actor* self) {
  detail::chain_default_handler(self, detail::probe_hook);
}

} // namespace trellis
