// The observer's HTTP server and clients that make it wait: a request's read
// deadline counts from when the server accepted its connection, so the time
// it waits for a thread is part of it, and a flood of clients that trickle
// their requests cannot hold every thread and the queue for longer than that.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "observer_server.hpp"
#include "raw_socket.hpp"
#include "test_support.hpp"
#include "trellis/observer/observer.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

/// At most this many connections wait for a thread (docs/observer.md).
constexpr size_t max_queued = 64;

/// An observer with its fewest threads (8: no event streams) and a read
/// timeout of 2 s.
struct observed {
  fixture f;
  caf::actor sup = f.start(supervisor("root").child(f.probed("a")));
  observer_config cfg = config();
  observer obs;
  /// The threads that serve requests (docs/observer.md).
  size_t threads = cfg.max_event_streams + 8;

  observed() : obs(start(f, sup, cfg)) {
    // nop
  }

  ~observed() {
    obs.stop();
    stop_supervisor(f.sys, sup);
  }

  static observer_config config() {
    observer_config result;
    result.max_event_streams = 0;
    result.read_timeout = 2s;
    return result;
  }

  static observer start(fixture& f, const caf::actor& sup,
                        const observer_config& cfg) {
    f.next_events(1);
    auto res = start_observer(f.sys, sup, cfg);
    REQUIRE(res);
    return std::move(*res);
  }
};

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// Whether `answer` refuses with `status` and a JSON body.
bool refused_with(const std::string& answer, const std::string& status) {
  return has(answer, "HTTP/1.1 " + status) && has(answer, "\"error\"");
}

/// Whether `answer` cuts a request off at its read deadline: 408, or
/// httplib's 400 for a head that ended within its headers.
bool timed_out(const std::string& answer) {
  return refused_with(answer, "408") || refused_with(answer, "400");
}

/// A `guarded_http_server` alone, on one thread: `GET /hold` keeps the
/// thread until `release`, `GET /livez` answers at once.
struct held_server {
  std::promise<void> entered;
  std::promise<void> released;
  detail::guarded_http_server server{limits()};
  std::thread listening;
  int port = -1;

  held_server() {
    server.Get("/hold", [this, until = released.get_future().share()](
                          const httplib::Request&, httplib::Response& res) {
      entered.set_value();
      until.wait_for(patience);
      res.set_content("held", "text/plain");
    });
    server.Get("/livez", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("live", "text/plain");
    });
    port = server.bind("127.0.0.1", 0);
    REQUIRE(port > 0);
    listening = std::thread{[this] { server.listen_after_bind(); }};
    eventually("the server to run", [this] { return server.is_running(); });
  }

  ~held_server() {
    release();
    server.stop();
    listening.join();
  }

  static detail::http_limits limits() {
    detail::http_limits result;
    result.read_deadline = 1000ms;
    result.connections.threads = 1;
    result.connections.first_byte_deadline = 1000ms;
    return result;
  }

  void release() {
    try {
      released.set_value();
    } catch (const std::future_error&) {
      // released already
    }
  }
};

/// `n` connections that each send the start of a request head at once, and
/// then a header byte every 100 ms until they are answered: they never send
/// it whole. A connection answered (or closed) sends no more.
class tricklers {
public:
  tricklers(uint16_t port, size_t n) : answers_(n), finished_(n) {
    for (size_t i = 0; i < n; ++i) {
      socks_.emplace_back(port);
      REQUIRE(socks_.back().connected());
      socks_.back().send("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ");
    }
    thread_ = std::thread{[this] { run(); }};
  }

  tricklers(const tricklers&) = delete;
  tricklers& operator=(const tricklers&) = delete;

  ~tricklers() {
    done_ = true;
    if (thread_.joinable())
      thread_.join();
  }

