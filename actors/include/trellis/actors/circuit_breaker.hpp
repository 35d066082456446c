#pragma once

/// @file
/// The circuit breaker, a worker in front of a flaky actor. Part of
/// `trellis::actors`.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "trellis/child_spec.hpp"
#include "trellis/error_category.hpp"
#include "trellis/lifecycle_event.hpp"

namespace trellis {

/// Errors of the circuit breaker (category `breaker_errc_category`).
enum class breaker_errc : uint8_t {
  /// The breaker is open: the call was refused at once, without reaching
  /// the protected actor. The context names the breaker and says why.
  circuit_open = 1,
};

/// The category atom of the circuit breaker's errors.
constexpr caf::atom_value breaker_errc_category = caf::atom("tr_breaker");

/// Returns the enumerator's name, e.g. `"circuit_open"`.
const char* name_of(breaker_errc x) noexcept;

/// Returns the enumerator's name.
std::string to_string(breaker_errc x);

/// Creates a breaker error whose context holds `xs` (strings, usually).
template <class... Ts>
caf::error make_error(breaker_errc x, Ts&&... xs) {
  return caf::error{static_cast<uint8_t>(x), breaker_errc_category,
                    caf::make_message(std::forward<Ts>(xs)...)};
}

/// Returns whether `x` is a breaker error with code `code`.
bool is(const caf::error& x, breaker_errc code);

/// The kind of `lifecycle_event` a circuit breaker tells of when it changes
/// state (a kind of this library, see `first_library_kind`): `path` is the
/// breaker's, `id` its target's, `detail` says `state=open` (or
/// `half_open`, `closed`) and the failures counted.
inline constexpr lifecycle_kind breaker_state_changed{first_library_kind + 2};

namespace detail {

inline constexpr lifecycle_kind_info breaker_state_changed_info{
  "breaker_state_changed", "breaker", "target"};

inline const char* breaker_errc_name(uint8_t code) noexcept {
  return name_of(static_cast<breaker_errc>(code));
}

/// Describes the kind and the error category in every program that sees
/// this header, before `main` (and so `trellis::configure`) runs.
inline const bool breaker_described
  = register_kind(breaker_state_changed, breaker_state_changed_info)
    && register_error_category(
      {breaker_errc_category, "trellis::breaker_errc::", breaker_errc_name});

} // namespace detail

/// The state of a circuit breaker.
enum class breaker_state : uint8_t {
  /// Calls pass through; consecutive failures are counted.
  closed,
  /// Calls fail at once with `breaker_errc::circuit_open`, until
  /// `reset_timeout`.
  open,
  /// One trial call passes; its outcome closes or reopens the breaker.
  half_open,
};

/// Returns the enumerator's name.
std::string to_string(breaker_state x);

/// `(caf::get_atom, breaker_state_atom)` asks a circuit breaker for its
/// `breaker_state`.
using breaker_state_atom = caf::atom_constant<caf::atom("tr_bstate")>;

/// What a circuit breaker protects and when it trips.
class circuit_breaker_config {
public:
  /// The path of the protected actor, within the subtree of the breaker's
  /// supervisor, such as `root/payments`; found again after each restart.
  circuit_breaker_config& target(std::string path) {
    target_ = std::move(path);
    return *this;
  }

  /// Returns the path of the protected actor.
  const std::string& target() const noexcept {
    return target_;
  }

  /// Consecutive failed calls that open the breaker (default 5).
  circuit_breaker_config& failure_threshold(uint32_t x) noexcept {
    failure_threshold_ = x;
    return *this;
  }

  /// Returns how many consecutive failed calls open the breaker.
  uint32_t failure_threshold() const noexcept {
    return failure_threshold_;
  }

  /// How long a call may take before it counts as failed (default 1 s).
  template <class Rep, class Period>
  circuit_breaker_config& call_timeout(std::chrono::duration<Rep, Period> x) {
    call_timeout_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns how long a call may take before it counts as failed.
  caf::timespan call_timeout() const noexcept {
    return call_timeout_;
  }

  /// How long the breaker stays open before it lets a trial call through
  /// (default 10 s).
  template <class Rep, class Period>
  circuit_breaker_config& reset_timeout(std::chrono::duration<Rep, Period> x) {
    reset_timeout_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns how long the breaker stays open before a trial call.
  caf::timespan reset_timeout() const noexcept {
    return reset_timeout_;
  }

  /// Names the dependency the target stands for, such as `"db"`: when the
  /// breaker opens it reports the dependency down (see `report_dependency`),
  /// so that storm control pauses the failed children that depend on it at
  /// once; half open (its trial call needs a caller, and those callers are
  /// paused) or stopped it takes that back (`withdrawn`), and canaries
  /// probe; closed by a trial call, it reports it up.
  circuit_breaker_config& dependency(std::string name) {
    dependency_ = std::move(name);
    return *this;
  }

  /// Returns the dependency the breaker reports on; empty for none.
  const std::string& dependency() const noexcept {
    return dependency_;
  }

  /// Checks the target, the threshold and the timeouts.
  caf::error validate() const;

private:
  std::string target_;
  std::string dependency_;
  uint32_t failure_threshold_ = 5;
  caf::timespan call_timeout_ = std::chrono::seconds(1);
  caf::timespan reset_timeout_ = std::chrono::seconds(10);
};

/// A worker spec for a circuit breaker in front of a flaky actor: callers
/// send their requests to the breaker, which forwards each to the target
/// and relays the answer. A failed call (an error answer, a timeout, a
/// target that is down or restarting) counts; `failure_threshold` of them
/// in a row open the breaker, and while it is open callers get
/// `breaker_errc::circuit_open` at once, sparing the target. After
/// `reset_timeout` it is half open: one trial call passes, and its outcome
/// closes the breaker or opens it again; other calls meanwhile fail fast.
/// Each change of state is logged and published as a `lifecycle_event`
/// (`breaker_state_changed`). Responses, including errors, reach the caller
/// unchanged; messages the target does not answer count as timeouts, so
/// use the breaker for request/response traffic.
child_spec circuit_breaker(std::string id, circuit_breaker_config config);

} // namespace trellis
