#include <chrono>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>

#include "exit_plan.hpp"

using namespace trellis;
using namespace trellis::detail;
using namespace std::chrono_literals;
using action = exit_plan::action;

namespace {

enum class exit_kind { normal, crash };

enum class budget_state { room, spent };

/// One row of the decision table: the facts, the budget, and what OTP (or
/// the decider) asks for.
struct row {
  restart type;
  bool dynamic;
  exit_kind exit;
  budget_state budget;
  std::optional<decision> decided;
  action what;
  bool report;
  /// Whether the budget was charged: a restart, or a restart that did not
  /// fit.
  bool charged;
  std::optional<errc> reason = std::nullopt;
};

constexpr auto room = budget_state::room;
constexpr auto spent = budget_state::spent;
constexpr auto normal = exit_kind::normal;
constexpr auto crash = exit_kind::crash;
constexpr auto give_up = action::give_up;
constexpr auto max_intensity = errc::reached_max_restart_intensity;

// clang-format off
/// OTP's supervisor: permanent always restarts; transient restarts after an
/// abnormal exit only; temporary never; a child that ends for good stays
/// (stopped) unless it is temporary or its supervisor is dynamic; a restart
/// that does not fit the budget gives up.
const std::vector<row> by_restart_type = {
  // type                 dyn    exit    budget  decided       what                  report charged
  {restart::permanent,   false, normal, room,   std::nullopt, action::restart,       true,  true},
  {restart::permanent,   false, crash,  room,   std::nullopt, action::restart,       true,  true},
  {restart::permanent,   false, normal, spent,  std::nullopt, give_up,               true,  true, max_intensity},
  {restart::permanent,   false, crash,  spent,  std::nullopt, give_up,               true,  true, max_intensity},
  {restart::permanent,   true,  crash,  room,   std::nullopt, action::restart,       true,  true},
  {restart::permanent,   true,  normal, spent,  std::nullopt, give_up,               true,  true, max_intensity},
  {restart::transient,   false, normal, room,   std::nullopt, action::leave_stopped, false, false},
  {restart::transient,   false, normal, spent,  std::nullopt, action::leave_stopped, false, false},
  {restart::transient,   false, crash,  room,   std::nullopt, action::restart,       true,  true},
  {restart::transient,   false, crash,  spent,  std::nullopt, give_up,               true,  true, max_intensity},
  {restart::transient,   true,  normal, room,   std::nullopt, action::remove,        false, false},
  {restart::transient,   true,  normal, spent,  std::nullopt, action::remove,        false, false},
  {restart::transient,   true,  crash,  room,   std::nullopt, action::restart,       true,  true},
  {restart::transient,   true,  crash,  spent,  std::nullopt, give_up,               true,  true, max_intensity},
  {restart::temporary,   false, normal, room,   std::nullopt, action::remove,        false, false},
  {restart::temporary,   false, crash,  room,   std::nullopt, action::remove,        true,  false},
  {restart::temporary,   false, crash,  spent,  std::nullopt, action::remove,        true,  false},
  {restart::temporary,   true,  normal, spent,  std::nullopt, action::remove,        false, false},
  {restart::temporary,   true,  crash,  room,   std::nullopt, action::remove,        true,  false},
};

/// A decider overrides the restart type: restart is charged as any restart,
/// stop ends the child for good as a transient child's normal exit does,
/// escalate gives up whatever the budget. Resume, for an exit that happened
/// (a kill, a normal exit, an exception past the resume limit), is restart.
const std::vector<row> by_decider = {
  {restart::temporary,   false, normal, room,   decision::restart,  action::restart,       true,  true},
  {restart::temporary,   false, crash,  spent,  decision::restart,  give_up,               true,  true, max_intensity},
  {restart::permanent,   false, crash,  room,   decision::restart,  action::restart,       true,  true},
  {restart::permanent,   false, normal, room,   decision::stop,     action::leave_stopped, false, false},
  {restart::permanent,   false, crash,  room,   decision::stop,     action::leave_stopped, true,  false},
  {restart::permanent,   true,  crash,  room,   decision::stop,     action::remove,        true,  false},
  {restart::temporary,   false, crash,  spent,  decision::stop,     action::remove,        true,  false},
  {restart::transient,   false, normal, room,   decision::escalate, give_up,               true,  false, errc::escalated},
  {restart::permanent,   true,  crash,  spent,  decision::escalate, give_up,               true,  false, errc::escalated},
  {restart::permanent,   false, crash,  room,   decision::resume,   action::restart,       true,  true},
  {restart::temporary,   false, normal, room,   decision::resume,   action::restart,       true,  true},
  {restart::transient,   true,  crash,  room,   decision::resume,   action::restart,       true,  true},
  {restart::permanent,   false, crash,  spent,  decision::resume,   give_up,               true,  true, max_intensity},
};
// clang-format on

std::string describe(const row& x) {
  std::string out = to_string(x.type);
  out += x.dynamic ? " dynamic" : " static";
  out += x.exit == normal ? " normal exit" : " crash";
  out += x.budget == room ? " with budget" : " budget spent";
  if (x.decided)
    out += " decider " + to_string(*x.decided);
  return out;
}

void check_rows(const std::vector<row>& rows) {
  restart_budget::time_point now{};
  for (auto& x : rows) {
    INFO(describe(x));
    restart_budget budget{x.budget == room ? 1u : 0u, 5s};
    exit_facts facts;
    facts.type = x.type;
    facts.dynamic = x.dynamic;
    facts.normal = x.exit == normal;
    facts.decided = x.decided;
    auto left = budget.remaining(now);
    auto plan = plan_exit(facts, budget, now);
    CHECK(plan.what == x.what);
    CHECK(plan.report == x.report);
    CHECK(plan.delay == caf::timespan{0});
    // Charging a budget with room leaves one restart less; a spent budget
    // has none to lose either way.
    if (x.budget == room)
      CHECK((budget.remaining(now) < left) == x.charged);
    if (x.reason)
      CHECK(plan.reason == *x.reason);
  }
}

} // namespace

