#pragma once

#include <memory>
#include <string>
#include <utility>

#include <caf/actor_addr.hpp>
#include <caf/actor_config.hpp>
#include <caf/error.hpp>
#include <caf/invoke_message_result.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/scheduled_actor.hpp>

#include "trellis/crash_handler.hpp"
#include "trellis/detail/default_handler.hpp"
#include "trellis/detail/explained_bounce.hpp"
#include "trellis/detail/quarantine.hpp"
#include "trellis/detail/running_tree.hpp"

namespace trellis::detail {

/// Installs Trellis' handlers in an actor it spawns: the crash handler, the
/// mailbox probe and the fault injection hooks.
inline void install_handlers(caf::scheduled_actor* self) {
  install_crash_handler(self);
  install_default_hooks(self);
}

/// Tells `listener` (if any, and still alive) that `self` has started, and
/// forgets it: one message instead of the supervisor's start probe.
void announce_started(caf::actor_addr& listener, caf::abstract_actor* self);

/// Wraps an event-based actor class so that Trellis' handlers are installed
/// before it runs, its child's poison-message quarantine (if any) sees every
/// message first, and its supervisor (if any) learns when its initialization
/// is done. Spawned by `child_context::spawn`.
template <class Impl>
class crash_handled final : public explained_bounce<Impl>, public tree_member {
public:
  template <class... Ts>
  explicit crash_handled(caf::actor_config& cfg,
                         std::shared_ptr<quarantine> q,
                         caf::actor_addr start_listener, const void* tree,
                         std::string path, Ts&&... xs)
    : explained_bounce<Impl>(cfg, std::forward<Ts>(xs)...),
      quarantine_(std::move(q)),
      start_listener_(std::move(start_listener)) {
    member_of(tree, std::move(path));
    install_handlers(this);
  }

  void initialize() override {
    {
      running_in_tree in_tree{tree()};
      Impl::initialize();
    }
    // Unless initialization ended the actor: then its down message tells
    // why. An exception skips this, and the down message tells too.
    if (this->alive())
      announce_started(start_listener_, this);
    start_listener_ = nullptr;
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    running_in_tree in_tree{tree()};
    if (!quarantine_ || !quarantine::eligible(x))
      return Impl::consume(x);
    if (quarantine_->armed() && quarantine_->refuse(this, x))
      return caf::invoke_message_result::dropped;
    // The message as it arrived: a handler may move from what it gets.
    auto arrived = caf::message::copy(x.content());
    try {
      return Impl::consume(x);
    } catch (...) {
      // The crash handler picks the exit reason; the supervisor counts the
      // message against the child's limit.
      quarantine_->note_crash(this->address(), std::move(arrived));
      throw;
    }
  }

protected:
  caf::error receiver_down(const caf::error& reason) const override {
    return child_receiver_down(this->home_system(), path(), reason);
  }

private:
  std::shared_ptr<quarantine> quarantine_;
  /// A weak handle: a child must not keep its supervisor alive.
  caf::actor_addr start_listener_;
};

} // namespace trellis::detail
