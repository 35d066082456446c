// The observer's endpoints, driven by a real HTTP client (cpp-httplib's).

#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include <httplib.h>

#include "json_reader.hpp"
#include "observer_crashes.hpp"
#include "observer_sys.hpp"
#include "parser_child.hpp"
#include "test_support.hpp"
#include "trellis/observer/observer.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

const std::string token = "s3cret";

/// root (one_for_one, 5 restarts an hour)
///   a, b       workers
///   db         supervisor with worker c
///   jobs       dynamic supervisor, no children at first
supervisor_spec small_tree(fixture& f) {
  return supervisor("root")
    .intensity(5)
    .period(std::chrono::hours(1))
    .child(f.probed("a"))
    .child(f.probed("b"))
    .child(supervisor("db").child(f.probed("c")))
    .child(dynamic_supervisor("jobs", f.probed("job")));
}

struct observed {
  fixture f;
  caf::actor sup;
  observer obs;
  httplib::Client cli;

  /// Observes the tree `make` builds, once its `probed` children started.
  explicit observed(
    const std::function<supervisor_spec(fixture&)>& make = small_tree,
    size_t probed = 3, caf::timespan request_timeout = 5s)
    : sup(f.start(make(f))),
      obs(start(f, sup, probed, request_timeout)),
      cli("127.0.0.1", obs.port()) {
    cli.set_read_timeout(20, 0);
  }

  static observer start(fixture& f, const caf::actor& sup, size_t probed,
                        caf::timespan request_timeout) {
    f.next_events(probed);
    observer_config cfg;
    cfg.operator_token = token;
    cfg.keep_alive = 100ms;
    cfg.request_timeout = request_timeout;
    auto res = start_observer(f.sys, sup, cfg);
    REQUIRE(res);
    return std::move(*res);
  }

  ~observed() {
    obs.stop();
    stop_supervisor(f.sys, sup);
  }

  std::string get(const std::string& path, int status = 200) {
    auto res = cli.Get(path.c_str());
    REQUIRE(res);
    INFO(res->body);
    CHECK(res->status == status);
    return res->body;
  }

  httplib::Result post(const std::string& path, const std::string& auth) {
    httplib::Headers headers;
    if (!auth.empty())
      headers.emplace("Authorization", auth);
    return cli.Post(path.c_str(), headers, "", "text/plain");
  }

  /// POSTs with the operator's token, checks the status and returns the body.
  std::string control(const std::string& path, int status) {
    auto res = post(path, "Bearer " + token);
    REQUIRE(res);
    INFO(path << ": " << res->body);
    CHECK(res->status == status);
    return res->body;
  }

  /// Polls /metrics until it has `line`; metrics follow events a moment
  /// after they happen.
  std::string await_metric(const std::string& line) {
    std::string body;
    for (int i = 0; i < 2000; ++i) {
      body = get("/metrics");
      if (body.find(line) != std::string::npos)
        return body;
      std::this_thread::sleep_for(10ms);
    }
    INFO(body);
    FAIL("no metric line " << line);
    return body;
  }

  child_state state_of(const std::string& path) {
    auto snap = snapshot(f.sys, sup);
    REQUIRE(snap);
    auto node = find(*snap, path);
    REQUIRE(node != nullptr);
    return node->state;
  }
};

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// -- a child that crashes on what it cannot parse -----------------------------

/// root (one_for_one, 10 restarts an hour)
///   parser     keeps its last 3 messages, dumps its state
///   a          worker
///   db         supervisor with worker c
supervisor_spec crashing_tree(fixture& f) {
  return supervisor("root")
    .intensity(10)
    .period(std::chrono::hours(1))
    .child(worker("parser", parser)
             .keep_last_messages(3)
             .on_crash_dump([](caf::stateful_actor<parser_state>* self) {
               return "parsed=" + std::to_string(self->state.parsed)
                      + " last=" + self->state.last;
             }))
    .child(f.probed("a"))
    .child(supervisor("db").child(f.probed("c")));
}

/// Sends `text` to the parser and waits for its answer or its crash.
void parse(observed& o, const std::string& text) {
  auto hdl = o.f.actor_of(o.sup, "parser");
  REQUIRE(hdl);
  bool answered = false;
  o.f.probe->request(hdl, patience, text)
    .receive([&](int32_t) { answered = true; },
             [&](caf::error&) { answered = true; });
  REQUIRE(answered);
  if (text.compare(0, 3, "bad") == 0)
    o.f.await_replaced(o.sup, "parser", hdl);
}

/// GETs `path`, checks the status and that the body is JSON, and returns it.
json_value get_json(observed& o, const std::string& path, int status = 200) {
  auto body = o.get(path, status);
  auto x = parse_json(body);
  INFO(body);
  REQUIRE(x);
  return std::move(*x);
}

} // namespace

TEST_CASE("the observer serves its page and the tree as JSON", "[observer]") {
  observed o;
  auto res = o.cli.Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(has(res->get_header_value("Content-Type"), "text/html"));
  CHECK(has(res->body, "<title>Trellis observer</title>"));
  auto tree = o.cli.Get("/api/tree");
  REQUIRE(tree);
  CHECK(tree->status == 200);
  CHECK(has(tree->get_header_value("Content-Type"), "application/json"));
  CHECK(has(tree->body, R"("path":"root/db/c")"));
  CHECK(has(tree->body, R"("intensity":5,"restarts_left":5)"));
  CHECK(o.obs.url()
        == "http://127.0.0.1:" + std::to_string(o.obs.port()) + "/");
  // Brotli at httplib's quality takes seconds for a large tree: gzip only.
  auto zipped = o.cli.Get("/api/tree", {{"Accept-Encoding", "br, gzip"}});
  REQUIRE(zipped);
  CHECK(zipped->get_header_value("Content-Encoding") == "gzip");
  CHECK(has(zipped->body, R"("path":"root/db/c")"));
  o.get("/nope", 404);
}

TEST_CASE("the observer's metrics count restarts, crashes and budgets",
          "[observer]") {
  observed o;
  auto before = o.get("/metrics");
  for (auto family :
       {"trellis_up", "trellis_restarts_total", "trellis_crashes_total",
        "trellis_escalations_total", "trellis_alarms_raised_total",
        "trellis_alarm_active", "trellis_children", "trellis_uptime_seconds",
        "trellis_restart_intensity", "trellis_restart_budget_remaining",
        "trellis_mailbox_depth", "trellis_observer_event_streams"}) {
    INFO(family);
    CHECK(has(before, std::string{"# HELP "} + family + ' '));
    CHECK(has(before, std::string{"# TYPE "} + family + ' '));
  }
  CHECK(has(before, "trellis_up 1\n"));
  CHECK(has(before, "trellis_children{path=\"root\",state=\"running\"} 4\n"));
  CHECK(has(before,
            "trellis_children{path=\"root/db\",state=\"running\"} 1\n"));
  CHECK(has(before, "trellis_restart_budget_remaining{path=\"root\"} 5\n"));
  CHECK(has(before, "trellis_mailbox_depth{path=\"root/a\"} "));
  CHECK(has(before, "trellis_uptime_seconds{path=\"root/db/c\"} "));
  auto a = o.f.actor_of(o.sup, "a");
  o.f.crash(o.sup, "a");
  o.f.await_replaced(o.sup, "a", a);
  auto after = o.await_metric("trellis_restarts_total{path=\"root/a\"} 1\n");
  CHECK(has(after, "trellis_crashes_total{path=\"root/a\",reason=\""
                   "trellis::errc::unhandled_exception\"} 1\n"));
  CHECK(has(after, "trellis_restart_budget_remaining{path=\"root\"} 4\n"));
  CHECK(has(after,
            "trellis_lifecycle_events_total{kind=\"child_restarted\"} 1\n"));
}

