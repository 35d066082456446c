// Hostile and broken HTTP clients against the observer, which runs inside
// the supervised process: oversized bodies and heads, a foreign Host, and
// clients that trickle their requests. Each case checks that the process's
// memory stays within a stated bound, that an operator's request is still
// answered, and that every offender gets a status with a body saying why.

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "raw_socket.hpp"
#include "test_support.hpp"
#include "trellis/observer/observer.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// The process may grow by this much while it refuses what follows; the
/// bodies announced are 400 MB each.
constexpr long rss_bound_kib = rss_growth_bound_kib;

struct observed {
  fixture f;
  caf::actor sup = f.start(supervisor("root").child(f.probed("a")));
  observer obs;

  observed() : obs(start(f, sup)) {
    // nop
  }

  static observer start(fixture& f, const caf::actor& sup) {
    f.next_events(1);
    observer_config cfg;
    cfg.operator_token = "s3cret";
    cfg.read_timeout = 1s;
    auto res = start_observer(f.sys, sup, cfg);
    REQUIRE(res);
    return std::move(*res);
  }

  ~observed() {
    obs.stop();
    stop_supervisor(f.sys, sup);
  }

  /// Sends `request` on a fresh connection and returns all it answers.
  std::string exchange(const std::string& request);

  /// An operator's GET /api/tree; returns its round trip, or fails.
  std::chrono::milliseconds operator_request() {
    httplib::Client cli{"127.0.0.1", obs.port()};
    cli.set_read_timeout(20, 0);
    cli.set_connection_timeout(20, 0);
    auto t0 = std::chrono::steady_clock::now();
    auto res = cli.Get("/api/tree");
    REQUIRE(res);
    CHECK(res->status == 200);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
  }
};

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// A hostile request is refused at a cost to itself alone: 400 and a
/// short JSON error.
void check_refused(const std::string& path, int code,
                   const std::string& answer) {
  INFO(path.substr(0, 60) << ": " << answer.substr(0, 200));
  CHECK(code == 400);
  CHECK(has(answer, "\"error\""));
  CHECK(answer.size() < 512);
}

/// Sends `request` to `port` on a fresh connection and returns all it
/// answers within `patience`.
std::string o_exchange(uint16_t port, const std::string& request) {
  raw_socket s{port};
  REQUIRE(s.connected());
  s.send(request);
  return s.read_until_closed(std::chrono::steady_clock::now() + patience);
}

std::string observed::exchange(const std::string& request) {
  return o_exchange(obs.port(), request);
}

} // namespace

TEST_CASE("the observer refuses oversized and foreign requests before "
          "reading them, and says why",
          "[adversarial][observer]") {
  observed o;
  auto before = rss_kib(getpid());
  for (int round = 0; round < adversarial_rounds(); ++round) {
    // 400 MB announced, a little sent: refused on the head.
    auto big = o.exchange("POST /api/restart?path=root/a HTTP/1.1\r\n"
                          "Host: 127.0.0.1\r\nContent-Length: 400000000\r\n"
                          "\r\n"
                          + std::string(64 * 1024, 'x'));
    CHECK(has(big, "HTTP/1.1 413"));
    CHECK(has(big, "at most 4096"));
    // A request line of 1 MB, and a header of 1 MB.
    auto line = o.exchange("GET /" + std::string(1 << 20, 'a')
                           + " HTTP/1.1\r\n\r\n");
    CHECK((has(line, "HTTP/1.1 414") || has(line, "HTTP/1.1 431")));
    CHECK(has(line, "\"error\""));
    auto header = o.exchange("GET /api/tree HTTP/1.1\r\nX: "
                             + std::string(1 << 20, 'b') + "\r\n\r\n");
    INFO(header.substr(0, 300));
    CHECK((has(header, "HTTP/1.1 431") || has(header, "HTTP/1.1 400")));
    CHECK(has(header, "\"error\""));
    // DNS rebinding: a page of evil.example asks for the tree.
    auto foreign = o.exchange(
      "GET /api/tree HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n");
    CHECK(has(foreign, "HTTP/1.1 421"));
    CHECK(has(foreign, "not to host 'evil.example'"));
    // A Host of 8 KB: its refusal echoes a part.
    auto long_host = o.exchange("GET /api/tree HTTP/1.1\r\nHost: "
                                + std::string(8000, 'h') + "\r\n\r\n");
    CHECK(has(long_host, "HTTP/1.1 421"));
    CHECK(long_host.size() < 512);
    // Two lengths: where the body ends, and the next request begins, is
    // unknown (RFC 9112, 6.3).
    auto two = o.exchange("POST /api/restart?path=root/a HTTP/1.1\r\n"
                          "Host: 127.0.0.1\r\nContent-Length: 0\r\n"
                          "Content-Length: 5\r\n\r\nhello");
    CHECK(has(two, "HTTP/1.1 400"));
    CHECK(has(two, "Content-Length 0 and 5"));
    // A POST without a body or token, and a malformed request.
    auto bare = o.exchange("POST /api/restart HTTP/1.1\r\nHost: localhost\r\n"
                           "\r\n");
    CHECK(has(bare, "HTTP/1.1 400"));
    CHECK(has(bare, "POST without Content-Length"));
    auto junk = o.exchange("\x16\x03\x01 junk\r\n\r\n");
    CHECK(has(junk, "HTTP/1.1 400"));
    CHECK(has(junk, "\"error\""));
    o.operator_request();
  }
  auto after = rss_kib(getpid());
  WARN("process RSS before " << before << " KiB, after " << after << " KiB");
  CHECK(after - before < rss_bound_kib);
}

