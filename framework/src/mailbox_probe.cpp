#include "trellis/mailbox_probe.hpp"

#include <cstdint>
#include <string>

#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>
#include <caf/type_erased_tuple.hpp>

#include "trellis/atoms.hpp"
#include "trellis/detail/default_handler.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/tree_snapshot.hpp"

#include "probe_mailboxes.hpp"

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

namespace detail {

std::vector<mailbox_answer> probe_mailboxes(caf::actor_system& sys,
                                            const tree_snapshot& x,
                                            caf::timespan timeout,
                                            bool include_remote) {
  std::vector<mailbox_answer> result;
  auto collect = [&](const tree_snapshot& node, auto& self) -> void {
    if (node.actor) {
      // A blocking actor cannot answer between its receives: the probe
      // would stay in its mailbox for good.
      auto ptr = caf::actor_cast<caf::abstract_actor*>(node.actor);
      auto remote = node.actor.node() != sys.node();
      if (remote ? include_remote
                 : dynamic_cast<caf::scheduled_actor*>(ptr) != nullptr)
        result.push_back(mailbox_answer{node.path, node.actor, {}, false});
    }
    for (auto& child : node.children)
      self(child, self);
  };
  collect(x, collect);
  caf::scoped_actor self{sys};
  using handle = decltype(self->request(caf::actor{}, timeout,
                                        mailbox_probe_atom::value));
  std::vector<handle> pending;
  pending.reserve(result.size());
  for (auto& node : result)
    pending.emplace_back(
      self->request(node.actor, timeout, mailbox_probe_atom::value));
  for (size_t i = 0; i < pending.size(); ++i)
    pending[i].receive(
      [&](uint64_t depth) { result[i].depth = depth; },
      [&](caf::error& err) {
        // Otherwise not a Trellis actor, or gone: nothing queued to wait
        // for.
        result[i].timed_out = err == caf::sec::request_timeout;
      });
  return result;
}

} // namespace detail

std::map<std::string, uint64_t> mailbox_depths(caf::actor_system& sys,
                                               const tree_snapshot& x,
                                               caf::timespan timeout) {
  std::map<std::string, uint64_t> result;
  for (auto& node : detail::probe_mailboxes(sys, x, timeout, true))
    if (node.depth)
      result.emplace(node.path, *node.depth);
  return result;
}

} // namespace trellis
