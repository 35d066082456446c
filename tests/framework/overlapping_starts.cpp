// Starts that touch one child only (one_for_one restarts, a dynamic
// supervisor's start_child) overlap: the supervisor does not wait for one
// new actor's initialization before it starts the next. Other operations
// still run alone and in arrival order. On the deterministic scheduler, a
// new actor initializes only when the test lets it run. (An actor spawned
// through the context initializes before its factory returns: these
// children are spawned outside it, as a nested supervisor or a detached
// child start elsewhere too.)

#include <algorithm>
#include <memory>

#include "clock_fixture.hpp"

using namespace trellis;
using namespace trellis::test;

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

/// A worker that counts its factory calls, and initializes on a scheduler
/// thread.
child_spec counted(const std::string& id, std::shared_ptr<int> starts) {
  return worker(id, [starts](child_context& ctx) -> start_result {
    ++*starts;
    return ctx.system().spawn(idle);
  });
}

/// Runs only the jobs of the actors in `xs` (and what they enqueue for
/// them), leaving every other actor, new ones included, unscheduled.
void run_only(clock_fixture& f, std::vector<caf::actor> xs) {
  std::vector<caf::resumable*> ptrs;
  for (auto& x : xs)
    ptrs.push_back(dynamic_cast<caf::resumable*>(
      caf::actor_cast<caf::abstract_actor*>(x)));
  f.sched.run_jobs_filtered([&](caf::resumable* job) {
    return std::find(ptrs.begin(), ptrs.end(), job) != ptrs.end();
  });
}

/// Stops `sup` while the fixture's scheduler still runs it.
void stop(clock_fixture& f, const caf::actor& sup) {
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  f.sched.run();
}

/// Starts a supervisor of `how` with counted children `a` and `b`; returns
/// it and its children once started.
std::pair<caf::actor, std::vector<child_info>>
two_children(clock_fixture& f, std::shared_ptr<int> starts,
             strategy how = strategy::one_for_one) {
  auto sup = spawn_supervisor(f.sys, supervisor("root")
                                       .strategy(how)
                                       .intensity(10)
                                       .child(counted("a", starts))
                                       .child(counted("b", starts)));
  REQUIRE(sup);
  f.sched.run();
  auto children = f.children(*sup);
  REQUIRE(*starts == 2);
  return {*sup, std::move(children)};
}

} // namespace

TEST_CASE("one_for_one restarts do not wait for each other's initialization",
          "[supervisor][overlap]") {
  clock_fixture f;
  auto starts = std::make_shared<int>(0);
  auto [sup, before] = two_children(f, starts);
  caf::anon_send_exit(before[0].actor, caf::exit_reason::kill);
  caf::anon_send_exit(before[1].actor, caf::exit_reason::kill);
  run_only(f, {sup, before[0].actor, before[1].actor});
  // Both replacements exist though neither has run yet.
  CHECK(*starts == 4);
  f.sched.run();
  auto after = f.children(sup);
  for (auto& x : after) {
    CHECK(x.state == child_state::running);
    CHECK(x.restart_count == 1);
    CHECK(x.actor != before[0].actor);
    CHECK(x.actor != before[1].actor);
  }
  stop(f, sup);
}

TEST_CASE("a dynamic supervisor's starts do not wait for each other's "
          "initialization",
          "[supervisor][overlap][dynamic]") {
  clock_fixture f;
  auto starts = std::make_shared<int>(0);
  auto started_sup = spawn_supervisor(
    f.sys, dynamic_supervisor("d", counted("w", starts)));
  REQUIRE(started_sup);
  auto sup = *started_sup;
  f.sched.run();
  for (int i = 0; i < 3; ++i)
    f.self->send(sup, start_child_atom::value, caf::message{});
  run_only(f, {sup});
  CHECK(*starts == 3);
  f.sched.run();
  std::vector<caf::actor> started;
  for (int i = 0; i < 3; ++i)
    receive_or_fail(f.self, "start_child's actor",
                    [&](caf::actor& x) { started.push_back(x); });
  CHECK(f.children(sup).size() == 3);
  for (auto& x : started)
    CHECK(x);
  stop(f, sup);
}

