#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

TEST_CASE("escalation climbs three levels until a supervisor can absorb it",
          "[supervisor][escalation]") {
  fixture f;
  // root (intensity 1) -> mid (intensity 0) -> leaf (intensity 0) -> w
  auto sup = f.start(
    supervisor("root").intensity(1).period(std::chrono::hours(1))
      .child(supervisor("mid").intensity(0)
               .child(supervisor("leaf").intensity(0).child(f.probed("w"))))
      .child(f.probed("bystander")));
  CHECK(f.next_events(2)
        == std::vector<std::string>{"started:w", "started:bystander"});
  auto mid = f.actor_of(sup, "mid");
  auto leaf = f.actor_of(mid, "leaf");
  f.crash(leaf, "w");
  // leaf gives up, so does mid; root restarts mid, which starts leaf and w.
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:w", "started:w"});
  auto mid_info = f.child(sup, "mid");
  CHECK(mid_info.state == child_state::running);
  CHECK(mid_info.actor != mid);
  CHECK(mid_info.restart_count == 1);
  CHECK_THAT(mid_info.last_exit_reason,
             Catch::StartsWith(
               "trellis::errc::reached_max_restart_intensity: root/mid, leaf, "
               "trellis::errc::reached_max_restart_intensity: root/mid/leaf, "
               "w, trellis::errc::unhandled_exception: std::runtime_error, "
               "boom from w"));
  CHECK(f.child(sup, "bystander").restart_count == 0);
  SECTION("a second failure exhausts root, which exits with the whole chain") {
    f.crash(f.actor_of(f.actor_of(sup, "mid"), "leaf"), "w");
    CHECK(f.next_events(2)
          == std::vector<std::string>{"stopped:w", "stopped:bystander"});
    auto reason = f.exit_reason_of(sup);
    CHECK_THAT(reason,
               Catch::StartsWith(
                 "trellis::errc::reached_max_restart_intensity: root, mid, "
                 "trellis::errc::reached_max_restart_intensity: root/mid, leaf")
                 && Catch::Contains("boom from w"));
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("an escalation keeps its causes as values, which cause_of walks "
          "down to the crash",
          "[supervisor][escalation]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(0).child(
    supervisor("mid").intensity(0).child(f.probed("w"))));
  CHECK(f.next_event() == "started:w");
  f.crash(f.actor_of(sup, "mid"), "w");
  auto reason = await_exit(f.sys, sup);
  INFO(f.sys.render(reason));
  REQUIRE(is(reason, errc::reached_max_restart_intensity));
  auto mid_exit = cause_of(reason);
  REQUIRE(is(mid_exit, errc::reached_max_restart_intensity));
  CHECK(mid_exit.context().get_as<std::string>(0) == "root/mid");
  auto crash = cause_of(mid_exit);
  REQUIRE(is(crash, errc::unhandled_exception));
  CHECK(crash_details_of(crash)->what == "boom from w");
  CHECK_FALSE(cause_of(crash));
  CHECK_FALSE(cause_of(caf::error{}));
}
