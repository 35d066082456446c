#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/group.hpp>
#include <caf/message.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/spawn_options.hpp>

#include "trellis/crash_handler.hpp"
#include "trellis/mailbox_probe.hpp"

namespace trellis {

namespace detail {

/// Installs Trellis' handlers in an actor it spawns: the crash handler and
/// the mailbox probe.
inline void install_handlers(caf::scheduled_actor* self) {
  install_crash_handler(self);
  install_mailbox_probe(self);
}

/// Wraps an actor implementation class so that Trellis' handlers are
/// installed before it runs.
template <class Impl>
class crash_handled final : public Impl {
public:
  template <class... Ts>
  explicit crash_handled(caf::actor_config& cfg, Ts&&... xs)
    : Impl(cfg, std::forward<Ts>(xs)...) {
    install_handlers(this);
  }
};

/// The `self` pointer type of an actor function, or void if it takes none.
template <class F>
using self_arg_t = caf::detail::tl_head_t<
  typename caf::detail::get_callable_trait<F>::arg_types>;

template <class F>
constexpr bool takes_self_v
  = std::is_pointer<self_arg_t<F>>::value
    && std::is_base_of<caf::scheduled_actor,
                       std::remove_pointer_t<self_arg_t<F>>>::value;

/// Wraps an actor function and its arguments into a function that installs
/// Trellis' handlers first, keeping the function's own `self` type so that
/// stateful and typed actors keep working.
template <class F, class... Ts>
auto with_crash_handler(F fun, Ts... xs) {
  using result = typename caf::detail::get_callable_trait<F>::result_type;
  if constexpr (takes_self_v<F>) {
    using self_ptr = self_arg_t<F>;
    return [fun, args = std::make_tuple(std::move(xs)...)](
             self_ptr self) -> result {
      install_handlers(self);
      return std::apply([&](const auto&... ys) { return fun(self, ys...); },
                        args);
    };
  } else {
    return [fun, args = std::make_tuple(std::move(xs)...)](
             caf::event_based_actor* self) -> result {
      install_handlers(self);
      return std::apply([&](const auto&... ys) { return fun(ys...); }, args);
    };
  }
}

} // namespace detail

/// What a child factory gets from its supervisor: where the child sits in the
/// tree, how often it was restarted, and spawn helpers that install Trellis'
/// crash handler (see `install_crash_handler`).
///
/// Later features hand more to the factory through this type (for example
/// the last checkpoint), so factories keep their signature.
class child_context {
public:
  child_context(caf::actor_system& sys, caf::actor supervisor,
                std::string path, std::string id, size_t restart_count,
                caf::message args = {}, caf::group events = {},
                bool detached = false)
    : sys_(&sys),
      supervisor_(std::move(supervisor)),
      path_(std::move(path)),
      id_(std::move(id)),
      restart_count_(restart_count),
      args_(std::move(args)),
      events_(std::move(events)),
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

  /// Returns the group on which the tree publishes `lifecycle_event`s.
  const caf::group& events() const noexcept {
    return events_;
  }

  /// Returns whether the child's spec asks for a thread of its own.
  bool detached() const noexcept {
    return detached_;
  }

  /// Spawns a function-based actor with Trellis' handlers installed, on a
  /// thread of its own if the spec is `detached`; `xs` are copied so that
  /// every restart gets the same arguments.
  template <caf::spawn_options Os = caf::no_spawn_options, class F,
            class... Ts>
  auto spawn(F fun, Ts&&... xs) const {
    auto f = detail::with_crash_handler(std::move(fun),
                                        std::forward<Ts>(xs)...);
    if (detached_)
      return sys_->spawn<Os + caf::detached>(std::move(f));
    return sys_->spawn<Os>(std::move(f));
  }

  /// Spawns a class-based actor with Trellis' handlers installed, on a
  /// thread of its own if the spec is `detached`.
  template <class Impl, caf::spawn_options Os = caf::no_spawn_options,
            class... Ts>
  auto spawn(Ts&&... xs) const {
    if (detached_)
      return sys_->spawn<detail::crash_handled<Impl>, Os + caf::detached>(
        std::forward<Ts>(xs)...);
    return sys_->spawn<detail::crash_handled<Impl>, Os>(
      std::forward<Ts>(xs)...);
  }

private:
  caf::actor_system* sys_;
  caf::actor supervisor_;
  std::string path_;
  std::string id_;
  size_t restart_count_;
  caf::message args_;
  caf::group events_;
  bool detached_;
};

} // namespace trellis