TEST_CASE("clients that trickle their requests do not keep operators from "
          "the tree",
          "[adversarial][observer]") {
  observed o;
  auto before = rss_kib(getpid());
  const auto clients = 40;
  std::atomic<bool> done{false};
  std::atomic<int> timed_out{0};
  std::vector<std::thread> slow;
  for (int i = 0; i < clients; ++i)
    slow.emplace_back([&] {
      // One header byte every 200 ms, reconnecting when cut off.
      while (!done) {
        raw_socket s{o.obs.port()};
        std::string req = "GET /api/tree HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ";
        std::string answer;
        for (char c : req + std::string(200, 'z')) {
          if (done || !s.send(std::string(1, c)))
            break;
          pollfd p{s.fd(), POLLIN, 0};
          if (::poll(&p, 1, 200) > 0) {
            char buf[512];
            auto n = ::recv(s.fd(), buf, sizeof(buf), 0);
            if (n > 0)
              answer.append(buf, static_cast<size_t>(n));
            break;
          }
        }
        if (has(answer, "HTTP/1.1 408"))
          ++timed_out;
      }
    });
  std::this_thread::sleep_for(500ms);
  std::chrono::milliseconds slowest{0};
  // Operators ask throughout, and at least until a trickler has been cut
  // off: on a loaded machine the tricklers may start late, so the first
  // 408 comes after the read timeout counted from whenever they got going.
  auto give_up = std::chrono::steady_clock::now() + 30s;
  for (int i = 0; i < 5 * adversarial_rounds()
                  || (timed_out == 0
                      && std::chrono::steady_clock::now() < give_up);
       ++i) {
    slowest = std::max(slowest, o.operator_request());
    std::this_thread::sleep_for(200ms);
  }
  if (timed_out == 0)
    FAIL_CHECK("no trickling client was cut off with 408 within 30 s");
  done = true;
  for (auto& t : slow)
    t.join();
  auto after = rss_kib(getpid());
  WARN(clients << " trickling clients: slowest operator request "
               << slowest.count() << " ms, " << timed_out
               << " clients cut off with 408; RSS before " << before
               << " KiB, after " << after << " KiB");
  CHECK(after - before < rss_bound_kib);
}

