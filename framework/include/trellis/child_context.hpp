#pragma once

#include <atomic>
#include <mutex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_config.hpp>
#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/detail/init_fun_factory.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/infer_handle.hpp>
#include <caf/invoke_message_result.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/group.hpp>
#include <caf/message.hpp>
#include <caf/message_id.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/spawn_options.hpp>

#include "trellis/atoms.hpp"
#include "trellis/checkpoint.hpp"
#include "trellis/checkpoint_store.hpp"
#include "trellis/crash_handler.hpp"
#include "trellis/detail/default_handler.hpp"
#include "trellis/detail/event_feed.hpp"
#include "trellis/detail/explained_bounce.hpp"
#include "trellis/detail/quarantine.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/errc.hpp"
#include "trellis/mailbox_probe.hpp"
#include "trellis/start_result.hpp"

namespace trellis {

namespace detail {

class supervisor_actor;

/// Installs Trellis' handlers in an actor it spawns: the crash handler, the
/// mailbox probe and the fault injection hooks.
inline void install_handlers(caf::scheduled_actor* self) {
  install_crash_handler(self);
  install_default_hooks(self);
}

/// Wraps an actor implementation class so that Trellis' handlers are
/// installed before it runs, its child's poison-message quarantine (if any)
/// sees every message first, and its supervisor (if any) learns when its
/// initialization is done.
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
    // One message instead of the supervisor's start probe (a request and its
    // answer), unless initialization ended the actor: then its down message
    // tells why. An exception skips this, and the down message tells too.
    // Handed to the scheduler rather than to this worker's own queue, where
    // CAF would run the supervisor next, ahead of whatever the child's
    // initialization sent: a restart's replacement is at work sooner, and
    // the supervisor runs on another worker alongside it.
    if (start_listener_ && this->alive())
      if (auto dest = caf::actor_cast<caf::actor>(start_listener_))
        dest->eq_impl(caf::make_message_id(), this->ctrl(), nullptr,
                      started_atom::value);
    start_listener_ = nullptr;
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    running_in_tree in_tree{tree()};
    if (!quarantine_ || !quarantine::eligible(x))
      return Impl::consume(x);
    if (quarantine_->armed() && quarantine_->divert(x.content())) {
      if (x.mid.is_request()) {
        // A response promise also serves requests that came forwarded.
        this->current_mailbox_element(&x);
        this->make_response_promise().deliver(
          make_error(errc::quarantined, quarantine_->path(),
                     "the message crashed this child too often in a row"));
        this->current_mailbox_element(nullptr);
      }
      return caf::invoke_message_result::dropped;
    }
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

/// A blocking actor spawned through a child context (`void f(blocking_actor*)`
/// or a class derived from `caf::blocking_actor`), on its thread of its own:
/// it tells its supervisor that it started once its thread runs, ends with a
/// reason that names an exception escaping it, and belongs to its tree.
///
/// CAF 0.17's blocking actors treat an exit signal as an ordinary message,
/// which a `receive` that does not match it leaves in the mailbox: such a
/// child could never be stopped. Here an exit signal that is not `normal`
/// ends the child at its next `receive` (waiting in one, or entering one)
/// with the signal's reason, as an event-based actor without an exit
/// handler ends; the child's own handlers do not see it. A child busy
/// outside `receive` cannot be interrupted (nor can any CAF actor): it is
/// killed, then abandoned, after its shutdown timeout.
template <class Impl>
class blocking_child final : public explained_bounce<Impl>,
                             public tree_member {
public:
  using super = explained_bounce<Impl>;

  template <class... Ts>
  explicit blocking_child(caf::actor_config& cfg,
                          caf::actor_addr start_listener, const void* tree,
                          std::string path, Ts&&... xs)
    : super(cfg, std::forward<Ts>(xs)...),
      start_listener_(std::move(start_listener)) {
    member_of(tree, std::move(path));
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
    if (auto dest = caf::actor_cast<caf::actor>(start_listener_))
      dest->eq_impl(caf::make_message_id(), this->ctrl(), nullptr,
                    started_atom::value);
    start_listener_ = nullptr;
    running_in_tree in_tree{tree()};
    try {
      Impl::act();
    } catch (const exit_signal&) {
      std::lock_guard<std::mutex> guard{exit_mtx_};
      this->fail_state(exit_reason_);
    } catch (...) {
      this->fail_state(crash_reason(std::current_exception()));
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

} // namespace detail

/// What a child factory gets from its supervisor: where the child sits in the
/// tree, how often it was restarted, and spawn helpers that install Trellis'
/// crash handler (see `install_crash_handler`).
///
/// Later features hand more to the factory through this type, so factories
/// keep their signature.
class child_context {
public:
  child_context(caf::actor_system& sys, caf::actor supervisor,
                std::string path, std::string id, size_t restart_count,
                caf::message args = {},
                std::shared_ptr<detail::event_feed> feed = nullptr,
                bool detached = false)
    : sys_(&sys),
      supervisor_(std::move(supervisor)),
      path_(std::move(path)),
      id_(std::move(id)),
      restart_count_(restart_count),
      args_(std::move(args)),
      feed_(std::move(feed)),
      detached_(detached) {
    // nop
  }

  /// Returns the actor system to spawn in.
  caf::actor_system& system() const noexcept {
    return *sys_;
  }

  /// Returns the supervising actor.
  const caf::actor& supervisor() const noexcept {
    return supervisor_;
  }

  /// Returns the child's path in the tree, e.g. `root/db/writer`.
  const std::string& path() const noexcept {
    return path_;
  }

  /// Returns the child's id within its supervisor.
  const std::string& id() const noexcept {
    return id_;
  }

  /// Returns how often this child was restarted before this start.
  size_t restart_count() const noexcept {
    return restart_count_;
  }

  /// Returns the start arguments a dynamic supervisor's `start_child` gave
  /// this child (the same on every restart), or an empty message.
  const caf::message& args() const noexcept {
    return args_;
  }

  /// Returns the group on which the tree publishes `lifecycle_event`s
  /// (invalid outside a tree), to listen or to publish on.
  caf::group events() const noexcept {
    return feed_ ? feed_->hand_out() : caf::group{};
  }

  /// Internal: the tree's event feed, for nested supervisors.
  const std::shared_ptr<detail::event_feed>& feed() const noexcept {
    return feed_;
  }

  /// Returns whether the child's spec asks for a thread of its own.
  bool detached() const noexcept {
    return detached_;
  }

  /// Spawns a function-based actor with Trellis' handlers installed, on a
  /// thread of its own if the spec is `detached`.
  template <caf::spawn_options Os = caf::no_spawn_options, class F,
            class... Ts>
  auto spawn(F fun, Ts&&... xs) const {
    using impl = caf::infer_impl_from_fun_t<F>;
    if constexpr (std::is_base_of<caf::scheduled_actor, impl>::value) {
      using wrapped = detail::crash_handled<impl>;
      caf::actor_config cfg;
      caf::detail::init_fun_factory<wrapped, F> fac;
      cfg.init_fun = fac(std::move(fun), std::forward<Ts>(xs)...);
      if (detached_)
        return announcing(sys_->spawn_class<wrapped, Os + caf::detached>(
          cfg, quarantine_, start_listener_, feed_.get(), path_));
      return announcing(sys_->spawn_class<wrapped, Os>(
        cfg, quarantine_, start_listener_, feed_.get(), path_));
    } else {
      // A blocking actor runs on a thread of its own anyway.
      using wrapped = detail::blocking_child<impl>;
      caf::actor_config cfg;
      caf::detail::init_fun_factory<wrapped, F> fac;
      cfg.init_fun = fac(std::move(fun), std::forward<Ts>(xs)...);
      return announcing(sys_->spawn_class<wrapped, Os + caf::detached>(
        cfg, start_listener_, feed_.get(), path_));
    }
  }

  /// Spawns a class-based actor with Trellis' handlers installed, on a
  /// thread of its own if the spec is `detached`.
  template <class Impl, caf::spawn_options Os = caf::no_spawn_options,
            class... Ts>
  auto spawn(Ts&&... xs) const {
    if constexpr (std::is_base_of<caf::blocking_actor, Impl>::value) {
      return announcing(
        sys_->spawn<detail::blocking_child<Impl>, Os + caf::detached>(
          start_listener_, feed_.get(), path_, std::forward<Ts>(xs)...));
    } else {
      if (detached_)
        return announcing(
          sys_->spawn<detail::crash_handled<Impl>, Os + caf::detached>(
            quarantine_, start_listener_, feed_.get(), path_,
            std::forward<Ts>(xs)...));
      return announcing(sys_->spawn<detail::crash_handled<Impl>, Os>(
        quarantine_, start_listener_, feed_.get(), path_,
        std::forward<Ts>(xs)...));
    }
  }

  /// Returns the nodes the child may run on, `host:port`, most preferred
  /// first (its spec's `nodes`); empty for a local child.
  const std::vector<std::string>& nodes() const noexcept {
    return nodes_;
  }

  /// Returns the node `spawn_remote` placed the child on, or empty.
  const std::string& node() const noexcept {
    return node_;
  }

  /// Spawns the actor type `type` (registered on the node with
  /// `add_remote_type`) with `args` on a node of `nodes()`, through CAF's
  /// middleman: the nodes in order, nodes the supervisor lost recently
  /// last, the first that connects and spawns wins. Blocks the supervisor
  /// (as a slow local start does) for at most the node's spawn timeout per
  /// node tried (see `node_config::spawn_timeout`). Fails with
  /// `errc::start_failed` naming every node tried and why.
  start_result spawn_remote(const std::string& type, caf::message args);

  /// Returns the child's checkpoint: what its previous incarnation saved
  /// last, and the means to save for the next one (see `checkpoint`). The
  /// first call loads it. A checkpoint that fails its checksum is reported
  /// (`checkpoint_skipped`) and the child starts without it; a store that
  /// cannot be read fails this start (it is retried like any failed start),
  /// so that the child's first save cannot destroy a checkpoint it never
  /// saw.
  const trellis::checkpoint& checkpoint();

private:
  friend class detail::supervisor_actor;

  /// Set by the supervisor: where the child's checkpoint lives, whether it
  /// must start without one (a dynamic child's first start), which
  /// incarnation this is, and the child's quarantine.
  void recovery(std::shared_ptr<checkpoint_store> store, bool fresh,
                std::shared_ptr<std::atomic<uint64_t>>* latest,
                uint64_t incarnation, std::shared_ptr<detail::quarantine> q) {
    store_ = std::move(store);
    fresh_ = fresh;
    latest_ = latest;
    incarnation_ = incarnation;
    quarantine_ = std::move(q);
  }

  /// Set by the supervisor: where a remote child may run, and the nodes it
  /// lost recently, to be tried last.
  void placement(std::vector<std::string> nodes,
                 std::vector<std::string> lost) {
    nodes_ = std::move(nodes);
    lost_ = std::move(lost);
  }

  /// Returns why the checkpoint could not be read, if it failed for another
  /// reason than corruption: the start fails then, and is retried.
  const caf::error& recovery_error() const noexcept {
    return recovery_error_;
  }

  /// Set by the supervisor: actors spawned through this context send it
  /// `(started_atom)` once initialized.
  void announce_start_to(caf::actor_addr supervisor) {
    start_listener_ = std::move(supervisor);
  }

  /// Returns whether `x` is the last actor spawned through this context,
  /// which announces its start to the supervisor. (A factory returns the
  /// last one it spawned as a rule; for another, the supervisor asks.)
  bool announces_start(const caf::actor& x) const {
    return start_listener_
           && caf::actor_cast<caf::actor_control_block*>(x) == last_spawned_;
  }

  /// Remembers `x` as the last actor spawned through this context.
  template <class Handle>
  Handle announcing(Handle x) const {
    last_spawned_ = caf::actor_cast<caf::actor_control_block*>(x);
    return x;
  }

  caf::actor_system* sys_;
  caf::actor supervisor_;
  std::string path_;
  std::string id_;
  size_t restart_count_;
  caf::message args_;
  std::shared_ptr<detail::event_feed> feed_;
  bool detached_;
  std::shared_ptr<checkpoint_store> store_;
  bool fresh_ = false;
  /// The supervisor's record of the child's latest incarnation, which the
  /// first checkpoint creates; outlives this context.
  std::shared_ptr<std::atomic<uint64_t>>* latest_ = nullptr;
  uint64_t incarnation_ = 0;
  caf::error recovery_error_;
  std::optional<trellis::checkpoint> checkpoint_;
  std::shared_ptr<detail::quarantine> quarantine_;
  std::vector<std::string> nodes_;
  std::vector<std::string> lost_;
  std::string node_;
  caf::actor_addr start_listener_;
  /// Compared only, never followed: no reference count to pay per start.
  mutable caf::actor_control_block* last_spawned_ = nullptr;
};

} // namespace trellis
