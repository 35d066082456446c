#pragma once

/// @file
/// `shutdown_reason`: OTP's `{shutdown, Term}` exit reason.

#include <cstdint>
#include <utility>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace trellis {

/// Returns OTP's exit reason `{shutdown, Term}`: CAF's `user_shutdown` (OTP's
/// `shutdown`) with `term` as its context, so that an actor can end "on
/// purpose, and here is why" without hand-assembling a `caf::error`.
///
/// Supervisors treat it exactly as OTP treats `{shutdown, _}`: a transient
/// child that ends with it is not restarted and not reported, a temporary
/// one is not reported, a permanent one is reported and restarted (a
/// permanent child should never end by itself), and a permanent child that
/// answers a request to stop with it gets a `shutdown_error`. For everything
/// else it is a shutdown: it compares equal to
/// `caf::exit_reason::user_shutdown` (CAF compares code and category), and
/// `is_normal_exit` holds for it. `is_shutdown_reason` tells it apart from a
/// plain `user_shutdown`.
///
/// Example: `self->quit(trellis::shutdown_reason("config reloaded"))`.
template <class T, class... Ts>
caf::error shutdown_reason(T&& term, Ts&&... more) {
  return caf::error{static_cast<uint8_t>(caf::exit_reason::user_shutdown),
                    caf::atom("exit"),
                    caf::make_message(std::forward<T>(term),
                                      std::forward<Ts>(more)...)};
}

/// Returns whether `x` is a shutdown with a term (OTP's `{shutdown, Term}`),
/// as made by `shutdown_reason`; false for a plain `user_shutdown`.
inline bool is_shutdown_reason(const caf::error& x) {
  return x && x.category() == caf::atom("exit")
         && x.code() == static_cast<uint8_t>(caf::exit_reason::user_shutdown)
         && !x.context().empty();
}

/// Returns the term of a shutdown reason; an empty message for any other
/// error.
inline caf::message shutdown_term(const caf::error& x) {
  return is_shutdown_reason(x) ? x.context() : caf::message{};
}

} // namespace trellis