TEST_CASE("an event stream's slot frees soon after its client leaves, not "
          "at its next keep-alive",
          "[adversarial][observer]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(f.probed("a")));
  f.next_events(1);
  observer_config cfg;
  cfg.max_event_streams = 4;
  // Far beyond the wait below: only noticing the client left frees a slot.
  cfg.keep_alive = std::chrono::minutes(5);
  auto obs = start_observer(f.sys, sup, cfg);
  REQUIRE(obs);
  const std::string req = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  auto open_stream = [&] {
    raw_socket s{obs->port()};
    s.send(req);
    std::string answer;
    char buf[1024];
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, 20000) > 0) {
      auto n = ::recv(s.fd(), buf, sizeof(buf), 0);
      if (n > 0)
        answer.assign(buf, static_cast<size_t>(n));
    }
    return std::make_pair(std::move(s), answer);
  };
  for (int round = 0; round < adversarial_rounds(); ++round) {
    std::vector<raw_socket> streams;
    for (int i = 0; i < 4; ++i) {
      auto [s, answer] = open_stream();
      REQUIRE(has(answer, "HTTP/1.1 200"));
      streams.push_back(std::move(s));
    }
    CHECK(has(open_stream().second, "HTTP/1.1 503"));
    streams.clear();
    auto t0 = std::chrono::steady_clock::now();
    std::string answer;
    while (!has(answer, "HTTP/1.1 200")
           && std::chrono::steady_clock::now() - t0 < patience) {
      std::this_thread::sleep_for(50ms);
      answer = open_stream().second;
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
    WARN("a stream's slot was free again " << took.count()
                                           << " ms after its client left");
    CHECK(has(answer, "HTTP/1.1 200"));
  }
  obs->stop();
  stop_supervisor(f.sys, sup);
}

namespace {

struct hog_state {
  int fed = 0;
};

/// A child whose crash reports are as large as a user can make them: each
/// message is 1 MB, it keeps its last 8, and its state dump is 10 MB.
caf::behavior hog(caf::stateful_actor<hog_state>* self) {
  return {
    [self](const std::string& text) -> int32_t {
      if (text.compare(0, 3, "bad") == 0)
        throw std::runtime_error(text); // a 1 MB what()
      return ++self->state.fed;
    },
  };
}

} // namespace

