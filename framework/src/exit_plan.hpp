#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

#include "backoff_state.hpp"
#include "restart_budget.hpp"
#include "trellis/decision.hpp"
#include "trellis/errc.hpp"
#include "trellis/restart.hpp"
#include "trellis/restart_backoff.hpp"
#include "trellis/strategy.hpp"

namespace trellis::detail {

// What a supervisor does about its children's exits, decided by plain code:
// no actor, no clock of its own, no I/O. The supervisor actor gathers the
// facts, asks here, and carries the answer out. Every OTP exit rule lives
// in this file once.

/// Whether a child that will not run again leaves the child list. OTP keeps
/// the spec of a permanent or transient child, so that `restart_child` can
/// start it again, forgets a temporary one, and a simple_one_for_one
/// supervisor keeps no stopped child at all. Holds for every way a child
/// stops for good: its exit, `terminate_child`, a start answered `ignore`,
/// a decider's `stop`.
constexpr bool removed_when_stopped(restart type, bool dynamic) noexcept {
  return dynamic || type == restart::temporary;
}

/// Whether a child that did not fail is restarted with its failed sibling's
/// group (one_for_all, rest_for_one). OTP drops a temporary bystander
/// instead: it never runs again, whatever the strategy.
constexpr bool restarts_with_group(restart type) noexcept {
  return type != restart::temporary;
}

/// Whether one child's restart touches no other child, so that such
/// restarts may overlap with each other.
constexpr bool restarts_alone(strategy x) noexcept {
  return x == strategy::one_for_one || x == strategy::simple_one_for_one;
}

/// The children a restart of `failed` stops and starts again, as a range
/// of the children in start order `[first, last)`: the child alone
/// (one_for_one), every child (one_for_all), or the child and those started
/// after it (rest_for_one).
template <class Iterator>
std::pair<Iterator, Iterator>
restart_group(strategy x, Iterator first, Iterator failed, Iterator last) {
  switch (x) {
    case strategy::one_for_all:
      return {first, last};
    case strategy::rest_for_one:
      return {failed, last};
    case strategy::one_for_one:
    case strategy::simple_one_for_one:
      break;
  }
  return {failed, std::next(failed)};
}

/// What a supervisor knows of one child's exit when it decides.
struct exit_facts {
  /// The child's restart type (OTP's `restart` field).
  restart type = restart::permanent;
  /// Whether the supervisor is dynamic (simple_one_for_one).
  bool dynamic = false;
  /// Whether the exit reason counts as normal (see `is_normal_exit`).
  bool normal = false;
  /// Whether the child is significant (see `auto_shutdown`).
  bool significant = false;
  /// The decider's answer, if the child's spec has a decider; one that
  /// threw answers `escalate`. `resume` counts as `restart`: the exit
  /// happened, nothing is left to resume (an exception the child resumed
  /// from is no exit; one past the resume limit is).
  std::optional<decision> decided;
  /// Whether a dependency of the child has an open incident (see
  /// `dependency_policy`): a restart is paused instead.
  bool dependency_down = false;
};

/// What to do about one child's exit, as a value.
struct exit_plan {
  enum class action : uint8_t {
    /// Restart the child's group (see `restart_group`) after `delay`
    /// (zero: now). The budget is charged already.
    restart,
    /// Restart the child once its dependency's incident closes; nothing is
    /// charged to the budget (storm control, see `dependency_policy`).
    pause,
    /// Keep the spec; the child stays stopped until `restart_child`.
    leave_stopped,
    /// Forget the child (see `removed_when_stopped`).
    remove,
    /// Stop every child and exit with `reason`: the budget is spent
    /// (`reached_max_restart_intensity`) or the decider escalates
    /// (`escalated`). The reason names the child and its exit reason.
    give_up,
  };

  action what = action::restart;
  /// Whether the exit is reported as `child_terminated`: every abnormal
  /// exit, and a normal one that leads to a restart or an escalation
  /// (`plan_exit` only: a retry is no exit).
  bool report = false;
  /// Whether `auto_shutdown` is asked once the child left the running set:
  /// a significant child that ended for good, and only normally if a
  /// decider stopped it (a crash must not pass for a normal end).
  bool significant = false;
  caf::timespan delay{0};
  /// For `give_up`: the code of the supervisor's exit reason.
  errc reason = errc::escalated;
};

/// Decides what the exit described by `x` asks for: OTP's rules by restart
/// type, or the decider's answer. A restart whose dependency is down is
/// paused instead, uncharged; a restart is charged to `budget` at `now`;
/// if it does not fit, the plan gives up. If the child has a backoff
/// (`policy` and `state` both set), a restart waits for its next delay,
/// with `random` in [0, 1) for the jitter.
exit_plan plan_exit(const exit_facts& x, restart_budget& budget,
                    caf::actor_clock::time_point now,
                    const restart_backoff* policy = nullptr,
                    backoff_state* state = nullptr, double random = 0.0);

/// Decides a restart that has no exit of its own: the retry of a restart
/// whose start failed (OTP's `try_again_restart`). Charged to the budget
/// as `plan_exit` charges one; gives up if it does not fit.
exit_plan plan_restart(restart_budget& budget,
                       caf::actor_clock::time_point now,
                       const restart_backoff* policy = nullptr,
                       backoff_state* state = nullptr, double random = 0.0);

} // namespace trellis::detail
