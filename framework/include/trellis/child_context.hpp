#pragma once

/// @file
/// `child_context`: what a child factory gets from its supervisor, and the
/// spawn helpers that install Trellis' crash handler.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_config.hpp>
#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/detail/init_fun_factory.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/error.hpp>
#include <caf/group.hpp>
#include <caf/infer_handle.hpp>
#include <caf/message.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/spawn_options.hpp>

#include "trellis/checkpoint.hpp"
#include "trellis/detail/blocking_child.hpp"
#include "trellis/detail/child_start.hpp"
#include "trellis/detail/crash_handled.hpp"
#include "trellis/detail/event_feed.hpp"
#include "trellis/start_result.hpp"

namespace trellis {

namespace detail {

class supervisor_actor;

} // namespace detail

/// What a child factory gets from its supervisor: where the child sits in the
/// tree, how often it was restarted, and spawn helpers that install Trellis'
/// crash handler (see `install_crash_handler`).
///
/// Later features hand more to the factory through this type, so factories
/// keep their signature.
class child_context {
public:
  /// Made by the supervisor for each start of the child `id` at `path`. The
  /// defaulted parameters carry what only a supervisor has: the start
  /// arguments, where events go and whether the child runs detached; the
  /// supervisor adds the child's checkpoint, quarantine and placement. A
  /// context made outside a tree (to call a factory in a test, say) has none
  /// of them.
  child_context(caf::actor_system& sys, caf::actor supervisor,
                std::string path, std::string id, uint64_t restart_count,
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
  uint64_t restart_count() const noexcept {
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
  /// thread of its own if the spec is `detached`. In a tree, an event-based
  /// actor initializes before this returns, on its supervisor's thread, as
  /// OTP's `start_link` runs `init`.
  template <caf::spawn_options Os = caf::no_spawn_options, class F,
            class... Ts>
  auto spawn(F fun, Ts&&... xs) const {
    using impl = caf::infer_impl_from_fun_t<F>;
    caf::actor_config cfg;
    if constexpr (std::is_base_of<caf::scheduled_actor, impl>::value) {
      using wrapped = detail::crash_handled<impl>;
      caf::detail::init_fun_factory<wrapped, F> fac;
      cfg.init_fun = fac(std::move(fun), std::forward<Ts>(xs)...);
      return spawn_event_based<wrapped, Os>([&](auto os) {
        return sys_->spawn_class<wrapped, decltype(os)::value>(
          cfg, start_.poison, start_.kept, start_.resume, start_.forensics,
          start_.listener, feed_.get(), path_);
      });
    } else {
      // A blocking actor runs on a thread of its own anyway.
      refuse_for_blocking();
      using wrapped = detail::blocking_child<impl>;
      caf::detail::init_fun_factory<wrapped, F> fac;
      cfg.init_fun = fac(std::move(fun), std::forward<Ts>(xs)...);
      return announcing(sys_->spawn_class<wrapped, Os + caf::detached>(
        cfg, start_.listener, feed_.get(), path_));
    }
  }

  /// Spawns a class-based actor with Trellis' handlers installed, on a
  /// thread of its own if the spec is `detached`; an event-based one
  /// initializes as `spawn(fun)` says.
  template <class Impl, caf::spawn_options Os = caf::no_spawn_options,
            class... Ts>
  auto spawn(Ts&&... xs) const {
    if constexpr (std::is_base_of<caf::blocking_actor, Impl>::value) {
      refuse_for_blocking();
      return announcing(
        sys_->spawn<detail::blocking_child<Impl>, Os + caf::detached>(
          start_.listener, feed_.get(), path_, std::forward<Ts>(xs)...));
    } else {
      using wrapped = detail::crash_handled<Impl>;
      return spawn_event_based<wrapped, Os>([&](auto os) {
        return sys_->spawn<wrapped, decltype(os)::value>(
          start_.poison, start_.kept, start_.resume, start_.forensics,
          start_.listener, feed_.get(), path_, std::forward<Ts>(xs)...);
      });
    }
  }

  /// Returns the nodes the child may run on, `host:port`, most preferred
  /// first (its spec's `nodes`); empty for a local child.
  const std::vector<std::string>& nodes() const noexcept {
    return start_.nodes;
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

  // -- what the supervisor learns from a start --------------------------------

  /// Internal: the child's latest incarnation, if a checkpoint made or
  /// shared it (see `detail::child_start::latest`).
  const std::shared_ptr<std::atomic<uint64_t>>& latest() const noexcept {
    return start_.latest;
  }

  /// Internal: why the checkpoint could not be read, if it failed for
  /// another reason than corruption. The start fails then, and is retried.
  const caf::error& recovery_error() const noexcept {
    return recovery_error_;
  }

  /// Internal: how `x` initialized if it is the last actor spawned through
  /// this context, which tells the supervisor when it initializes later;
  /// nothing for another actor. (A factory returns the last one it spawned
  /// as a rule; for another, the supervisor asks.) An actor spawned
  /// through the context is monitored by the supervisor already (see
  /// `detail::monitored_by`).
  std::optional<detail::init_outcome>
  initialization_of(const caf::actor& x) const {
    if (!start_.listener
        || caf::actor_cast<caf::actor_control_block*>(x) != last_spawned_)
      return std::nullopt;
    return last_init_;
  }

  /// Internal: the option of the child's spec that the blocking actor its
  /// factory spawned cannot honor, or null: `keep_mailbox` (its mailbox is
  /// its own thread's), `keep_last_messages`, `format_state`, `statistics`
  /// or `trace` (so is its receive loop, which records nothing).
  const char* refused_option() const noexcept {
    return refused_option_;
  }

private:
  // The supervisor fills `start_` in place: a start made aside and moved
  // in cost a second destruction of its dozen members per restart.
  friend class detail::supervisor_actor;

  /// Notes an option a blocking child cannot honor (see `refused_option`).
  void refuse_for_blocking() const {
    if (start_.kept)
      refused_option_ = "keep_mailbox";
    else if (start_.forensics)
      refused_option_ = start_.forensics->first_option();
  }

  /// Remembers `x` as the last actor spawned through this context, which
  /// announces its start.
  template <class Handle>
  Handle announcing(Handle x) const {
    last_spawned_ = caf::actor_cast<caf::actor_control_block*>(x);
    last_init_ = detail::init_outcome::later;
    return x;
  }

  /// Spawns an event-based `Wrapped` with `spawn(options)`: detached if
  /// the spec or the caller says so; else in a tree lazily, and initializes
  /// it here. (It is never scheduled before a message comes, which is what
  /// `lazy_init` asks; initialized only then, it would never count as
  /// started.)
  template <class Wrapped, caf::spawn_options Os, class Spawn>
  auto spawn_event_based(Spawn spawn) const {
    using caf::spawn_options;
    if (detached_)
      return announcing(
        spawn(std::integral_constant<spawn_options, Os + caf::detached>{}));
    // CAF starts a detached actor's thread whether lazy or not: it runs the
    // initialization there.
    if (start_.host == nullptr || caf::has_detach_flag(Os))
      return announcing(spawn(std::integral_constant<spawn_options, Os>{}));
    auto x = spawn(
      std::integral_constant<spawn_options, Os + caf::lazy_init>{});
    last_spawned_ = caf::actor_cast<caf::actor_control_block*>(x);
    last_init_ = static_cast<Wrapped*>(caf::actor_cast<caf::abstract_actor*>(x))
                   ->initialize_on(start_.host);
    return x;
  }

  caf::actor_system* sys_;
  caf::actor supervisor_;
  std::string path_;
  std::string id_;
  uint64_t restart_count_;
  caf::message args_;
  std::shared_ptr<detail::event_feed> feed_;
  bool detached_;
  detail::child_start start_;
  caf::error recovery_error_;
  std::optional<trellis::checkpoint> checkpoint_;
  std::string node_;
  /// Compared only, never followed: no reference count to pay per start.
  mutable caf::actor_control_block* last_spawned_ = nullptr;
  mutable detail::init_outcome last_init_ = detail::init_outcome::later;
  mutable const char* refused_option_ = nullptr;
};

} // namespace trellis
