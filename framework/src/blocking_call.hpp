#pragma once

// Blocking requests for the plain-code helpers (trellis/supervisor.hpp,
// trellis/fault_injection.hpp).

#include <optional>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/duration.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include "trellis/errc.hpp"

namespace trellis::detail {

/// Sends one request to `sup` and blocks for its answer of type `T`, at most
/// `timeout` (then `caf::sec::request_timeout`).
template <class T, class... Ts>
caf::expected<T> call_within(caf::actor_system& sys, caf::duration timeout,
                             const caf::actor& sup, Ts&&... xs) {
  if (!sup)
    return make_error(errc::not_found, "invalid supervisor handle");
  caf::scoped_actor self{sys};
  std::optional<T> value;
  caf::error failure;
  self->request(sup, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { value = std::move(x); },
             [&](caf::error& err) { failure = std::move(err); });
  if (value)
    return std::move(*value);
  return failure;
}

/// Sends one request to `sup` and blocks for its answer of type `T`.
template <class T, class... Ts>
caf::expected<T> call(caf::actor_system& sys, const caf::actor& sup,
                      Ts&&... xs) {
  return call_within<T>(sys, caf::infinite, sup, std::forward<Ts>(xs)...);
}

/// A request whose only answer is `caf::ok_atom`.
template <class... Ts>
caf::error call_for_ok(caf::actor_system& sys, const caf::actor& sup,
                       Ts&&... xs) {
  auto res = call<caf::ok_atom>(sys, sup, std::forward<Ts>(xs)...);
  return res ? caf::none : std::move(res.error());
}

} // namespace trellis::detail
