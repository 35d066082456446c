#pragma once

#include <mutex>
#include <string>
#include <utility>

#include <caf/actor_addr.hpp>
#include <caf/actor_config.hpp>
#include <caf/error.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/system_messages.hpp>

#include "trellis/crash_handler.hpp"
#include "trellis/detail/crash_handled.hpp"
#include "trellis/detail/crash_witness.hpp"
#include "trellis/detail/explained_bounce.hpp"
#include "trellis/detail/member_class.hpp"
#include "trellis/detail/running_tree.hpp"

namespace trellis::detail {

/// A blocking actor spawned through a child context (`void f(blocking_actor*)`
/// or a class derived from `caf::blocking_actor`), on its thread of its own:
/// it tells its supervisor that it started once its thread runs, ends with a
/// reason that names an exception escaping it, and belongs to its tree (a
/// private base, found through `member_class`).
///
/// CAF 0.17's blocking actors treat an exit signal as an ordinary message,
/// which a `receive` that does not match it leaves in the mailbox: such a
/// child could never be stopped. Here an exit signal that is not `normal`
/// ends the child at its next `receive` (waiting in one, or entering one)
/// with the signal's reason, as an event-based actor without an exit
/// handler ends; the child's own handlers do not see it. A child busy
/// outside `receive` cannot be interrupted (nor can any CAF actor): it is
/// killed, then abandoned, after its shutdown timeout.
///
/// It cannot resume (see `decision::resume`): its loop is its own function,
/// which an exception has left, its locals with it. Its exceptions end it,
/// and a decider's `resume` for them means `restart`.
template <class Impl>
class blocking_child final : public explained_bounce<Impl>,
                             private tree_member {
public:
  using super = explained_bounce<Impl>;

  template <class... Ts>
  explicit blocking_child(caf::actor_config& cfg,
                          caf::actor_addr start_listener, const void* tree,
                          std::string path, Ts&&... xs)
    : super(cfg, std::forward<Ts>(xs)...),
      start_listener_(std::move(start_listener)) {
    monitored_by(start_listener_, this);
    member_of(tree, std::move(path));
    register_member_class_once<blocking_child>({member_fn, nullptr});
  }

  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* host) override {
    if (x && x->content().match_elements<caf::exit_msg>()) {
      auto& msg = x->content().get_as<caf::exit_msg>(0);
      std::lock_guard<std::mutex> guard{exit_mtx_};
      if (msg.reason && !exit_reason_)
        exit_reason_ = msg.reason;
    }
    super::enqueue(std::move(x), host);
  }

  void act() override {
    announce_started(start_listener_, this);
    running_in_tree in_tree{static_cast<const tree_member&>(*this)};
    try {
      Impl::act();
    } catch (const exit_signal&) {
      std::lock_guard<std::mutex> guard{exit_mtx_};
      this->fail_state(exit_reason_);
    } catch (...) {
      auto x = std::current_exception();
      note_crash(this, x);
      this->fail_state(crash_reason(x));
    }
  }

protected:
  caf::error receiver_down(const caf::error& reason) const override {
    return child_receiver_down(this->home_system(), path(), reason);
  }

  void await_data() override {
    Impl::await_data();
    end_if_asked();
  }

  bool await_data(typename Impl::timeout_type timeout) override {
    auto result = Impl::await_data(timeout);
    end_if_asked();
    return result;
  }

private:
  /// Unwinds the child's `receive` once an exit signal came.
  struct exit_signal {};

  static const tree_member& member_fn(const caf::abstract_actor& x) noexcept {
    return static_cast<const blocking_child&>(x);
  }

  void end_if_asked() {
    std::lock_guard<std::mutex> guard{exit_mtx_};
    if (exit_reason_)
      throw exit_signal{};
  }

  /// A weak handle: a child must not keep its supervisor alive.
  caf::actor_addr start_listener_;
  std::mutex exit_mtx_;
  /// The first exit signal that is not `normal`; set by senders' threads.
  caf::error exit_reason_;
};

} // namespace trellis::detail