TEST_CASE("an exit is planned by restart type as OTP does",
          "[exit_plan]") {
  check_rows(by_restart_type);
}

TEST_CASE("a decider's answer is planned over the restart type",
          "[exit_plan]") {
  check_rows(by_decider);
}

TEST_CASE("significance asks auto_shutdown only of a child that ended for "
          "good, and of a decider's stop only after a normal exit",
          "[exit_plan]") {
  restart_budget budget{10, 5s};
  restart_budget::time_point now{};
  auto plan = [&](restart type, bool normal_exit,
                  std::optional<decision> decided = std::nullopt) {
    exit_facts facts;
    facts.type = type;
    facts.normal = normal_exit;
    facts.significant = true;
    facts.decided = decided;
    return plan_exit(facts, budget, now);
  };
  CHECK(plan(restart::transient, true).significant);
  CHECK_FALSE(plan(restart::transient, false).significant); // Restarted.
  CHECK(plan(restart::temporary, true).significant);
  CHECK(plan(restart::temporary, false).significant);
  CHECK(plan(restart::permanent, true, decision::stop).significant);
  CHECK_FALSE(plan(restart::permanent, false, decision::stop).significant);
  CHECK_FALSE(plan(restart::permanent, true).significant);
  // Not significant: never asks.
  exit_facts plain;
  plain.type = restart::transient;
  plain.normal = true;
  CHECK_FALSE(plan_exit(plain, budget, now).significant);
}

TEST_CASE("the group a restart takes along follows the strategy",
          "[exit_plan]") {
  std::vector<int> children{0, 1, 2, 3};
  auto group = [&](strategy x) {
    auto [first, last] = restart_group(x, children.begin(),
                                       children.begin() + 1, children.end());
    return std::vector<int>(first, last);
  };
  CHECK(group(strategy::one_for_one) == std::vector<int>{1});
  CHECK(group(strategy::simple_one_for_one) == std::vector<int>{1});
  CHECK(group(strategy::one_for_all) == std::vector<int>{0, 1, 2, 3});
  CHECK(group(strategy::rest_for_one) == std::vector<int>{1, 2, 3});
  // The last child under rest_for_one takes nobody along.
  auto [first, last] = restart_group(strategy::rest_for_one, children.begin(),
                                     children.begin() + 3, children.end());
  CHECK(std::vector<int>(first, last) == std::vector<int>{3});
  CHECK(restarts_alone(strategy::one_for_one));
  CHECK(restarts_alone(strategy::simple_one_for_one));
  CHECK_FALSE(restarts_alone(strategy::one_for_all));
  CHECK_FALSE(restarts_alone(strategy::rest_for_one));
}