TEST_CASE("the observer streams lifecycle events as Server-Sent Events",
          "[observer]") {
  observed o;
  std::string stream;
  // The client ends the stream itself (Canceled) once it saw the restart;
  // a silent server would end it by the read timeout instead (Read).
  std::promise<httplib::Error> outcome;
  std::thread client{[&] {
    httplib::Client cli{"127.0.0.1", o.obs.port()};
    cli.set_read_timeout(20, 0);
    auto res = cli.Get("/api/events", [&](const char* data, size_t size) {
      stream.append(data, size);
      // Until the restart's event is complete.
      auto at = stream.find("event: child_restarted\n");
      return at == std::string::npos
             || stream.find("\n\n", at) == std::string::npos;
    });
    outcome.set_value(res.error());
  }};
  o.await_metric("trellis_observer_event_streams 1\n");
  o.f.crash(o.sup, "b");
  auto ended = outcome.get_future();
  client.join();
  REQUIRE(ended.wait_for(0s) == std::future_status::ready);
  CHECK(ended.get() == httplib::Error::Canceled);
  CHECK(has(stream, "retry: 1000\n"));
  CHECK(has(stream, "event: child_restarted\ndata: {\"kind\":\"child_restarted\","
                    "\"path\":\"root/b\",\"id\":\"b\""));
  CHECK(has(stream, "event: child_exited\ndata: {\"kind\":\"child_exited\","
                    "\"path\":\"root/b\",\"id\":\"b\",\"reason\":\""));
  CHECK(has(stream, "\"crash\":true"));
  CHECK(has(stream, "boom from b"));
  // The stream's thread is released once the client left.
  o.await_metric("trellis_observer_event_streams 0\n");
}

TEST_CASE("the observer restarts and terminates children for an operator",
          "[observer]") {
  observed o;
  SECTION("only with the right token") {
    auto missing = o.post("/api/restart?path=root/a", "");
    REQUIRE(missing);
    CHECK(missing->status == 401);
    CHECK(missing->get_header_value("WWW-Authenticate") == "Bearer");
    auto wrong = o.post("/api/restart?path=root/a", "Bearer nope");
    REQUIRE(wrong);
    CHECK(wrong->status == 403);
    CHECK(has(wrong->body, "wrong operator token"));
    CHECK(o.state_of("root/a") == child_state::running);
  }
  SECTION("only by POST") {
    auto res = o.cli.Get("/api/terminate?path=root/a");
    REQUIRE(res);
    CHECK(res->status == 405);
    CHECK(res->get_header_value("Allow") == "POST");
    o.control("/metrics", 405);
  }
  SECTION("naming unknown paths") {
    CHECK(has(o.control("/api/terminate?path=root/nope", 404), "nope"));
    CHECK(has(o.control("/api/restart?path=root/zzz/c", 404),
              "no supervisor root/zzz"));
    o.control("/api/restart?path=root", 400);
  }
  SECTION("terminate, then restart") {
    o.control("/api/terminate?path=root/db/c", 200);
    CHECK(o.state_of("root/db/c") == child_state::stopped);
    o.control("/api/restart?path=root/db/c", 200);
    CHECK(o.state_of("root/db/c") == child_state::running);
  }
  SECTION("not what OTP allows") {
    auto jobs = lookup(o.f.sys, o.sup, "root/jobs");
    REQUIRE(jobs);
    REQUIRE(start_child(o.f.sys, *jobs, caf::make_message()));
    CHECK(has(o.control("/api/restart?path=root/jobs/job%231", 409),
              "not_supported"));
    o.control("/api/terminate?path=root/jobs/job%231", 200);
  }
  SECTION("restart a running child") {
    auto a = o.f.actor_of(o.sup, "a");
    CHECK(has(o.control("/api/restart?path=root/a", 200),
              R"("action":"restart")"));
    auto fresh = o.f.actor_of(o.sup, "a");
    CHECK(fresh);
    CHECK(fresh != a);
  }
}

TEST_CASE("the observer's control endpoints are off without a token",
          "[observer]") {
  fixture f;
  auto sup = f.start(small_tree(f));
  f.next_events(3);
  auto obs = start_observer(f.sys, sup);
  REQUIRE(obs);
  httplib::Client cli{"127.0.0.1", obs->port()};
  auto res = cli.Post("/api/terminate?path=root/a", httplib::Headers{
                        {"Authorization", "Bearer "}}, "", "text/plain");
  REQUIRE(res);
  CHECK(res->status == 403);
  CHECK(has(res->body, "disabled"));
  obs->stop();
  stop_supervisor(f.sys, sup);
}