TEST_CASE("an operation that must run alone waits for overlapping starts, "
          "and later exits wait for it",
          "[supervisor][overlap]") {
  clock_fixture f;
  auto starts = std::make_shared<int>(0);
  auto [sup, before] = two_children(f, starts);
  caf::anon_send_exit(before[0].actor, caf::exit_reason::kill);
  run_only(f, {sup, before[0].actor});
  REQUIRE(*starts == 3); // a's replacement, not initialized yet
  // which_children runs alone: it waits for a's start. b's exit arrives
  // after it, so b's restart waits for it too.
  f.self->send(sup, which_children_atom::value);
  caf::anon_send_exit(before[1].actor, caf::exit_reason::kill);
  run_only(f, {sup, before[1].actor});
  CHECK(*starts == 3);
  f.sched.run();
  std::vector<child_info> seen;
  receive_or_fail(f.self, "which_children's answer",
                  [&](std::vector<child_info>& xs) { seen = std::move(xs); });
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].state == child_state::running);
  CHECK(seen[0].restart_count == 1);
  // b had exited, and was not restarted yet when the answer was made.
  CHECK(seen[1].state == child_state::restarting);
  CHECK(seen[1].restart_count == 0);
  CHECK(*starts == 4);
  CHECK(f.children(sup)[1].state == child_state::running);
  stop(f, sup);
}

TEST_CASE("a rest_for_one restart does not overlap with the next exit",
          "[supervisor][overlap]") {
  clock_fixture f;
  auto starts = std::make_shared<int>(0);
  auto [sup, before] = two_children(f, starts, strategy::rest_for_one);
  caf::anon_send_exit(before[1].actor, caf::exit_reason::kill);
  run_only(f, {sup, before[1].actor});
  REQUIRE(*starts == 3); // b's replacement, not initialized yet
  caf::anon_send_exit(before[0].actor, caf::exit_reason::kill);
  run_only(f, {sup, before[0].actor});
  // a's restart (which restarts b again) waits for b's start to end.
  CHECK(*starts == 3);
  f.sched.run();
  CHECK(*starts == 5);
  for (auto& x : f.children(sup))
    CHECK(x.state == child_state::running);
  stop(f, sup);
}

TEST_CASE("a child whose initialization ends it does not count as started",
          "[supervisor][start]") {
  clock_fixture f;
  auto sup = spawn_supervisor(
    f.sys, supervisor("root").child(worker("a", [](child_context& ctx)
                                                  -> start_result {
      return ctx.spawn([](caf::event_based_actor* self) -> caf::behavior {
        self->quit(caf::sec::runtime_error);
        return {[](int x) { return x; }};
      });
    })));
  REQUIRE(sup);
  f.self->monitor(*sup);
  f.sched.run();
  caf::error reason;
  receive_or_fail(f.self, "root's exit",
                  [&](caf::down_msg& msg) { reason = msg.reason; });
  CHECK(is(reason, errc::failed_to_start_child));
}

TEST_CASE("a child declared unhealthy before its initialization is done "
          "fails its start, and the supervisor goes on",
          "[supervisor][overlap][health]") {
  clock_fixture f;
  auto starts = std::make_shared<int>(0);
  auto [sup, before] = two_children(f, starts);
  caf::anon_send_exit(before[0].actor, caf::exit_reason::kill);
  run_only(f, {sup, before[0].actor});
  REQUIRE(*starts == 3);
  // Lookups are answered at once, so they find the replacement mid-start.
  f.self->send(sup, lookup_atom::value, std::string{"root/a"});
  run_only(f, {sup});
  caf::actor pending;
  receive_or_fail(f.self, "lookup's actor",
                  [&](caf::actor& x) { pending = x; });
  REQUIRE(pending);
  CHECK(pending != before[0].actor);
  f.self->send(sup, unhealthy_atom::value, pending,
               caf::error{caf::sec::runtime_error});
  f.sched.run();
  receive_or_fail(f.self, "unhealthy's ok", [](caf::ok_atom) {});
  // The failed start is retried, and the supervisor is free again.
  CHECK(*starts == 4);
  auto after = f.children(sup);
  CHECK(after[0].state == child_state::running);
  CHECK(after[0].actor != pending);
  stop(f, sup);
}