TEST_CASE("a child ends for good in the list or out of it by one rule",
          "[exit_plan]") {
  CHECK_FALSE(removed_when_stopped(restart::permanent, false));
  CHECK_FALSE(removed_when_stopped(restart::transient, false));
  CHECK(removed_when_stopped(restart::temporary, false));
  CHECK(removed_when_stopped(restart::permanent, true));
  CHECK(removed_when_stopped(restart::transient, true));
  CHECK(removed_when_stopped(restart::temporary, true));
  // A temporary bystander of a group restart is dropped, not restarted.
  CHECK(restarts_with_group(restart::permanent));
  CHECK(restarts_with_group(restart::transient));
  CHECK_FALSE(restarts_with_group(restart::temporary));
}

TEST_CASE("a backoff delays each restart in a row longer and starts over "
          "after a stable run",
          "[exit_plan]") {
  restart_budget budget{100, 1h};
  restart_budget::time_point now{};
  restart_backoff policy{100ms, 1s, 0.0};
  policy.reset_after(10s);
  backoff_state state;
  exit_facts crash_facts;
  std::vector<caf::timespan> delays;
  for (int i = 0; i < 6; ++i) {
    auto plan = plan_exit(crash_facts, budget, now, &policy, &state);
    REQUIRE(plan.what == action::restart);
    delays.push_back(plan.delay);
  }
  CHECK(delays
        == std::vector<caf::timespan>{100ms, 200ms, 400ms, 800ms, 1s, 1s});
  // A run shorter than reset_after keeps the delay up; a stable one resets.
  state.ran_for = 9s;
  CHECK(plan_exit(crash_facts, budget, now, &policy, &state).delay == 1s);
  state.ran_for = 10s;
  CHECK(plan_exit(crash_facts, budget, now, &policy, &state).delay == 100ms);
  // Jitter adds up to its fraction of the delay.
  restart_backoff jittery{100ms, 1s, 0.5};
  backoff_state fresh;
  CHECK(plan_exit(crash_facts, budget, now, &jittery, &fresh, 0.999).delay
        > 149ms);
  // A restart that does not fit gives up and counts no attempt.
  restart_budget none{0, 1s};
  backoff_state untouched;
  auto plan = plan_exit(crash_facts, none, now, &policy, &untouched);
  CHECK(plan.what == action::give_up);
  CHECK(untouched.attempt == 0);
}

TEST_CASE("a retry of a failed restart is charged but reports no exit",
          "[exit_plan]") {
  restart_budget budget{1, 5s};
  restart_budget::time_point now{};
  auto first = plan_restart(budget, now);
  CHECK(first.what == action::restart);
  CHECK_FALSE(first.report);
  auto second = plan_restart(budget, now);
  CHECK(second.what == action::give_up);
  CHECK(second.reason == errc::reached_max_restart_intensity);
}

TEST_CASE("a restart whose dependency is down is paused, uncharged, and "
          "every other answer stands",
          "[exit_plan][storm_control]") {
  restart_budget::time_point now{};
  auto plan = [&](restart type, bool normal_exit, budget_state b,
                  std::optional<decision> decided = std::nullopt) {
    restart_budget budget{b == room ? 1u : 0u, 5s};
    exit_facts facts;
    facts.type = type;
    facts.normal = normal_exit;
    facts.decided = decided;
    facts.dependency_down = true;
    auto left = budget.remaining(now);
    auto result = plan_exit(facts, budget, now);
    CHECK(budget.remaining(now) == left);
    return result;
  };
  // What would restart pauses, even with the budget spent.
  CHECK(plan(restart::permanent, false, room).what == action::pause);
  CHECK(plan(restart::permanent, false, spent).what == action::pause);
  CHECK(plan(restart::permanent, false, spent).report);
  CHECK(plan(restart::transient, false, room).what == action::pause);
  CHECK(plan(restart::temporary, false, room, decision::restart).what
        == action::pause);
  // What would not restart is unchanged.
  CHECK(plan(restart::temporary, false, room).what == action::remove);
  CHECK(plan(restart::transient, true, room).what == action::leave_stopped);
  CHECK(plan(restart::permanent, false, room, decision::stop).what
        == action::leave_stopped);
  CHECK(plan(restart::permanent, false, room, decision::escalate).what
        == action::give_up);
}