TEST_CASE("start_observer listens on loopback unless told otherwise",
          "[observer]") {
  fixture f;
  auto sup = f.start(small_tree(f));
  f.next_events(3);
  SECTION("another address needs allow_remote") {
    observer_config cfg;
    cfg.host = "0.0.0.0";
    auto res = start_observer(f.sys, sup, cfg);
    REQUIRE_FALSE(res);
    CHECK(res.error() == caf::sec::invalid_argument);
    CHECK_THAT(f.render(res.error()), Catch::Contains("allow_remote"));
  }
  SECTION("a port in use is an error") {
    auto first = start_observer(f.sys, sup);
    REQUIRE(first);
    observer_config cfg;
    cfg.port = first->port();
    auto second = start_observer(f.sys, sup, cfg);
    REQUIRE_FALSE(second);
    CHECK(second.error() == caf::sec::cannot_open_port);
  }
  SECTION("an invalid root is an error") {
    auto res = start_observer(f.sys, caf::actor{});
    REQUIRE_FALSE(res);
    CHECK(res.error() == caf::sec::invalid_argument);
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("stopping the observer ends open event streams", "[observer]") {
  observed o;
  std::promise<void> ended;
  auto ended_future = ended.get_future();
  std::thread client{[&] {
    httplib::Client cli{"127.0.0.1", o.obs.port()};
    // Far beyond the bound below, so that only the server can end it in time.
    cli.set_read_timeout(120, 0);
    cli.Get("/api/events", [](const char*, size_t) { return true; });
    ended.set_value();
  }};
  o.await_metric("trellis_observer_event_streams 1\n");
  o.obs.stop();
  auto status = ended_future.wait_for(patience);
  // On failure the join waits out the client's read timeout.
  client.join();
  INFO("waited " << patience.count() << " s for the stream to end");
  CHECK(status == std::future_status::ready);
  o.obs.stop(); // Idempotent.
}

TEST_CASE("the observer bounds its open event streams", "[observer]") {
  fixture f;
  auto sup = f.start(small_tree(f));
  f.next_events(3);
  observer_config cfg;
  cfg.max_event_streams = 1;
  cfg.keep_alive = 100ms;
  auto obs = start_observer(f.sys, sup, cfg);
  REQUIRE(obs);
  std::atomic<bool> opened{false};
  std::thread first{[&] {
    httplib::Client cli{"127.0.0.1", obs->port()};
    cli.set_read_timeout(60, 0);
    cli.Get("/api/events", [&](const char*, size_t) {
      opened = true;
      return true; // Until the observer stops.
    });
  }};
  for (int i = 0; i < 20'000 && !opened; ++i)
    std::this_thread::sleep_for(1ms);
  REQUIRE(opened);
  httplib::Client cli{"127.0.0.1", obs->port()};
  auto second = cli.Get("/api/events");
  REQUIRE(second);
  CHECK(second->status == 503);
  CHECK(has(second->body, "too many event streams"));
  obs->stop();
  first.join();
  stop_supervisor(f.sys, sup);
}

TEST_CASE("the observer serves a child's last crash reports, newest first",
          "[observer][crash_report]") {
  observed o{crashing_tree, 2};
  const std::string hostile = R"(bad "quote" <script>alert(1)</script>)";
  parse(o, "hello");
  parse(o, hostile);
  parse(o, "world");
  parse(o, "bad again");
  auto x = get_json(o, "/api/crashes?path=root/parser");
  CHECK(x["path"].str == "root/parser");
  CHECK(x["supervisor"].str == "root");
  CHECK(x["scope"].str == "child");
  REQUIRE(x["reports"].size() == 2);
  CHECK(x["count"].num == 2);
  auto& newest = x["reports"][0];
  auto& oldest = x["reports"][1];
  SECTION("each names the child, its incarnation and its exception") {
    CHECK(newest["path"].str == "root/parser");
    CHECK(newest["id"].str == "parser");
    CHECK(newest["restart_count"].num == 1);
    CHECK(oldest["restart_count"].num == 0);
    CHECK(newest["time_ms"].num >= oldest["time_ms"].num);
    CHECK(newest["time_ms"].num > 1.7e12);
    CHECK_THAT(newest["time"].str, Catch::EndsWith("Z"));
    CHECK(newest["time"].str.size() == 24); // 2026-12-03T05:01:02.123Z
    CHECK(newest["exception"]["type"].str == "std::invalid_argument");
    CHECK(newest["exception"]["what"].str == "cannot parse bad again");
    CHECK(oldest["exception"]["what"].str == "cannot parse " + hostile);
    CHECK_THAT(newest["reason"].str,
               Catch::Contains("unhandled_exception"));
  }
  SECTION("with the message it crashed on") {
    auto& m = newest["message"];
    CHECK(m["types"].str == "std::string");
    CHECK(m["content"].str == R"(("bad again"))");
    CHECK(m["request"].flag);
    CHECK_THAT(m["sender"].str, Catch::StartsWith("actor #"));
  }
  SECTION("its last messages and its state, as its spec asks") {
    auto& last = oldest["last_messages"];
    REQUIRE(last.size() == 2);
    CHECK(last[0]["content"].str == R"(("hello"))");
    CHECK(newest["last_messages"].size() == 2);
    CHECK(newest["last_messages"][0]["content"].str == R"(("world"))");
    CHECK(oldest["state"].str == "parsed=1 last=hello");
    CHECK(newest["state"].str == "parsed=1 last=world");
    CHECK(newest["state_error"].str.empty());
    // Not captured in this build, or an array of frames.
    auto& trace = newest["trace"];
    CHECK((trace.is_null() || trace.kind == json_value::array));
  }
  SECTION("user data is escaped: valid JSON without markup") {
    auto body = o.get("/api/crashes?path=root/parser");
    CHECK_FALSE(has(body, "<script>"));
    CHECK_FALSE(has(body, "<"));
    CHECK(has(body, R"(bad \"quote\" \u003cscript\u003e)"));
    auto res = o.cli.Get("/api/crashes?path=root/parser");
    REQUIRE(res);
    CHECK(has(res->get_header_value("Content-Type"), "application/json"));
    CHECK(res->get_header_value("X-Content-Type-Options") == "nosniff");
    auto m = oldest["message"]["content"].str;
    CHECK(m == "(\"" + std::string{R"(bad \"quote\" <script>alert(1)</script>)"}
                 + "\")");
  }
}

TEST_CASE("the observer serves a supervisor's children's crash reports",
          "[observer][crash_report]") {
  observed o{crashing_tree, 2};
  SECTION("none yet") {
    auto x = get_json(o, "/api/crashes?path=root/parser");
    CHECK(x["reports"].size() == 0);
    auto db = get_json(o, "/api/crashes?path=root/db");
    CHECK(db["scope"].str == "children");
    CHECK(db["supervisor"].str == "root/db");
    CHECK(db["reports"].size() == 0);
  }
  SECTION("a supervisor's path or none at all: all its children's") {
    parse(o, "bad one");
    auto a = o.f.actor_of(o.sup, "a");
    o.f.crash(o.sup, "a");
    o.f.await_replaced(o.sup, "a", a);
    for (auto path : {"/api/crashes?path=root", "/api/crashes"}) {
      INFO(path);
      auto x = get_json(o, path);
      CHECK(x["path"].str == "root");
      CHECK(x["scope"].str == "children");
      REQUIRE(x["reports"].size() == 2);
      CHECK(x["reports"][0]["path"].str == "root/a");
      CHECK(x["reports"][0]["exception"]["what"].str == "boom from a");
      CHECK(x["reports"][1]["path"].str == "root/parser");
      // No last messages or state were asked of a.
      CHECK(x["reports"][0]["last_messages"].size() == 0);
      CHECK(x["reports"][0]["state"].str.empty());
    }
    // A nested supervisor's child.
    auto c = o.f.actor_of(*lookup(o.f.sys, o.sup, "root/db"), "c");
    o.f.crash(*lookup(o.f.sys, o.sup, "root/db"), "c");
    o.f.await_replaced(*lookup(o.f.sys, o.sup, "root/db"), "c", c);
    auto x = get_json(o, "/api/crashes?path=root/db/c");
    REQUIRE(x["reports"].size() == 1);
    CHECK(x["supervisor"].str == "root/db");
    CHECK(get_json(o, "/api/crashes?path=root/db")["reports"].size() == 1);
  }
}

TEST_CASE("the observer refuses unknown and malformed crash report paths",
          "[observer][crash_report]") {
  observed o{crashing_tree, 2};
  SECTION("an unknown path is 404, naming it") {
    auto x = get_json(o, "/api/crashes?path=root/nope", 404);
    CHECK_THAT(x["error"].str, Catch::Contains("root/nope"));
    get_json(o, "/api/crashes?path=root/zzz/c", 404);
    get_json(o, "/api/crashes?path=elsewhere", 404);
    // A worker has no children.
    get_json(o, "/api/crashes?path=root/a/x", 404);
    auto res = o.cli.Get("/api/crashes?path=root/%3Cimg%3E");
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK_FALSE(has(res->body, "<img>"));
    auto hostile = parse_json(res->body);
    REQUIRE(hostile);
    CHECK_THAT((*hostile)["error"].str, Catch::Contains("root/<img>"));
  }
  SECTION("a malformed or over-long path is 400") {
    for (auto path : {"/api/crashes?path=", "/api/crashes?path=root//a",
                      "/api/crashes?path=/root", "/api/crashes?path=root/",
                      "/api/crashes?path=root%0Aa",
                      "/api/crashes?path=root/%FF"}) {
      INFO(path);
      auto x = get_json(o, path, 400);
      CHECK(x.has("error"));
    }
    auto x = get_json(o, "/api/crashes?path=root/" + std::string(2000, 'x'),
                      400);
    CHECK_THAT(x["error"].str, Catch::Contains("longer than 1024"));
    CHECK(x["error"].str.size() < 200);
  }
  SECTION("only by GET") {
    auto res = o.post("/api/crashes?path=root/a", "");
    REQUIRE(res);
    CHECK(res->status == 405);
    CHECK(res->get_header_value("Allow") == "GET");
  }
}

TEST_CASE("a crash report renders as bounded JSON with its trace",
          "[observer][crash_report]") {
  crash_report x;
  x.path = "root/w";
  x.id = "w";
  x.restart_count = 3;
  x.time = caf::timestamp{std::chrono::milliseconds(1'700'000'000'123)};
  x.message = logged_message{caf::make_message(std::string(100'000, 'm')),
                             "root/api", false};
  const uintptr_t frames[] = {0x401000, 0xdeadbeef};
  x.trace = stack_trace{frames, 2};
  x.state = std::string(100'000, 's');
  auto render = [](const caf::error&) { return std::string{"a reason"}; };
  auto text = trellis::detail::crash_report_json(x, render);
  auto json = parse_json(text);
  REQUIRE(json);
  auto& r = *json;
  CHECK(r["time"].str == "2023-11-14T22:13:20.123Z");
  CHECK(r["time_ms"].num == 1'700'000'000'123.0);
  CHECK(r["exception"].is_null());
  CHECK(r["reason"].str == "a reason");
  CHECK(r["message"]["sender"].str == "root/api");
  CHECK_FALSE(r["message"]["request"].flag);
  CHECK(r["message"]["content"].str.size() <= max_rendered_message + 3);
  CHECK(r["state"].str.size()
        <= trellis::detail::max_rendered_text + 3);
  CHECK_THAT(r["state"].str, Catch::EndsWith("..."));
  REQUIRE(r["trace"].size() == 2);
  auto& frame = r["trace"][1];
  CHECK(frame["address"].str == "0xdeadbeef");
  for (auto key : {"function", "file", "line", "module"})
    CHECK(frame.has(key));
  CHECK(text.size() < 10'000);
  SECTION("paths are checked before the tree is asked") {
    using trellis::detail::malformed_path;
    CHECK_FALSE(malformed_path("root/db/c"));
    CHECK_FALSE(malformed_path("root/sessions/session#42"));
    CHECK(malformed_path(""));
    CHECK(malformed_path("root//c"));
    CHECK(malformed_path(std::string(1025, 'r')));
    CHECK(malformed_path(std::string("root/\x01")));
    CHECK(malformed_path(std::string("root/\xff")));
    CHECK(malformed_path(std::string("root/\xc3")));
    CHECK_FALSE(malformed_path("root/caf\xc3\xa9"));
  }
}

namespace {

/// A worker whose readiness answer an operator flips: `false` makes its
/// health checks fail, `true` makes them pass again.
caf::behavior flipping_worker(caf::event_based_actor*) {
  auto ready = std::make_shared<bool>(true);
  return {
    [ready](readiness_atom) -> caf::result<caf::ok_atom> {
      if (*ready)
        return caf::ok_atom::value;
      return make_error(errc::unhealthy, "told to be unready");
    },
    [ready](bool x) { *ready = x; },
  };
}

/// Polls `path` until its status is `status`; returns the last body.
std::string await_status(httplib::Client& cli, const std::string& path,
                         int status) {
  std::string body;
  for (int i = 0; i < 2000; ++i) {
    auto res = cli.Get(path.c_str());
    REQUIRE(res);
    body = res->body;
    if (res->status == status)
      return body;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("waited for " << path << " to answer " << status << "; last: "
                     << body);
  return body;
}

} // namespace

TEST_CASE("the observer's /livez and /readyz tell an orchestrator whether "
          "to restart the service and whether to send it work",
          "[observer][health]") {
  fixture f;
  auto sup = f.start(
    supervisor("root")
      .child(f.probed("a").needed_for_readiness(true))
      .child(f.probed("b"))
      .child(worker("flip", flipping_worker)
               .needed_for_readiness(true)
               .health_check(health_check{20ms, 1s, 1000}.readiness())));
  f.next_events(2);
  auto obs = start_observer(f.sys, sup);
  REQUIRE(obs);
  httplib::Client cli("127.0.0.1", obs->port());
  cli.set_read_timeout(20, 0);

  auto live = cli.Get("/livez");
  REQUIRE(live);
  CHECK(live->status == 200);
  CHECK(live->body == R"({"status":"live","reasons":[]})");
  CHECK(await_status(cli, "/readyz", 200)
        == R"({"status":"ready","reasons":[]})");
  auto wrong = cli.Post("/readyz", "", "text/plain");
  REQUIRE(wrong);
  CHECK(wrong->status == 405);

  // A child the service needs is down: not ready, and it says which.
  REQUIRE(!terminate_child(f.sys, sup, "a"));
  auto body = await_status(cli, "/readyz", 503);
  CHECK(body.find("root/a is stopped") != std::string::npos);
  CHECK(body.find(R"("status":"not ready")") != std::string::npos);
  // One it does not need is not its business.
  REQUIRE(restart_child(f.sys, sup, "a"));
  await_status(cli, "/readyz", 200);
  REQUIRE(!terminate_child(f.sys, sup, "b"));
  CHECK(cli.Get("/readyz")->status == 200);

  // A needed child that runs but fails its health checks.
  auto flip = f.actor_of(sup, "flip");
  caf::anon_send(flip, false);
  body = await_status(cli, "/readyz", 503);
  CHECK(body.find("root/flip missed") != std::string::npos);
  caf::anon_send(flip, true);
  await_status(cli, "/readyz", 200);
  auto snap = snapshot(f.sys, sup);
  REQUIRE(snap);
  CHECK(to_json(*snap).find(R"("needed_for_readiness":true)")
        != std::string::npos);

  // A shutdown makes the service unready at once, while it still lives.
  coordinated_shutdown sd{f.sys, sup};
  auto during = std::make_shared<std::vector<std::string>>();
  auto port = obs->port();
  REQUIRE(!sd.add_task(shutdown_phase::not_ready, "probe", [during, port] {
    httplib::Client c("127.0.0.1", port);
    for (auto path : {"/readyz", "/livez"})
      if (auto res = c.Get(path))
        during->push_back(std::to_string(res->status) + " " + res->body);
  }));
  CHECK(!sd.run());
  REQUIRE(during->size() == 2);
  CHECK(during->at(0)
        == R"(503 {"status":"not ready","reasons":["shutting down: not_ready"]})");
  CHECK(during->at(1).rfind("200 ", 0) == 0);
  // Once the root ended, neither.
  body = await_status(cli, "/livez", 503);
  CHECK(body.find("the root ended") != std::string::npos);
  body = await_status(cli, "/readyz", 503);
  CHECK(body.find("shutting down: done") != std::string::npos);
  CHECK(body.find("the root ended") != std::string::npos);
}

TEST_CASE("a new event stream starts with the recent events and the "
          "server's counts, and /api/mailboxes has the depths",
          "[observer]") {
  observed o;
  for (int i = 0; i < 2; ++i) {
    auto a = o.f.actor_of(o.sup, "a");
    o.f.crash(o.sup, "a");
    o.f.await_replaced(o.sup, "a", a);
  }
  o.await_metric("trellis_restarts_total{path=\"root/a\"} 2\n");
  // Opened after the crashes, as a page loaded late.
  std::string stream;
  httplib::Client cli{"127.0.0.1", o.obs.port()};
  cli.set_read_timeout(20, 0);
  // Until the second restart's event is complete.
  auto restarts_seen = [&] {
    size_t n = 0;
    for (auto at = stream.find("event: child_restarted\n");
         at != std::string::npos;
         at = stream.find("event: child_restarted\n", at + 1))
      if (stream.find("\n\n", at) != std::string::npos)
        ++n;
    return n;
  };
  auto res = cli.Get("/api/events", [&](const char* data, size_t size) {
    stream.append(data, size);
    return restarts_seen() < 2;
  });
  CHECK(res.error() == httplib::Error::Canceled);
  // The counts first, up to the events that follow them.
  auto counters = stream.find("event: counters\ndata: {\"restarts\":2,"
                              "\"crashes\":2,\"escalations\":0,\"seq\":");
  CHECK(counters != std::string::npos);
  auto first = stream.find("event: child_exited\n");
  auto restarted = stream.find("event: child_restarted\n");
  CHECK(counters < first);
  CHECK(first < restarted);
  CHECK(has(stream, "boom from a"));
  // Depths, as JSON, of every running actor.
  auto depths = o.get("/api/mailboxes");
  auto parsed = parse_json(depths);
  REQUIRE(parsed);
  CHECK(has(depths, "\"root/a\":"));
  CHECK(has(depths, "\"root/db/c\":"));
}

TEST_CASE("dynamic children's metrics add up per template unless per-child "
          "series are asked for",
          "[observer]") {
  for (bool per_child : {false, true}) {
    fixture f;
    auto sup = f.start(
      supervisor("root")
        .intensity(100)
        .child(dynamic_supervisor("jobs", f.probed("job")).intensity(100)));
    auto jobs = lookup(f.sys, sup, "root/jobs");
    REQUIRE(jobs);
    std::vector<caf::actor> started;
    for (int i = 0; i < 3; ++i) {
      auto child = start_child(f.sys, *jobs, caf::make_message());
      REQUIRE(child);
      started.push_back(*child);
    }
    f.next_events(3);
    observer_config cfg;
    cfg.per_dynamic_child_series = per_child;
    auto obs = start_observer(f.sys, sup, cfg);
    REQUIRE(obs);
    httplib::Client cli{"127.0.0.1", obs->port()};
    cli.set_read_timeout(20, 0);
    // Each crashes once: a dynamic child is restarted as the same id.
    for (auto& x : started)
      caf::anon_send(x, crash_atom::value);
    auto depth = per_child ? "trellis_mailbox_depth{path=\"root/jobs/job#2\"} "
                           : "trellis_mailbox_depth{path=\"root/jobs/job#*\"} ";
    std::string metrics;
    for (int i = 0; i < 2000; ++i) {
      auto res = cli.Get("/metrics");
      REQUIRE(res);
      metrics = res->body;
      // The events are counted as they come; the snapshot in the same
      // scrape may be older: wait until it shows all three running again,
      // and their depths (a scrape leaves out an incarnation that ended as
      // it was asked).
      if (has(metrics, "trellis_lifecycle_events_total{kind=\"child_"
                       "restarted\"} 3\n")
          && has(metrics, "trellis_children{path=\"root/jobs\","
                          "state=\"running\"} 3\n")
          && has(metrics, depth))
        break;
      std::this_thread::sleep_for(10ms);
    }
    INFO(metrics);
    if (per_child) {
      CHECK(has(metrics, "trellis_restarts_total{path=\"root/jobs/job#1\"} 1\n"));
      CHECK(has(metrics, depth));
      CHECK(!has(metrics, "job#*"));
    } else {
      CHECK(has(metrics, "trellis_restarts_total{path=\"root/jobs/job#*\"} 3\n"));
      CHECK(has(metrics, "trellis_crashes_total{path=\"root/jobs/job#*\","));
      CHECK(has(metrics, depth));
      CHECK(!has(metrics, "job#1"));
    }
    obs->stop();
    stop_supervisor(f.sys, sup);
  }
}

// -- looking inside a child: /api/sys ------------------------------------------

namespace {

using block_atom = caf::atom_constant<caf::atom("block")>;

struct ledger_state {
  std::vector<int32_t> seen;
};

/// Records the ints it gets, in order, answers a string with its length,
/// and on `block_atom` waits in its handler until `gate` opens.
caf::behavior ledger(caf::stateful_actor<ledger_state>* self,
                     std::shared_future<void> gate) {
  return {
    [self](int32_t x) {
      self->state.seen.push_back(x);
      return x;
    },
    [](const std::string& x) { return static_cast<int32_t>(x.size()); },
    [gate](block_atom) { gate.wait(); },
  };
}

std::string seen_of(caf::stateful_actor<ledger_state>* self) {
  std::string out = "seen=";
  for (size_t i = 0; i < self->state.seen.size(); ++i)
    out += (i > 0 ? "," : "") + std::to_string(self->state.seen[i]);
  return out;
}

/// root (one_for_one)
///   ledger     statistics on, renders its state
///   a          worker: statistics off, no state hook
///   db         supervisor with worker c
/// The ledger's gate opens at the latest when the fixture goes, before
/// the tree stops: a handler that never returns would hold the shutdown.
struct sys_observed {
  std::promise<void> opener;
  std::shared_future<void> gate = opener.get_future().share();
  bool opened = false;
  observed o;

  explicit sys_observed(caf::timespan request_timeout = 5s)
    : o([this](fixture& f) { return tree(f); }, 2, request_timeout) {
    // nop
  }

  ~sys_observed() {
    open_gate();
  }

  supervisor_spec tree(fixture& f) {
    return supervisor("root")
      .child(worker("ledger", ledger, gate)
               .statistics(true)
               .format_state(seen_of))
      .child(f.probed("a"))
      .child(supervisor("db").child(f.probed("c")));
  }

  void open_gate() {
    if (!opened)
      opener.set_value();
    opened = true;
  }

  caf::actor ledger_actor() {
    auto hdl = o.f.actor_of(o.sup, "ledger");
    REQUIRE(hdl);
    return hdl;
  }

  /// Sends `x` to `hdl` as a request and waits for its answer.
  template <class T>
  void call(const caf::actor& hdl, T x) {
    bool answered = false;
    o.f.probe->request(hdl, patience, std::move(x))
      .receive([&](int32_t) { answered = true; },
               [&](caf::error& err) { FAIL(o.f.render(err)); });
    REQUIRE(answered);
  }

  /// Polls `GET /api/sys?path=<path>` until `done` holds for its answer;
  /// fails naming `what` after `patience`.
  json_value await_sys(const std::string& path,
                       const std::function<bool(const json_value&)>& done,
                       const std::string& what) {
    std::string body;
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      auto res = o.cli.Get(("/api/sys?path=" + path).c_str());
      REQUIRE(res);
      body = res->body;
      REQUIRE(res->status == 200);
      auto x = parse_json(body);
      REQUIRE(x);
      if (done(*x))
        return std::move(*x);
      std::this_thread::sleep_for(5ms);
    }
    FAIL("waited " << patience.count() << " s for " << what
                   << "; last answer: " << body);
    return {};
  }

  std::string state_of(const std::string& path) {
    return get_json(o, "/api/sys/state?path=" + path)["state"].str;
  }
};

} // namespace

TEST_CASE("the observer shows a child's statistics, also while its handler "
          "is stuck",
          "[observer][sys]") {
  sys_observed s;
  auto& o = s.o;
  auto hdl = s.ledger_actor();
  auto x = get_json(o, "/api/sys?path=root/ledger");
  CHECK(x["path"].str == "root/ledger");
  CHECK(x["enabled"].flag);
  CHECK_FALSE(x["suspended"].flag);
  CHECK(x["trace"].num == 0);
  CHECK(x["has_format_state"].flag);
  for (int32_t i = 1; i <= 10; ++i)
    s.call(hdl, i);
  x = s.await_sys(
    "root/ledger",
    [](const json_value& y) { return y["messages_handled"].num >= 10; },
    "10 messages handled");
  CHECK(x["collecting"].flag);
  CHECK(x["since_ms"].num > 1.7e12);
  CHECK_THAT(x["since"].str, Catch::EndsWith("Z"));
  CHECK(x["handler_max_ns"].num > 0);
  CHECK(x["handler_p50_ns"].num <= x["handler_p90_ns"].num);
  CHECK(x["handler_p90_ns"].num <= x["handler_p99_ns"].num);
  CHECK(x["handler_p99_ns"].num <= x["handler_max_ns"].num);
  CHECK_FALSE(x["handling"].flag);
  CHECK(x["current_handler_ns"].num == 0);
  CHECK(x["mailbox_depth"].num == 0);
  // Stuck: its handler runs, for ever longer, and what comes waits.
  caf::anon_send(hdl, block_atom::value);
  auto stuck = s.await_sys(
    "root/ledger", [](const json_value& y) { return y["handling"].flag; },
    "the ledger's handler to block");
  auto first = stuck["current_handler_ns"].num;
  caf::anon_send(hdl, int32_t{11});
  caf::anon_send(hdl, int32_t{12});
  auto later = s.await_sys(
    "root/ledger",
    [first](const json_value& y) {
      return y["current_handler_ns"].num > first
             && y["mailbox_depth"].num >= 2;
    },
    "a longer running handler and two messages waiting");
  CHECK(later["handling"].flag);
  CHECK(later["messages_handled"].num == 10);
  s.open_gate();
  auto done = s.await_sys(
    "root/ledger",
    [](const json_value& y) {
      return !y["handling"].flag && y["messages_handled"].num >= 13
             && y["mailbox_depth"].num == 0;
    },
    "the ledger to catch up once released");
  CHECK(done["messages_handled"].num == 13);
  CHECK(s.state_of("root/ledger") == "seen=1,2,3,4,5,6,7,8,9,10,11,12");
}

TEST_CASE("a stuck child's state is 503, saying for how long its handler "
          "has run",
          "[observer][sys]") {
  // A short request timeout: the stuck child is given up on soon.
  sys_observed s{1s};
  auto& o = s.o;
  auto hdl = s.ledger_actor();
  caf::anon_send(hdl, block_atom::value);
  s.await_sys(
    "root/ledger", [](const json_value& y) { return y["handling"].flag; },
    "the ledger's handler to block");
  auto hung = get_json(o, "/api/sys/state?path=root/ledger", 503);
  CHECK_THAT(hung["error"].str, Catch::Contains("trellis::errc::hung"));
  CHECK_THAT(hung["error"].str, Catch::Contains("no answer to get_state"));
  CHECK_THAT(hung["error"].str,
             Catch::Contains("its handler has been running for"));
  s.open_gate();
  s.await_sys(
    "root/ledger", [](const json_value& y) { return !y["handling"].flag; },
    "the released ledger to return");
  CHECK(s.state_of("root/ledger") == "seen=");
}

TEST_CASE("an operator suspends and resumes a child; what it gets meanwhile "
          "waits, in order",
          "[observer][sys]") {
  sys_observed s;
  auto& o = s.o;
  auto hdl = s.ledger_actor();
  // Statistics begin with the child's first message; suspended, it takes
  // none.
  s.call(hdl, int32_t{0});
  CHECK(has(o.control("/api/sys/suspend?path=root/ledger", 200),
            R"({"ok":true,"path":"root/ledger","action":"suspend"})"));
  // Again: no error, as OTP's sys:suspend.
  o.control("/api/sys/suspend?path=root/ledger", 200);
  for (int32_t i = 1; i <= 5; ++i)
    caf::anon_send(hdl, i);
  auto x = s.await_sys(
    "root/ledger",
    [](const json_value& y) { return y["mailbox_depth"].num >= 5; },
    "five messages waiting in the suspended ledger");
  CHECK(x["suspended"].flag);
  CHECK(x["mailbox_depth"].num == 5);
  CHECK(x["messages_handled"].num == 1);
  // System messages still reach it: its state shows that nothing more was
  // handled.
  CHECK(s.state_of("root/ledger") == "seen=0");
  CHECK(has(o.control("/api/sys/resume?path=root/ledger", 200),
            R"("action":"resume")"));
  x = s.await_sys(
    "root/ledger",
    [](const json_value& y) {
      return !y["suspended"].flag && y["messages_handled"].num >= 6;
    },
    "the resumed ledger to handle what waited");
  CHECK(s.state_of("root/ledger") == "seen=0,1,2,3,4,5");
  // Resuming a child that runs is no error either.
  o.control("/api/sys/resume?path=root/ledger", 200);
}

TEST_CASE("the observer switches a child's statistics and trace, and serves "
          "the trace newest first",
          "[observer][sys]") {
  sys_observed s;
  auto& o = s.o;
  SECTION("statistics") {
    auto x = get_json(o, "/api/sys?path=root/a");
    CHECK_FALSE(x["enabled"].flag);
    CHECK_FALSE(x["collecting"].flag);
    CHECK(x["since"].is_null());
    CHECK(x["since_ms"].is_null());
    CHECK_FALSE(x["has_format_state"].flag);
    CHECK(has(o.control("/api/sys/statistics?path=root/a&on=true", 200),
              R"("action":"statistics","on":true})"));
    auto a = o.f.actor_of(o.sup, "a");
    for (int32_t i = 0; i < 3; ++i)
      s.call(a, i);
    s.await_sys(
      "root/a",
      [](const json_value& y) { return y["messages_handled"].num >= 3; },
      "root/a's statistics to count 3 messages");
    o.control("/api/sys/statistics?path=root/a&on=false", 200);
    x = get_json(o, "/api/sys?path=root/a");
    CHECK_FALSE(x["enabled"].flag);
    CHECK(x["messages_handled"].num == 0);
  }
  SECTION("trace") {
    CHECK(has(o.control("/api/sys/trace?path=root/ledger&n=3", 200),
              R"("action":"trace","n":3})"));
    CHECK(get_json(o, "/api/sys?path=root/ledger")["trace"].num == 3);
    auto hdl = s.ledger_actor();
    const std::string hostile = R"x(<img src=x onerror="alert(1)">)x";
    s.call(hdl, int32_t{1});
    s.call(hdl, int32_t{2});
    s.call(hdl, hostile);
    s.call(hdl, int32_t{4});
    auto body = o.get("/api/sys/trace?path=root/ledger");
    CHECK_FALSE(has(body, "<"));
    auto x = parse_json(body);
    REQUIRE(x);
    auto& t = *x;
    CHECK(t["path"].str == "root/ledger");
    CHECK(t["count"].num == 3);
    REQUIRE(t["entries"].size() == 3);
    auto& newest = t["entries"][0];
    CHECK(newest["message"]["content"].str == "(4)");
    CHECK(newest["message"]["types"].str == "int32_t");
    CHECK(newest["message"]["request"].flag);
    CHECK_THAT(newest["message"]["sender"].str, Catch::StartsWith("actor #"));
    CHECK(newest["outcome"].str == "handled");
    CHECK(newest["took_ns"].num >= 0);
    CHECK(newest["at_ms"].num > 1.7e12);
    CHECK_THAT(newest["at"].str, Catch::EndsWith("Z"));
    CHECK(t["entries"][1]["message"]["content"].str
          == "(\"" + std::string{R"x(<img src=x onerror=\"alert(1)\">)x"}
               + "\")");
    CHECK(t["entries"][2]["message"]["content"].str == "(2)");
    CHECK(t["entries"][2]["at_ms"].num <= newest["at_ms"].num);
    // Off: the trace is dropped.
    o.control("/api/sys/trace?path=root/ledger&n=0", 200);
    CHECK(get_json(o, "/api/sys/trace?path=root/ledger")["count"].num == 0);
    CHECK(get_json(o, "/api/sys?path=root/ledger")["trace"].num == 0);
  }
}

TEST_CASE("the observer's sys endpoints refuse bad requests with a reason",
          "[observer][sys]") {
  sys_observed s;
  auto& o = s.o;
  const char* controls[] = {"/api/sys/statistics?path=root/a&on=true",
                            "/api/sys/trace?path=root/a&n=5",
                            "/api/sys/suspend?path=root/a",
                            "/api/sys/resume?path=root/a"};
  SECTION("control needs the operator's token") {
    for (auto path : controls) {
      INFO(path);
      auto missing = o.post(path, "");
      REQUIRE(missing);
      CHECK(missing->status == 401);
      CHECK(missing->get_header_value("WWW-Authenticate") == "Bearer");
      auto wrong = o.post(path, "Bearer nope");
      REQUIRE(wrong);
      CHECK(wrong->status == 403);
    }
    auto x = get_json(o, "/api/sys?path=root/a");
    CHECK_FALSE(x["enabled"].flag);
    CHECK_FALSE(x["suspended"].flag);
    CHECK(x["trace"].num == 0);
  }
  SECTION("each endpoint by its method") {
    for (auto path : controls) {
      INFO(path);
      auto res = has(path, "/trace?") ? o.cli.Put(path, "", "text/plain")
                                      : o.cli.Get(path);
      REQUIRE(res);
      CHECK(res->status == 405);
      CHECK(res->get_header_value("Allow")
            == (has(path, "/trace?") ? "GET, POST" : "POST"));
    }
    for (auto path : {"/api/sys?path=root/a", "/api/sys/state?path=root/a"}) {
      INFO(path);
      auto res = o.post(path, "Bearer " + token);
      REQUIRE(res);
      CHECK(res->status == 405);
      CHECK(res->get_header_value("Allow") == "GET");
    }
    auto res = o.cli.Delete("/api/sys/trace?path=root/a");
    REQUIRE(res);
    CHECK(res->status == 405);
  }
  SECTION("malformed paths and parameters are 400, before the tree is "
          "asked") {
    for (auto path : {"/api/sys", "/api/sys?path=", "/api/sys?path=root",
                      "/api/sys?path=root//a", "/api/sys?path=/root/a",
                      "/api/sys?path=root/a/", "/api/sys/trace?path=root%0Aa",
                      "/api/sys/state?path=root/%FF"}) {
      INFO(path);
      auto x = get_json(o, path, 400);
      CHECK_THAT(x["error"].str, Catch::Contains("expected ?path="));
    }
    for (auto path : {"/api/sys/statistics?path=root/a",
                      "/api/sys/statistics?path=root/a&on=",
                      "/api/sys/statistics?path=root/a&on=maybe",
                      "/api/sys/statistics?path=root/a&on=TRUE"}) {
      auto body = o.control(path, 400);
      CHECK(has(body, "expected on=true or on=false"));
    }
    for (auto path : {"/api/sys/trace?path=root/a",
                      "/api/sys/trace?path=root/a&n=",
                      "/api/sys/trace?path=root/a&n=abc",
                      "/api/sys/trace?path=root/a&n=-1",
                      "/api/sys/trace?path=root/a&n=1e3",
                      "/api/sys/trace?path=root/a&n=99999999999999999999"}) {
      auto x = parse_json(o.control(path, 400));
      REQUIRE(x);
      CHECK((*x)["error"].str
            == "expected n=<messages to trace>, 0 (off) to 10000");
    }
    CHECK(has(o.control("/api/sys/trace?path=root/a&n=10001", 400),
              "at most 10000 messages, not 10001"));
    o.control("/api/sys/trace?path=root/a&n=10000", 200);
    o.control("/api/sys/trace?path=root/a&n=0", 200);
    o.control("/api/sys/suspend?path=root/a/", 400);
  }
  SECTION("unknown children are 404, those that cannot be looked into 409") {
    auto x = get_json(o, "/api/sys?path=root/nope", 404);
    CHECK_THAT(x["error"].str, Catch::Contains("nope"));
    x = get_json(o, "/api/sys/trace?path=root/zzz/a", 404);
    CHECK_THAT(x["error"].str, Catch::Contains("no supervisor root/zzz"));
    x = get_json(o, "/api/sys?path=root/a/x", 404);
    CHECK_THAT(x["error"].str, Catch::Contains("root/a"));
    x = get_json(o, "/api/sys?path=elsewhere/a", 404);
    x = get_json(o, "/api/sys?path=root/%3Cimg%3E", 404);
    CHECK_THAT(x["error"].str, Catch::Contains("<img>"));
    CHECK_FALSE(has(o.get("/api/sys?path=root/%3Cimg%3E", 404), "<"));
    o.control("/api/sys/suspend?path=root/nope", 404);
    // A supervisor has no handler to look into.
    x = get_json(o, "/api/sys?path=root/db", 409);
    CHECK_THAT(x["error"].str, Catch::Contains("not_supported"));
    o.control("/api/sys/suspend?path=root/db", 409);
    // A child without a state hook.
    x = get_json(o, "/api/sys/state?path=root/a", 409);
    CHECK_THAT(x["error"].str, Catch::Contains("format_state"));
    // A stopped child.
    o.control("/api/terminate?path=root/db/c", 200);
    x = get_json(o, "/api/sys?path=root/db/c", 404);
    CHECK_THAT(x["error"].str, Catch::Contains("not running"));
  }
}

TEST_CASE("the sys endpoints' parameters and JSON, alone", "[observer][sys]") {
  using namespace trellis::detail;
  SECTION("on= and n=") {
    CHECK(read_switch("true").value == true);
    CHECK(read_switch("false").value == false);
    for (auto x : {"", "1", "on", "True", "true "}) {
      INFO(x);
      CHECK_FALSE(read_switch(x).value);
      CHECK_FALSE(read_switch(x).error.empty());
    }
    CHECK(read_trace_length("0").value == 0u);
    CHECK(read_trace_length("50").value == 50u);
    CHECK(read_trace_length("10000").value == 10000u);
    CHECK(read_trace_length("00050").value == 50u);
    for (auto x : {"", "-1", "+1", "1.5", "0x10", "10001", "99999", "123456",
                   " 5"}) {
      INFO(x);
      CHECK_FALSE(read_trace_length(x).value);
      CHECK_FALSE(read_trace_length(x).error.empty());
    }
  }
  SECTION("statistics") {
    child_statistics x;
    x.path = "root/<w>";
    auto off = parse_json(statistics_json(x, 0, false));
    REQUIRE(off);
    CHECK((*off)["path"].str == "root/<w>");
    CHECK((*off)["since"].is_null());
    CHECK_FALSE((*off)["has_format_state"].flag);
    x.enabled = x.collecting = x.handling = true;
    x.since = caf::timestamp{std::chrono::milliseconds(1'700'000'000'123)};
    x.messages_handled = 7;
    x.handler_p50 = 1us;
    x.handler_max = 3ms;
    x.current_handler = 2s;
    x.mailbox_depth = 4;
    auto text = statistics_json(x, 50, true);
    CHECK_FALSE(has(text, "<"));
    auto on = parse_json(text);
    REQUIRE(on);
    auto& y = *on;
    CHECK(y["since"].str == "2023-11-14T22:13:20.123Z");
    CHECK(y["since_ms"].num == 1'700'000'000'123.0);
    CHECK(y["messages_handled"].num == 7);
    CHECK(y["handler_p50_ns"].num == 1000);
    CHECK(y["handler_max_ns"].num == 3e6);
    CHECK(y["current_handler_ns"].num == 2e9);
    CHECK(y["mailbox_depth"].num == 4);
    CHECK(y["trace"].num == 50);
    CHECK(y["has_format_state"].flag);
  }
  SECTION("a trace, newest first, each message bounded") {
    std::vector<traced_message> xs;
    for (int i = 0; i < 3; ++i) {
      traced_message m;
      m.at = caf::timestamp{std::chrono::milliseconds(1'700'000'000'000 + i)};
      m.took = std::chrono::microseconds(i);
      m.outcome = i == 2 ? trace_outcome::crashed : trace_outcome::handled;
      m.message = logged_message{
        caf::make_message(std::to_string(i) + std::string(100'000, 'm')),
        "root/api", i == 0};
      xs.push_back(std::move(m));
    }
    auto text = trace_json("root/w", xs);
    CHECK(text.size() < 5 * 1024);
    auto json = parse_json(text);
    REQUIRE(json);
    auto& entries = (*json)["entries"];
    REQUIRE(entries.size() == 3);
    CHECK(entries[0]["outcome"].str == "crashed");
    CHECK(entries[0]["took_ns"].num == 2000);
    CHECK(entries[0]["at"].str == "2023-11-14T22:13:20.002Z");
    CHECK_THAT(entries[0]["message"]["content"].str,
               Catch::StartsWith("(\"2mmm"));
    CHECK(entries[0]["message"]["content"].str.size()
          <= max_rendered_message + 3);
    CHECK(entries[2]["message"]["request"].flag);
    CHECK(entries[2]["message"]["sender"].str == "root/api");
  }
}

TEST_CASE("the observer shows open incidents and paused children",
          "[observer][storm_control]") {
  observed o{[](fixture& f) {
               return supervisor("root")
                 .child(f.probed("a").depends_on("db"))
                 .child(f.probed("b"));
             },
             2};
  CHECK(get_json(o, "/api/incidents").size() == 0);
  REQUIRE_FALSE(report_dependency(o.f.sys, "db", dependency_status::down,
                                  "pool", "refused \"x\""));
  auto a = o.f.actor_of(o.sup, "a");
  o.f.crash(o.sup, "a");
  eventually("a to pause",
             [&] { return o.f.child(o.sup, "a").paused_for == "db"; });
  auto xs = get_json(o, "/api/incidents");
  REQUIRE(xs.size() == 1);
  CHECK(xs[0]["dependency"].str == "db");
  CHECK(xs[0]["state"].str == "waiting");
  CHECK(xs[0]["cause"].str == "reported down by pool: refused \"x\"");
  CHECK(xs[0]["paused"].num == 1);
  CHECK(xs[0]["reported_down_by"].str == "pool");
  CHECK(has(o.get("/api/tree"), R"("id":"a","type":"worker")"));
  CHECK(has(o.get("/api/tree"), R"("paused_for":"db")"));
  auto metrics = o.get("/metrics");
  CHECK(has(metrics, "trellis_paused_children{path=\"root\"} 1\n"));
  CHECK(has(metrics, "trellis_incident_open{dependency=\"db\",incident=\""));
  REQUIRE_FALSE(report_dependency(o.f.sys, "db", dependency_status::up,
                                  "pool"));
  o.f.await_replaced(o.sup, "a", a);
  CHECK(get_json(o, "/api/incidents").size() == 0);
  o.await_metric("trellis_paused_children{path=\"root\"} 0\n");
}
