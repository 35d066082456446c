#include <string_view>

#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

TEST_CASE("supervisors report through spdlog, one line each, with stable "
          "fields",
          "[supervisor][reports]") {
  fixture f;
  log_capture logs;
  auto sup = f.start(supervisor("root").child(
    supervisor("db").intensity(1).period(std::chrono::hours(1))
      .child(f.probed("writer"))));
  f.next_event();
  auto db = f.actor_of(sup, "db");
  auto started = logs.reports("child_started supervisor=root/db child=writer");
  REQUIRE(started.size() == 1);
  CHECK_THAT(started[0], Catch::EndsWith("restart_count=0"));
  f.crash(db, "writer");
  f.next_events(2);
  f.children(db); // wait until the restart is through
  CHECK(logs.reports("child_terminated")
        == std::vector<std::string>{
          "child_terminated supervisor=root/db child=writer "
          "reason=\"trellis::errc::unhandled_exception: std::runtime_error, "
          "boom from writer\" restart_count=0"});
  CHECK(logs.reports("child_started supervisor=root/db child=writer").size()
        == 2);
  f.crash(db, "writer");
  f.next_events(2); // stopped:writer, then root restarts db: started:writer
  auto escalation = logs.reports("reached_max_restart_intensity");
  REQUIRE(escalation.size() == 1);
  CHECK_THAT(escalation[0],
             Catch::StartsWith("reached_max_restart_intensity supervisor=root/db "
                               "child=writer reason=\"trellis::errc::"
                               "unhandled_exception: std::runtime_error, boom "
                               "from writer\" restart_count=1"));
  auto root_terminated = logs.reports("child_terminated supervisor=root child=db");
  REQUIRE(root_terminated.size() == 1);
  CHECK_THAT(root_terminated[0],
             Catch::Contains("reason=\"trellis::errc::reached_max_restart_"
                             "intensity: root/db, writer, "));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a dynamic supervisor writes no progress report for its children, "
          "as OTP's simple_one_for_one",
          "[supervisor][reports][dynamic]") {
  fixture f;
  log_capture logs;
  auto sup = f.start(supervisor("root").child(
    dynamic_supervisor("d", f.probed("session")).intensity(5)));
  auto d = f.actor_of(sup, "d");
  REQUIRE(d);
  for (int i = 0; i < 3; ++i)
    REQUIRE(start_child(f.sys, d, caf::message{}));
  f.next_events(3);
  f.crash(d, "session#2");
  CHECK(f.next_events(2)
        == std::vector<std::string>{"stopped:session", "started:session"});
  f.children(d); // wait until the restart is through
  CHECK(logs.reports("child_started supervisor=root/d").empty());
  CHECK(logs.reports("child_started supervisor=root child=d").size() == 1);
  // Crashes are still reported.
  CHECK(logs.reports("child_terminated supervisor=root/d child=session#2")
          .size()
        == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("restart reports stay within a burst limit and count what they "
          "leave out",
          "[supervisor][reports]") {
  fixture f;
  // Room for every line: a slow run spreads the loop over more windows and
  // writes more of them (each with its crash report).
  log_capture logs{8192};
  // Error reports only: the progress reports of a thousand restarts would
  // push them out of the capture.
  spdlog::get(logger_name)->set_level(spdlog::level::warn);
  // Crashes on the first message it handles, which it sends itself.
  auto loop = worker("loop", [](child_context& ctx) -> start_result {
    return ctx.spawn([](caf::event_based_actor* self) -> caf::behavior {
      self->send(self, caf::ok_atom::value);
      return {[](caf::ok_atom) { throw std::runtime_error("loop"); }};
    });
  });
  f.start(supervisor("hot").intensity(1200).period(std::chrono::hours(1))
            .child(loop));
  eventually("the looping tree to give up", [&] {
    return !logs.reports("reached_max_restart_intensity supervisor=hot")
              .empty();
  });
  auto given_up = logs.reports("reached_max_restart_intensity supervisor=hot");
  CHECK_THAT(given_up[0], Catch::Contains("restart_count=1200"));
  auto written = logs.reports("child_terminated supervisor=hot child=loop");
  // 1,201 crashes, in far less than a second here: at most 500 lines in
  // each one-second window.
  CHECK(written.size() < 1201);
  // The next report, a window later, says how many were left out, as does
  // a line of the loop itself if a window ended within it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto calm = f.start(supervisor("calm").child(f.probed("w")));
  f.next_event();
  f.crash(calm, "w");
  f.next_events(2);
  auto next = logs.reports("child_terminated supervisor=calm child=w");
  REQUIRE(next.size() == 1);
  auto left_out_of = [](const std::string& line) -> size_t {
    constexpr std::string_view key = " restart_reports_left_out=";
    auto at = line.find(key);
    return at == std::string::npos ? 0
                                   : std::stoul(line.substr(at + key.size()));
  };
  size_t left_out = left_out_of(next[0]);
  for (auto& line : written)
    left_out += left_out_of(line);
  CHECK(left_out > 0);
  CHECK(written.size() + left_out == 1201);
  stop_supervisor(f.sys, calm);
}
