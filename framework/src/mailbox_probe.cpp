#include "trellis/mailbox_probe.hpp"

#include <cstdint>

#include <caf/make_message.hpp>
#include <caf/type_erased_tuple.hpp>

#include "trellis/atoms.hpp"
#include "trellis/detail/default_handler.hpp"

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

} // namespace

void chain_default_handler(caf::scheduled_actor* self, default_hook hook) {
  auto& current = default_handler_access::of(self);
  auto next = current ? current : caf::scheduled_actor::default_handler{
                                    caf::print_and_drop};
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
  return caf::print_and_drop(self, x);
}

} // namespace

void install_default_hooks(caf::scheduled_actor* self) {
  // Every child gets this at spawn: where CAF's default comes next, a plain
  // function does, without a closure to allocate per actor.
  using plain = caf::result<caf::message> (*)(caf::scheduled_actor*,
                                              caf::message_view&);
  auto& current = default_handler_access::of(self);
  auto target = current.target<plain>();
  if (!current || (target && *target == caf::print_and_drop)) {
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
