#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/detail/type_list.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/infer_handle.hpp>
#include <caf/message.hpp>

#include "trellis/child_context.hpp"
#include "trellis/errc.hpp"
#include "trellis/start_result.hpp"

// What `trellis::worker` detects about the callable it gets, to pick the
// factory it builds.

namespace trellis::detail {

/// Detects a factory that takes start arguments after its context, such as
/// `[](child_context& ctx, int port) -> start_result`; `args` lists them.
template <class Signature>
struct start_args_signature : std::false_type {};

template <class R, class... Ts>
struct start_args_signature<R(child_context&, Ts...)>
  : std::bool_constant<(sizeof...(Ts) > 0)> {
  using args = caf::detail::type_list<std::decay_t<Ts>...>;
};

template <class R, class C, class... Ts>
struct start_args_signature<R (C::*)(child_context&, Ts...) const>
  : start_args_signature<R(child_context&, Ts...)> {};

template <class R, class C, class... Ts>
struct start_args_signature<R (C::*)(child_context&, Ts...)>
  : start_args_signature<R(child_context&, Ts...)> {};

template <class R, class... Ts>
struct start_args_signature<R (*)(child_context&, Ts...)>
  : start_args_signature<R(child_context&, Ts...)> {};

template <class F, class = void>
struct takes_start_args : start_args_signature<F> {};

template <class F>
struct takes_start_args<F, std::void_t<decltype(&F::operator())>>
  : start_args_signature<decltype(&F::operator())> {};

template <class F>
constexpr bool takes_start_args_v = takes_start_args<std::decay_t<F>>::value;

template <class F, class... Ts, size_t... Is>
start_result call_with_start_args(F& fun, child_context& ctx,
                                  caf::detail::type_list<Ts...>,
                                  std::index_sequence<Is...>) {
  const auto& xs = ctx.args();
  if (!xs.match_elements<Ts...>())
    return make_error(errc::start_failed, ctx.path(),
                      "start arguments " + caf::to_string(xs)
                        + " do not match the factory's parameters");
  return fun(ctx, xs.get_as<Ts>(Is)...);
}

/// Whether `ctx.spawn(fun, xs...)` can run `F` with arguments `Ts`: a CAF
/// actor function callable as `f(self, xs...)` or `f(xs...)`.
template <class F, class... Ts>
constexpr bool is_actor_function() {
  if constexpr (!caf::detail::is_callable<F>::value) {
    return false;
  } else {
    using impl = caf::infer_impl_from_fun_t<F>;
    return std::is_invocable_v<F, impl*, Ts...>
           || std::is_invocable_v<F, Ts...>;
  }
}

} // namespace trellis::detail
