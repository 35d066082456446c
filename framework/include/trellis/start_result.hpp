#pragma once

/// @file
/// `start_result` and `ignore`: what a child factory returns.

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/typed_actor.hpp>

namespace trellis {

/// Tag type of `trellis::ignore`.
struct ignore_t {};

/// What a factory returns to say "do not start this child now" (OTP's
/// `ignore`): the child stays in the list without an actor, a temporary child
/// is dropped.
constexpr ignore_t ignore = ignore_t{};

/// The outcome of a child factory: a started actor, `ignore`, or an error.
/// Converts implicitly from each, so a factory can simply `return` any of them.
class start_result {
public:
  /// A started actor. An invalid (null) handle is a start error.
  start_result(caf::actor x) : actor_(std::move(x)) {
    // nop
  }

  /// A started statically typed actor.
  template <class... Sigs>
  start_result(const caf::typed_actor<Sigs...>& x)
    : actor_(caf::actor_cast<caf::actor>(x)) {
    // nop
  }

  /// A failed start.
  start_result(caf::error x) : error_(std::move(x)) {
    // nop
  }

  /// A failed start given as a CAF or Trellis error code enum.
  template <class Enum, class = std::enable_if_t<std::is_enum<Enum>::value>,
            class = decltype(make_error(std::declval<Enum>()))>
  start_result(Enum x) : error_(make_error(x)) {
    // nop
  }

  /// Either an actor or an error.
  start_result(caf::expected<caf::actor> x) {
    if (x)
      actor_ = std::move(*x);
    else
      error_ = std::move(x.error());
  }

  /// The child asks not to be started.
  start_result(ignore_t) : ignored_(true) {
    // nop
  }

  /// Returns whether the factory answered `ignore`.
  bool ignored() const noexcept {
    return ignored_;
  }

  /// Returns the started actor, or an invalid handle.
  const caf::actor& actor() const noexcept {
    return actor_;
  }

  /// Returns the start error, if any.
  const caf::error& error() const noexcept {
    return error_;
  }

private:
  caf::actor actor_;
  caf::error error_;
  bool ignored_ = false;
};

} // namespace trellis
