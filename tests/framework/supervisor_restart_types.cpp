#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

namespace {

/// Runs child `a` of the given restart type next to a sibling, makes it exit
/// with `reason` and returns whether it was restarted.
struct restart_case {
  fixture f;
  caf::actor sup;

  explicit restart_case(restart type) {
    sup = f.start(supervisor("root").intensity(5)
                    .child(f.probed("a").restart(type))
                    .child(f.probed("sibling")));
    f.next_events(2);
  }

  bool restarted_after(caf::error reason) {
    auto old = f.actor_of(sup, "a");
    f.exit_child(sup, "a", std::move(reason));
    REQUIRE(f.next_event() == "stopped:a");
    auto current = f.await_replaced(sup, "a", old);
    if (!current)
      return false;
    CHECK(f.next_event() == "started:a");
    return true;
  }

  ~restart_case() {
    CHECK(f.child(sup, "sibling").restart_count == 0);
    stop_supervisor(f.sys, sup);
  }
};

const caf::error abnormal = caf::sec::runtime_error;

} // namespace

TEST_CASE("a permanent child is restarted after any exit",
          "[supervisor][restart]") {
  SECTION("normal") {
    restart_case t{restart::permanent};
    CHECK(t.restarted_after(caf::exit_reason::normal));
  }
  SECTION("shutdown") {
    restart_case t{restart::permanent};
    CHECK(t.restarted_after(caf::exit_reason::user_shutdown));
  }
  SECTION("abnormal") {
    restart_case t{restart::permanent};
    CHECK(t.restarted_after(abnormal));
  }
}

TEST_CASE("a transient child is restarted only after an abnormal exit",
          "[supervisor][restart]") {
  SECTION("normal: kept in the list, stopped") {
    restart_case t{restart::transient};
    CHECK_FALSE(t.restarted_after(caf::exit_reason::normal));
    auto a = t.f.child(t.sup, "a");
    CHECK(a.id == "a");
    CHECK(a.state == child_state::stopped);
    CHECK(!a.actor);
  }
  SECTION("shutdown") {
    restart_case t{restart::transient};
    CHECK_FALSE(t.restarted_after(caf::exit_reason::user_shutdown));
  }
  SECTION("reached_max_restart_intensity counts as shutdown, as in OTP") {
    restart_case t{restart::transient};
    CHECK_FALSE(
      t.restarted_after(make_error(errc::reached_max_restart_intensity)));
  }
  SECTION("abnormal") {
    restart_case t{restart::transient};
    CHECK(t.restarted_after(abnormal));
  }
}

TEST_CASE("a temporary child is never restarted and leaves the list",
          "[supervisor][restart]") {
  for (auto reason : {caf::error{caf::exit_reason::normal},
                      caf::error{caf::exit_reason::user_shutdown}, abnormal}) {
    restart_case t{restart::temporary};
    CHECK_FALSE(t.restarted_after(reason));
    CHECK(t.f.child(t.sup, "a").id.empty());
    CHECK(t.f.children(t.sup).size() == 1); // only the sibling
  }
}

TEST_CASE("shutdown_reason builds OTP's {shutdown, Term}, which supervisors "
          "treat as a shutdown",
          "[supervisor][restart][shutdown_reason]") {
  auto why = shutdown_reason(std::string{"maintenance"}, int32_t{7});
  CHECK(is_shutdown_reason(why));
  CHECK_FALSE(is_shutdown_reason(caf::exit_reason::user_shutdown));
  CHECK_FALSE(is_shutdown_reason(caf::exit_reason::normal));
  CHECK_FALSE(is_shutdown_reason(make_error(errc::start_failed, "x")));
  CHECK(why == caf::exit_reason::user_shutdown);
  CHECK(is_normal_exit(why));
  CHECK(shutdown_term(why).match_elements<std::string, int32_t>());
  CHECK(shutdown_term(caf::exit_reason::user_shutdown).empty());
  SECTION("a transient child that ends with it is not restarted nor "
          "reported") {
    restart_case t{restart::transient};
    log_capture logs;
    CHECK_FALSE(t.restarted_after(why));
    CHECK(t.f.child(t.sup, "a").state == child_state::stopped);
    CHECK(logs.reports("child_terminated").empty());
  }
  SECTION("a temporary child that ends with it is removed and not "
          "reported") {
    restart_case t{restart::temporary};
    log_capture logs;
    CHECK_FALSE(t.restarted_after(why));
    CHECK(logs.reports("child_terminated").empty());
  }
  SECTION("a permanent child that ends with it is reported and restarted") {
    restart_case t{restart::permanent};
    log_capture logs;
    CHECK(t.restarted_after(why));
    auto lines = logs.reports("child_terminated supervisor=root child=a");
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::Contains("maintenance"));
  }
}
