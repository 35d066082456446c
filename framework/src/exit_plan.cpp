#include "exit_plan.hpp"

namespace trellis::detail {

namespace {

using action = exit_plan::action;

/// The child ends for good: stopped or removed, and maybe the last
/// significant child.
exit_plan end_for_good(const exit_facts& x, bool significant) {
  exit_plan plan;
  plan.what = removed_when_stopped(x.type, x.dynamic) ? action::remove
                                                      : action::leave_stopped;
  plan.significant = significant;
  return plan;
}

} // namespace

exit_plan plan_restart(restart_budget& budget,
                       caf::actor_clock::time_point now,
                       const restart_backoff* policy, backoff_state* state,
                       double random) {
  exit_plan plan;
  if (!budget.add_restart(now)) {
    plan.what = action::give_up;
    plan.reason = errc::reached_max_restart_intensity;
    return plan;
  }
  plan.what = action::restart;
  // Charged above, once; the group restarts when the delay has passed.
  if (policy != nullptr && state != nullptr)
    plan.delay = state->next_delay(*policy, random);
  return plan;
}

exit_plan plan_exit(const exit_facts& x, restart_budget& budget,
                    caf::actor_clock::time_point now,
                    const restart_backoff* policy, backoff_state* state,
                    double random) {
  auto restart_it = [&] {
    if (x.dependency_down) {
      exit_plan plan;
      plan.what = action::pause;
      plan.report = true;
      return plan;
    }
    auto plan = plan_restart(budget, now, policy, state, random);
    plan.report = true;
    return plan;
  };
  if (x.decided) {
    switch (*x.decided) {
      case decision::restart:
      // The exit happened: there is nothing left to resume.
      case decision::resume:
        return restart_it();
      case decision::stop: {
        auto plan = end_for_good(x, x.significant && x.normal);
        plan.report = !x.normal;
        return plan;
      }
      case decision::escalate:
        break;
    }
    exit_plan plan;
    plan.what = action::give_up;
    plan.report = true;
    plan.reason = errc::escalated;
    return plan;
  }
  switch (x.type) {
    case restart::permanent:
      return restart_it();
    case restart::transient:
      if (!x.normal)
        return restart_it();
      return end_for_good(x, x.significant);
    case restart::temporary:
      break;
  }
  auto plan = end_for_good(x, x.significant);
  plan.report = !x.normal;
  return plan;
}

} // namespace trellis::detail
