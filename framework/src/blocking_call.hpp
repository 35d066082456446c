#pragma once

// Blocking requests for the plain-code helpers (trellis/supervisor.hpp,
// trellis/fault_injection.hpp).

#include <chrono>
#include <optional>
#include <tuple>
#include <type_traits>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/duration.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

#include "spec_rules.hpp"
#include "trellis/errc.hpp"

namespace trellis::detail {

/// Returns `errc::calling_self` if this thread runs an actor of the tree
/// `target` belongs to: a blocking call into it could not be answered before
/// the caller returns. `what` names the call.
caf::error refuse_calling_self(const caf::actor& target, const char* what);

/// Returns the name of the call that the request `x` makes, e.g.
/// `"which_children"`.
const char* call_name(caf::atom_value x) noexcept;

/// Returns a blocking call's timeout as CAF takes it: none past
/// `longest_span`.
inline caf::duration call_timeout(caf::timespan x) {
  if (x > longest_span)
    return caf::infinite;
  return caf::duration{x};
}

/// Turns CAF's timeout of a blocking call into `errc::timeout` naming `what`.
caf::error name_timeout(caf::error err, const char* what,
                        caf::duration timeout);

/// Returns the name of the call whose request starts with `X, Ts...`: its
/// first atom, or the one after `get_atom`.
template <class X, class... Ts>
const char* name_of_call() noexcept {
  using first = std::decay_t<X>;
  if constexpr (std::is_same<first, caf::get_atom>::value
                && sizeof...(Ts) > 0) {
    using second = std::decay_t<std::tuple_element_t<0, std::tuple<Ts...>>>;
    if constexpr (caf::is_atom_constant<second>::value)
      return call_name(second::get_value());
  }
  if constexpr (caf::is_atom_constant<first>::value)
    return call_name(first::get_value());
  return "request";
}

/// Sends one request to `sup` and blocks for its answer of type `T`, at most
/// `timeout` (then `errc::timeout`). Refuses a call from inside the tree
/// (see `refuse_calling_self`).
template <class T, class X, class... Ts>
caf::expected<T> call_within(caf::actor_system& sys, caf::duration timeout,
                             const caf::actor& sup, X&& x, Ts&&... xs) {
  if (!sup)
    return make_error(errc::not_found, "invalid supervisor handle");
  const char* what = name_of_call<X, Ts...>();
  if (auto err = refuse_calling_self(sup, what))
    return err;
  caf::scoped_actor self{sys, true};
  std::optional<T> value;
  caf::error failure;
  self->request(sup, timeout, std::forward<X>(x), std::forward<Ts>(xs)...)
    .receive([&](T& y) { value = std::move(y); },
             [&](caf::error& err) { failure = std::move(err); });
  if (value)
    return std::move(*value);
  return name_timeout(std::move(failure), what, timeout);
}

/// A request whose only answer is `caf::ok_atom`.
template <class... Ts>
caf::error call_for_ok(caf::actor_system& sys, caf::duration timeout,
                       const caf::actor& sup, Ts&&... xs) {
  auto res = call_within<caf::ok_atom>(sys, timeout, sup,
                                       std::forward<Ts>(xs)...);
  return res ? caf::none : std::move(res.error());
}

} // namespace trellis::detail
