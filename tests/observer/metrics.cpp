// The observer's parts alone: its event counters and the Prometheus text.

#include <catch2/catch.hpp>

#include "observer_hub.hpp"
#include "observer_metrics.hpp"
#include "trellis/actors/alarm.hpp"

using namespace trellis;
using namespace trellis::detail;
using namespace std::chrono_literals;

namespace {

lifecycle_event event(lifecycle_kind kind, std::string path, std::string id) {
  lifecycle_event ev;
  ev.kind = kind;
  ev.path = std::move(path);
  ev.id = std::move(id);
  return ev;
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("the observer's hub counts events and hands them to streams",
          "[observer]") {
  observer_hub hub{2};
  uint64_t seq = 0;
  hub.publish(event(lifecycle_kind::child_exited, "root/a", "a"), "boom",
              "trellis::errc::unhandled_exception");
  hub.publish(event(lifecycle_kind::child_restarted, "root/a", "a"), "", "");
  hub.publish(event(lifecycle_kind::child_exited, "root/b", "b"),
              "exit_reason::user_shutdown", "");
  hub.publish(event(alarm_set, "root", "mailbox"), "", "");
  hub.publish(event(lifecycle_kind::restart_given_up, "root", "a"), "", "");
  auto c = hub.counters();
  CHECK(c.restarts.at("root/a") == 1);
  CHECK(c.crashes.size() == 1);
  CHECK(c.crashes.at({"root/a", "trellis::errc::unhandled_exception"}) == 1);
  CHECK(c.escalations.at("root") == 1);
  CHECK(c.alarms_open.at({"root", "mailbox"}));
  CHECK(c.events.at("child_exited") == 2);
  // A new stream starts with the open alarm and after the last event.
  uint64_t from = 0;
  observer_counters now;
  auto open = hub.subscribe(from, 0, now);
  REQUIRE(open.size() == 1);
  CHECK(open[0].kind == "alarm_set");
  CHECK(from == 5);
  CHECK(counters_json(now, from)
        == R"({"restarts":1,"crashes":1,"escalations":1,"seq":5})");
  // With the recent events: the log's last two, the open alarm among them
  // once.
  auto recent = hub.subscribe(from, 10, now);
  REQUIRE(recent.size() == 2);
  CHECK(recent[0].seq == 4);
  CHECK(recent[1].kind == "restart_given_up");
  // A slow reader gets what the log still holds: the last two.
  auto entries = hub.wait(seq, 0s);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].kind == "alarm_set");
  CHECK(entries[1].kind == "restart_given_up");
  CHECK(seq == 5);
  CHECK(hub.wait(seq, 1ms).empty());
  hub.stop();
  CHECK(hub.wait(seq, 1h).empty()); // Returns at once once stopped.
}

TEST_CASE("an event renders as JSON for its stream", "[observer]") {
  auto ev = event(alarm_set, "root/a", "q\"1");
  ev.detail = "metric=mailbox_depth value=3";
  ev.restart_count = 2;
  auto json = event_json(ev, "why\n", false);
  CHECK(json.rfind(R"({"kind":"alarm_set","path":"root/a","id":"q\"1",)"
                   R"("reason":"why\n","crash":false,"restart_count":2,)"
                   R"("detail":"metric=mailbox_depth value=3","time_ms":)",
                   0)
        == 0);
}

TEST_CASE("metrics render in Prometheus' text format", "[observer]") {
  CHECK(escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  tree_snapshot root;
  root.path = "root";
  root.id = "root";
  root.type = child_type::supervisor;
  root.state = child_state::running;
  root.intensity = 3;
  root.restarts_left = 1;
  root.uptime = 2500ms;
  tree_snapshot child;
  child.path = "root/we\"ird";
  child.id = "we\"ird";
  child.state = child_state::restarting;
  root.children.push_back(child);
  metrics_input in;
  in.tree = &root;
  in.counters.crashes[{"root/we\"ird", "trellis::errc::hung"}] = 2;
  in.counters.alarms_open[{"root", "mailbox"}] = false;
  in.mailbox_depths["root"] = 7;
  in.event_streams = 1;
  auto text = render_metrics(in);
  CHECK(has(text, "# HELP trellis_up "));
  CHECK(has(text, "# TYPE trellis_up gauge\ntrellis_up 1\n"));
  CHECK(has(text, "# TYPE trellis_crashes_total counter\n"
                  "trellis_crashes_total{path=\"root/we\\\"ird\","
                  "reason=\"trellis::errc::hung\"} 2\n"));
  CHECK(has(text, "trellis_alarm_active{path=\"root\",alarm=\"mailbox\"} 0\n"));
  CHECK(has(text, "trellis_children{path=\"root\",state=\"running\"} 0\n"
                  "trellis_children{path=\"root\",state=\"restarting\"} 1\n"
                  "trellis_children{path=\"root\",state=\"stopped\"} 0\n"));
  CHECK(has(text, "trellis_uptime_seconds{path=\"root\"} 2.500\n"));
  CHECK_FALSE(has(text, "trellis_uptime_seconds{path=\"root/we"));
  CHECK(has(text, "trellis_restart_intensity{path=\"root\"} 3\n"));
  CHECK(has(text, "trellis_restart_budget_remaining{path=\"root\"} 1\n"));
  CHECK(has(text, "trellis_mailbox_depth{path=\"root\"} 7\n"));
  CHECK(has(text, "trellis_observer_event_streams 1\n"));
  SECTION("without a tree") {
    in.tree = nullptr;
    auto down = render_metrics(in);
    CHECK(has(down, "trellis_up 0\n"));
    CHECK_FALSE(has(down, "trellis_children{"));
  }
}

TEST_CASE("series_path folds dynamic children's ids into their template's",
          "[observer]") {
  CHECK(series_path("root") == "root");
  CHECK(series_path("root/jobs/job#17") == "root/jobs/job#*");
  CHECK(series_path("root/pool/w#3/sub/x#12") == "root/pool/w#*/sub/x#*");
  // Only a number after the last '#' is an incarnation's id.
  CHECK(series_path("root/a#b") == "root/a#b");
  CHECK(series_path("root/a#") == "root/a#");
  CHECK(series_path("root/#7") == "root/#*");
  CHECK(series_path("") == "");
}