  /// Waits until each is answered and closed, for `patience` at most since
  /// they connected, and returns what each got.
  std::vector<std::string> answers() {
    thread_.join();
    return answers_;
  }

private:
  void run() {
    auto give_up = clock_type::now() + patience;
    size_t left = socks_.size();
    while (left > 0 && !done_ && clock_type::now() < give_up) {
      for (size_t i = 0; i < socks_.size(); ++i) {
        if (finished_[i])
          continue;
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(socks_[i].fd(), buf, sizeof(buf), MSG_DONTWAIT))
               > 0)
          answers_[i].append(buf, static_cast<size_t>(n));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          finished_[i] = true;
          --left;
        } else if (answers_[i].empty()) {
          // Fails once the server closed it; its answer is read above.
          socks_[i].send("z");
        }
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  std::vector<raw_socket> socks_;
  std::vector<std::string> answers_;
  std::vector<bool> finished_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("past its read deadline, a request that waited for a thread is "
          "served if it arrived whole, refused at once if not",
          "[observer]") {
  held_server x;
  raw_socket holder{static_cast<uint16_t>(x.port)};
  REQUIRE(holder.connected());
  holder.send("GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  REQUIRE(x.entered.get_future().wait_for(patience)
          == std::future_status::ready);
  // Both wait behind the only thread, held beyond their deadlines: one sent
  // whole at once, one without the blank line that ends its head.
  raw_socket whole{static_cast<uint16_t>(x.port)};
  REQUIRE(whole.connected());
  whole.send("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  raw_socket partial{static_cast<uint16_t>(x.port)};
  REQUIRE(partial.connected());
  partial.send("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  // Unanswered while the thread is held, for twice their read deadline.
  pollfd p{whole.fd(), POLLIN, 0};
  CHECK(::poll(&p, 1, 2000) == 0);
  x.release();
  auto served = whole.read_until_closed(clock_type::now() + patience);
  INFO(served.substr(0, 300));
  CHECK(has(served, "HTTP/1.1 200"));
  auto refused = partial.read_until_closed(clock_type::now() + patience);
  INFO(refused.substr(0, 300));
  // Its head cut short: 408, or httplib's own bare 400 when it read a part.
  CHECK((timed_out(refused) || has(refused, "HTTP/1.1 400 Bad Request")));
  CHECK(has(holder.read_until_closed(clock_type::now() + patience),
            "HTTP/1.1 200"));
}

TEST_CASE("a request's read deadline counts from accept: one that waited "
          "for a thread gets only what is left of it",
          "[observer]") {
  observed o;
  // Each holds a thread until its read deadline, 2 s after it connected.
  tricklers busy{o.obs.port(), o.threads};
  // Waits behind them, and sends its request whole 3 s after connecting:
  // after its own deadline, and before the one a thread gave it when the
  // deadline counted from taking it (2 s after the first of them ended, at
  // about 4 s).
  raw_socket late{o.obs.port()};
  REQUIRE(late.connected());
  auto connected = clock_type::now();
  late.send("GET /livez HTTP/1.1\r\n");
  pollfd p{late.fd(), POLLIN, 0};
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
    connected + 3s - clock_type::now());
  // Answered already means refused: a closed connection takes no more.
  if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, wait.count())))
      == 0)
    late.send("Host: 127.0.0.1\r\n\r\n");
  auto answer = late.read_until_closed(clock_type::now() + patience);
  INFO(answer.substr(0, 300));
  // Counted from when a thread took it, it was read whole and answered 200.
  CHECK(timed_out(answer));
  for (auto& x : busy.answers()) {
    INFO(x.substr(0, 300));
    CHECK(timed_out(x));
  }
}

TEST_CASE("a health probe is answered soon after tricklers filled every "
          "thread and the queue",
          "[observer]") {
  observed o;
  // More than the threads and the queue take: the rest are refused as busy.
  const size_t n = o.threads + max_queued + 8;
  // Counted from when a thread took them, the queued tricklers held the
  // threads for a read timeout each, a round of them after another, and
  // every probe meanwhile was refused as busy or waited behind them. Half
  // that only proves the probe did not.
  const auto starved = static_cast<long>(1 + max_queued / o.threads)
                       * std::chrono::milliseconds{2000};
  auto t0 = clock_type::now();
  tricklers flood{o.obs.port(), n};
  std::string answer;
  int busy = 0;
  while (!has(answer, "HTTP/1.1 200") && clock_type::now() - t0 < patience) {
    raw_socket probe{o.obs.port()};
    REQUIRE(probe.connected());
    probe.send("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    answer = probe.read_until_closed(clock_type::now() + patience);
    if (has(answer, "HTTP/1.1 200"))
      break;
    // An operator asks again a little later.
    if (refused_with(answer, "503") && has(answer, "busy"))
      ++busy;
    std::this_thread::sleep_for(100ms);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    clock_type::now() - t0);
  WARN(n << " tricklers: /livez answered " << took.count()
         << " ms after they connected, " << busy
         << " probes refused as busy before");
  INFO(answer.substr(0, 300));
  REQUIRE(has(answer, "HTTP/1.1 200"));
  CHECK(took < starved / 2);
  size_t cut_off = 0;
  for (auto& x : flood.answers()) {
    INFO(x.substr(0, 300));
    auto refused = refused_with(x, "503") && has(x, "busy");
    CHECK((timed_out(x) || refused));
    cut_off += timed_out(x) ? 1 : 0;
  }
  CHECK(cut_off >= o.threads);
}