TEST_CASE("the crash report endpoint bounds what hostile paths and huge "
          "reports cost",
          "[adversarial][observer]") {
  fixture f;
  // The report sink would write each 11 MB report to the log.
  auto log = spdlog::get(trellis::logger_name);
  REQUIRE(log != nullptr);
  auto level = log->level();
  log->set_level(spdlog::level::off);
  struct restore {
    std::shared_ptr<spdlog::logger> log;
    spdlog::level::level_enum level;
    ~restore() {
      log->set_level(level);
    }
  } restored{log, level};
  auto sup = f.start(supervisor("root")
                       .intensity(1000)
                       .period(std::chrono::hours(1))
                       .child(worker("hog", hog).keep_last_messages(8)
                                .on_crash_dump([](caf::stateful_actor<hog_state>*) {
                                  return std::string(10'000'000, 's');
                                }))
                       .child(f.probed("a")));
  f.next_events(1);
  observer_config cfg;
  cfg.read_timeout = 1s;
  auto obs = start_observer(f.sys, sup, cfg);
  REQUIRE(obs);
  // Three crashes, each after seven messages of 1 MB.
  for (int crash = 0; crash < 3; ++crash) {
    auto hdl = f.actor_of(sup, "hog");
    for (int i = 0; i < 7; ++i)
      f.probe->send(hdl, std::string(1'000'000, 'm'));
    f.probe->send(hdl, "bad" + std::string(1'000'000, 'x'));
    f.await_replaced(sup, "hog", hdl);
  }
  httplib::Client cli{"127.0.0.1", obs->port()};
  cli.set_read_timeout(20, 0);
  auto get = [&](const std::string& path) {
    auto res = cli.Get(path.c_str());
    REQUIRE(res);
    return std::make_pair(res->status, res->body);
  };
  auto before = rss_kib(getpid());
  for (int round = 0; round < adversarial_rounds(); ++round) {
    // 3 reports holding 8 MB of messages each (and a 10 MB state, which
    // the report cuts to 64 KiB): a few KiB each as JSON.
    auto [status, body] = get("/api/crashes?path=root/hog");
    CHECK(status == 200);
    CHECK(has(body, R"("count":3)"));
    CHECK(body.size() < 3 * 32 * 1024);
    // Hostile paths cost their own request: a path just under the request
    // line's limit, bytes that are no path, markup, and names that are not
    // in the tree.
    for (auto path : {"/api/crashes?path=root/" + std::string(8000, 'a'),
                      std::string{"/api/crashes?path=root%00a"},
                      std::string{"/api/crashes?path=root/%C0%AF"},
                      std::string{"/api/crashes?path=%2F%2F%2F"}}) {
      auto [code, answer] = get(path);
      check_refused(path, code, answer);
    }
    auto [code, answer] = get("/api/crashes?path=root/%3Cscript%3Ex%3C/"
                              "script%3E");
    CHECK(code == 404);
    CHECK_FALSE(has(answer, "<script>"));
    for (int i = 0; i < 50; ++i)
      CHECK(get("/api/crashes?path=root/a/b/c/d/" + std::to_string(i)).first
            == 404);
    auto raw = o_exchange(obs->port(), "GET /api/crashes?path=" + std::string(
                            1 << 20, 'p') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK((has(raw, "HTTP/1.1 414") || has(raw, "HTTP/1.1 431")));
  }
  auto after = rss_kib(getpid());
  WARN("crash report requests: RSS before " << before << " KiB, after "
                                            << after << " KiB");
  CHECK(after - before < rss_bound_kib);
  // The tree is still served.
  CHECK(get("/api/tree").first == 200);
  obs->stop();
  stop_supervisor(f.sys, sup);
}

TEST_CASE("the sys endpoints refuse hostile parameters and paths at the "
          "cost of their own request, and bound a trace of huge messages",
          "[adversarial][observer]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .child(worker("hog", hog).statistics(true))
                       .child(f.probed("a")));
  f.next_events(1);
  observer_config cfg;
  cfg.operator_token = "s3cret";
  cfg.read_timeout = 1s;
  auto obs = start_observer(f.sys, sup, cfg);
  REQUIRE(obs);
  httplib::Client cli{"127.0.0.1", obs->port()};
  cli.set_read_timeout(20, 0);
  auto get = [&](const std::string& path) {
    auto res = cli.Get(path.c_str());
    REQUIRE(res);
    return std::make_pair(res->status, res->body);
  };
  auto post = [&](const std::string& path) {
    auto res = cli.Post(path.c_str(),
                        httplib::Headers{{"Authorization", "Bearer s3cret"}},
                        "", "text/plain");
    REQUIRE(res);
    return std::make_pair(res->status, res->body);
  };
  // A trace of 16 messages of 1 MB: each is rendered within 1 KiB.
  CHECK(post("/api/sys/trace?path=root/hog&n=16").first == 200);
  auto hdl = f.actor_of(sup, "hog");
  for (int i = 0; i < 16; ++i)
    f.probe->send(hdl, std::string(1'000'000, 'm'));
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (!has(get("/api/sys?path=root/hog").second, R"("messages_handled":16)")
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  REQUIRE(has(get("/api/sys?path=root/hog").second,
              R"("messages_handled":16)"));
  log_capture logs;
  for (int round = 0; round < adversarial_rounds(); ++round) {
    auto [status, trace] = get("/api/sys/trace?path=root/hog");
    CHECK(status == 200);
    CHECK(has(trace, R"("count":16)"));
    CHECK(trace.size() < 16 * 2 * 1024);
    // Numbers that are none or too large, switches that are no switch,
    // bytes that are no path: 400 before the tree is asked.
    for (auto path :
         {"/api/sys/trace?path=root/hog&n=" + std::string(6000, '9'),
          std::string{"/api/sys/trace?path=root/hog&n=18446744073709551617"},
          std::string{"/api/sys/trace?path=root/hog&n=10001"},
          std::string{"/api/sys/trace?path=root/hog&n=-0"},
          std::string{"/api/sys/trace?path=root/hog&n=1%00"},
          "/api/sys/statistics?path=root/hog&on=" + std::string(6000, 'x'),
          std::string{"/api/sys/statistics?path=root/hog&on=true%00"},
          std::string{"/api/sys/suspend?path=root%00/hog"},
          "/api/sys/suspend?path=root/" + std::string(7000, 'a'),
          std::string{"/api/sys/resume?path=root/%C0%AE%C0%AE/hog"},
          std::string{"/api/sys/resume?path=%2F%2F"}}) {
      auto [code, answer] = post(path);
      check_refused(path, code, answer);
    }
    // Paths that climb or go through a worker name no supervisor: 404,
    // and no worker is sent what it would not understand.
    for (auto path : {"/api/sys?path=root/../hog", "/api/sys?path=../root/hog",
                      "/api/sys?path=root/./hog", "/api/sys?path=root/hog/..",
                      "/api/sys/state?path=root/a/x/y/z",
                      "/api/sys/trace?path=root/a/../../hog",
                      "/api/sys?path=root/%3Cscript%3E"}) {
      auto [code, answer] = get(path);
      INFO(path << ": " << answer.substr(0, 200));
      CHECK(code == 404);
      CHECK_FALSE(has(answer, "<"));
      CHECK(answer.size() < 512);
    }
    CHECK(post("/api/sys/suspend?path=root/hog/..").first == 404);
  }
  CHECK(logs.reports("unexpected_message").empty());
  // The hog was neither switched nor suspended by any of it.
  auto [status, stats] = get("/api/sys?path=root/hog");
  CHECK(status == 200);
  CHECK(has(stats, R"("enabled":true)"));
  CHECK(has(stats, R"("suspended":false,"trace":16)"));
  CHECK(get("/api/tree").first == 200);
  obs->stop();
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a flood of health probes costs only their own requests",
          "[adversarial][observer]") {
  observed o;
  auto before = rss_kib(getpid());
  std::atomic<bool> done{false};
  std::atomic<int> answered{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> flood;
  // Probes with odd methods, query strings and junk headers, as fast as
  // the server answers them, from more clients than it has threads.
  const std::string requests[] = {
    "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "GET /livez?verbose=1&x=%00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "POST /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
    "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + std::string(4000, 'q')
      + "\r\n\r\n",
  };
  for (int i = 0; i < 24; ++i)
    flood.emplace_back([&, i] {
      for (size_t k = 0; !done; ++k) {
        auto answer = o.exchange(requests[(k + static_cast<size_t>(i)) % 4]);
        if (has(answer, "HTTP/1.1 200") || has(answer, "HTTP/1.1 405")
            || has(answer, "HTTP/1.1 503"))
          ++answered;
        else if (!answer.empty()) // a connection refused costs only itself
          ++wrong;
      }
    });
  std::chrono::milliseconds slowest{0};
  for (int i = 0; i < 5 * adversarial_rounds(); ++i) {
    slowest = std::max(slowest, o.operator_request());
    // The tree changes under the probes.
    REQUIRE(!terminate_child(o.f.sys, o.sup, "a"));
    REQUIRE(restart_child(o.f.sys, o.sup, "a"));
    std::this_thread::sleep_for(100ms);
  }
  done = true;
  for (auto& t : flood)
    t.join();
  auto after = rss_kib(getpid());
  WARN("24 probing clients: " << answered << " probes answered, slowest "
                              << "operator request " << slowest.count()
                              << " ms; RSS before " << before
                              << " KiB, after " << after << " KiB");
  CHECK(answered > 0);
  CHECK(wrong == 0);
  CHECK(after - before < rss_bound_kib);
}

TEST_CASE("a Range header cannot multiply an answer: the observer answers "
          "whole, and a malformed one gets a JSON 416",
          "[adversarial][observer]") {
  observed o;
  auto page = o.exchange("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  REQUIRE(has(page, "HTTP/1.1 200"));
  // 8 KB asking for the page 2700 times: httplib built that answer, 92 MB,
  // in memory.
  std::string ranges = "bytes=0-";
  for (int i = 1; i < 2700; ++i)
    ranges += ",0-";
  for (int round = 0; round < adversarial_rounds(); ++round) {
    auto many = o.exchange("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: "
                           + ranges + "\r\n\r\n");
    INFO(many.substr(0, 300));
    CHECK(has(many, "HTTP/1.1 200"));
    CHECK(many.size() < page.size() + 1024);
    // A range beyond the answer is ignored too; it got a 416 with an empty
    // multipart body.
    auto beyond = o.exchange("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Range: bytes=0-1,100000-\r\n\r\n");
    CHECK(has(beyond, "HTTP/1.1 200"));
    CHECK(has(beyond, R"("status":"live")"));
    auto malformed = o.exchange("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Range: bytes=abc\r\n\r\n");
    INFO(malformed);
    CHECK(has(malformed, "HTTP/1.1 416"));
    CHECK(has(malformed, "malformed Range header"));
    CHECK_FALSE(has(malformed, "multipart"));
  }
}

namespace {

/// The observer's threads at the default `max_event_streams`, and how many
/// connections wait for one, or for their first byte (docs/observer.md).
const size_t server_threads = observer_config{}.max_event_streams + 8;
constexpr size_t max_queued = 64;
constexpr size_t max_waiting = 256;

/// Whether `answer` refuses with `status` and a JSON body.
bool refused_with(const std::string& answer, const std::string& status) {
  return has(answer, "HTTP/1.1 " + status) && has(answer, "\"error\"");
}

/// `n` connections to `port`, each having sent `request`.
std::vector<raw_socket> connections(uint16_t port, size_t n,
                                    const std::string& request) {
  std::vector<raw_socket> result;
  for (size_t i = 0; i < n; ++i) {
    result.emplace_back(port);
    REQUIRE(result.back().connected());
    if (!request.empty())
      result.back().send(request);
  }
  return result;
}

/// How many of `xs` got an answer of each kind in `kinds` within
/// `patience`; an answer of no kind fails the test.
std::vector<size_t>
tally(std::vector<raw_socket>& xs,
      const std::vector<std::function<bool(const std::string&)>>& kinds) {
  std::vector<size_t> result(kinds.size());
  auto deadline = std::chrono::steady_clock::now() + patience;
  for (auto& s : xs) {
    auto answer = s.read_until_closed(deadline);
    auto i = std::find_if(kinds.begin(), kinds.end(),
                          [&](auto& kind) { return kind(answer); });
    if (i != kinds.end())
      ++result[static_cast<size_t>(i - kinds.begin())];
    else
      FAIL_CHECK("a connection got '" << answer.substr(0, 200) << "' within "
                                      << patience.count() << " s");
  }
  return result;
}

} // namespace

TEST_CASE("connections that send nothing cost only themselves: a probe is "
          "answered while hundreds wait",
          "[adversarial][observer]") {
  observed o;
  // More than may wait for their first byte: the oldest are closed for
  // newcomers.
  const size_t silent = max_waiting + 44;
  // Each of them held a thread for the read timeout (1 s here) in turn,
  // and the probe waited behind all of them. Half that only proves it
  // did not.
  const auto starved = static_cast<long>(silent / server_threads)
                       * std::chrono::milliseconds{1000};
  // Until it accepts, the kernel holds what it can and drops the rest
  // for a second.
  o.operator_request();
  for (int round = 0; round < adversarial_rounds(); ++round) {
    auto idle = connections(o.obs.port(), silent, "");
    auto t0 = std::chrono::steady_clock::now();
    auto answer = o.exchange("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "\r\n");
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
    WARN(silent << " silent connections: /livez answered in " << took.count()
                << " ms");
    CHECK(has(answer, "HTTP/1.1 200"));
    CHECK(took < starved / 2);
    // Each is told why it is closed: 408 after its first-byte deadline, 503
    // when it waited longest of too many.
    auto counts = tally(
      idle, {[](auto& x) { return refused_with(x, "408"); },
             [](auto& x) {
               return refused_with(x, "503") && has(x, "this one longest");
             }});
    auto timed_out = counts[0];
    auto evicted = counts[1];
    WARN(timed_out << " timed out, " << evicted << " closed for newcomers");
    CHECK(timed_out + evicted == silent);
    CHECK(timed_out > 0);
  }
}

TEST_CASE("requests beyond the threads and their queue are refused at once "
          "with 503, and cost no more",
          "[adversarial][observer]") {
  observed o;
  // Each sends its request line and no more: it holds a thread for the
  // read timeout, or waits for one.
  const size_t slow = server_threads + max_queued + 40;
  for (int round = 0; round < adversarial_rounds(); ++round) {
    auto partial = connections(o.obs.port(), slow, "GET /livez HTTP/1.1\r\n");
    // httplib answers 400 to a head cut off after its request line.
    auto counts = tally(
      partial,
      {[](auto& x) { return refused_with(x, "400") || refused_with(x, "408"); },
       [](auto& x) { return refused_with(x, "503") && has(x, "busy"); }});
    auto timed_out = counts[0];
    auto busy = counts[1];
    WARN(slow << " partial requests: " << busy << " refused as busy, "
              << timed_out << " timed out");
    CHECK(busy > 0);
    CHECK(busy + timed_out == slow);
    o.operator_request();
  }
}
