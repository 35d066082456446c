#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// A supervisor that runs `a` (permanent) and two significant children.
supervisor_spec with_significant(fixture& f, auto_shutdown mode,
                                 restart type) {
  return supervisor("root")
    .auto_shutdown(mode)
    .intensity(10)
    .child(f.probed("a"))
    .child(f.probed("s1").restart(type).significant(true))
    .child(f.probed("s2").restart(type).significant(true));
}

} // namespace

TEST_CASE("significant children are checked against OTP's rules",
          "[supervisor][significant]") {
  fixture f;
  auto invalid = [&](const supervisor_spec& spec) {
    auto res = start_supervisor(f.sys, spec);
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::invalid_spec));
    CHECK_THAT(f.render(res.error()), Catch::Contains("significant"));
  };
  SECTION("a permanent child may not be significant") {
    invalid(supervisor("root")
              .auto_shutdown(auto_shutdown::any_significant)
              .child(f.probed("a").significant(true)));
  }
  SECTION("auto_shutdown never allows no significant child") {
    invalid(supervisor("root").child(
      f.probed("a").restart(restart::transient).significant(true)));
  }
  SECTION("transient and temporary children may be significant") {
    auto sup = f.start(
      supervisor("root")
        .auto_shutdown(auto_shutdown::all_significant)
        .child(f.probed("a").restart(restart::transient).significant(true))
        .child(f.probed("b").restart(restart::temporary).significant(true)));
    stop_supervisor(f.sys, sup);
  }
}

TEST_CASE("any_significant shuts down when one significant child ends",
          "[supervisor][significant]") {
  fixture f;
  log_capture logs;
  SECTION("a transient child that exits normally") {
    auto sup = f.start(
      with_significant(f, auto_shutdown::any_significant, restart::transient));
    f.next_events(3);
    f.exit_child(sup, "s1", caf::exit_reason::normal);
    CHECK(f.exit_reason_of(sup) == f.render(caf::exit_reason::user_shutdown));
    CHECK(logs.reports("auto_shutdown supervisor=root mode=any_significant")
            .size()
          == 1);
  }
  SECTION("a transient child that crashes is restarted instead") {
    auto sup = f.start(
      with_significant(f, auto_shutdown::any_significant, restart::transient));
    f.next_events(3);
    auto s1 = f.actor_of(sup, "s1");
    f.crash(sup, "s1");
    CHECK(f.await_replaced(sup, "s1", s1));
    CHECK(f.children(sup).size() == 3);
    stop_supervisor(f.sys, sup);
  }
  SECTION("a temporary child that crashes") {
    auto sup = f.start(
      with_significant(f, auto_shutdown::any_significant, restart::temporary));
    f.next_events(3);
    f.crash(sup, "s2");
    CHECK(f.exit_reason_of(sup) == f.render(caf::exit_reason::user_shutdown));
  }
}

TEST_CASE("all_significant shuts down when the last significant child ends",
          "[supervisor][significant]") {
  fixture f;
  auto sup = f.start(
    with_significant(f, auto_shutdown::all_significant, restart::transient));
  f.next_events(3);
  auto s1 = f.actor_of(sup, "s1");
  f.exit_child(sup, "s1", caf::exit_reason::normal);
  CHECK_FALSE(f.await_replaced(sup, "s1", s1));
  CHECK(f.child(sup, "s1").state == child_state::stopped);
  CHECK(f.child(sup, "s2").state == child_state::running);
  f.exit_child(sup, "s2", caf::exit_reason::normal);
  CHECK(f.exit_reason_of(sup) == f.render(caf::exit_reason::user_shutdown));
}

TEST_CASE("all_significant counts a terminated significant child as ended",
          "[supervisor][significant]") {
  fixture f;
  auto sup = f.start(
    with_significant(f, auto_shutdown::all_significant, restart::transient));
  f.next_events(3);
  REQUIRE_FALSE(terminate_child(f.sys, sup, "s1"));
  CHECK(f.child(sup, "a").state == child_state::running);
  f.exit_child(sup, "s2", caf::exit_reason::normal);
  CHECK(f.exit_reason_of(sup) == f.render(caf::exit_reason::user_shutdown));
}

TEST_CASE("children the supervisor stops never trigger auto shutdown",
          "[supervisor][significant]") {
  fixture f;
  SECTION("terminate_child") {
    auto sup = f.start(
      with_significant(f, auto_shutdown::any_significant, restart::transient));
    f.next_events(3);
    REQUIRE_FALSE(terminate_child(f.sys, sup, "s1"));
    CHECK(f.child(sup, "s2").state == child_state::running);
    CHECK(count_children(f.sys, sup)->active == 2);
    stop_supervisor(f.sys, sup);
  }
  SECTION("a sibling's restart stops a temporary significant bystander") {
    auto sup = f.start(supervisor("root")
                         .strategy(strategy::one_for_all)
                         .auto_shutdown(auto_shutdown::any_significant)
                         .intensity(10)
                         .child(f.probed("a"))
                         .child(f.probed("t")
                                  .restart(restart::temporary)
                                  .significant(true)));
    f.next_events(2);
    auto a = f.actor_of(sup, "a");
    f.crash(sup, "a");
    f.await_replaced(sup, "a", a);
    // t was stopped by the restart and dropped, as OTP drops temporary
    // bystanders; the supervisor goes on.
    auto kids = f.children(sup);
    REQUIRE(kids.size() == 1);
    CHECK(kids[0].id == "a");
    stop_supervisor(f.sys, sup);
  }
}

TEST_CASE("a supervisor that shut down automatically is not restarted by a "
          "transient parent entry",
          "[supervisor][significant]") {
  fixture f;
  auto sup = f.start(
    supervisor("root")
      .auto_shutdown(auto_shutdown::any_significant)
      .child(f.probed("a"))
      .child(supervisor("job")
               .auto_shutdown(auto_shutdown::any_significant)
               .child(f.probed("step").restart(restart::transient).significant(true))
               .as_child()
               .restart(restart::transient)
               .significant(true)));
  f.next_events(2);
  auto job = f.actor_of(sup, "job");
  auto step = lookup(f.sys, sup, "root/job/step");
  REQUIRE(step);
  f.probe->send(*step, quit_atom::value, caf::error{caf::exit_reason::normal});
  // job shuts down, which ends root too: the shutdown travels up the tree.
  CHECK(f.exit_reason_of(sup) == f.render(caf::exit_reason::user_shutdown));
  CHECK(f.exit_reason_of(job) == f.render(caf::exit_reason::user_shutdown));
}
