#pragma once

// Where the observer's connections wait before a thread serves them.
//
// cpp-httplib 0.11 hands each accepted connection to a thread pool with an
// unbounded queue, and the thread then waits for the request: 500 clients
// that connected and sent nothing held every thread in turn, and a health
// probe waited behind them for half a minute. Here a connection waits for
// its first byte without a thread, in a bounded waiting room that one poll
// loop watches; only a connection that sent something is queued for a
// thread, and that queue is bounded too. What exceeds a bound is refused at
// once, at the cost of that connection alone; in the waiting room it is the
// connection that waited longest, so that a flood of silent connections
// cannot keep a newcomer that does send its request out.
//
// Each connection carries the time it was accepted to the thread that
// serves it, and its read deadline counts from then: its time in the
// waiting room and in the queue is part of it. Counted from when a thread
// took it, a client that trickled its request held each thread it got for
// a whole read deadline however long it had waited, and a flood of such
// clients kept the queue full, so that a health probe was refused as busy.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace trellis::detail {

/// Why a connection is closed without being served.
enum class connection_refusal : uint8_t {
  /// It sent nothing within `connection_limits::first_byte_deadline`.
  idle,
  /// The waiting room was full, and it had waited longest.
  evicted,
  /// Every thread was busy and `connection_limits::max_queued` connections
  /// waited for one already.
  busy,
};

/// An accepted connection and when the server accepted it, the time from
/// which its first byte and its whole request are due.
struct accepted_connection {
  int fd = -1;
  std::chrono::steady_clock::time_point accepted;
};

/// What connections may cost before a thread serves them.
struct connection_limits {
  /// Threads that read and answer requests.
  size_t threads = 24;
  /// Connections that sent something and wait for a thread.
  size_t max_queued = 64;
  /// Connections that wait for their first byte, without a thread.
  size_t max_waiting = 256;
  /// Time from accepting a connection to its first byte.
  std::chrono::milliseconds first_byte_deadline{1000};
};

/// Serves accepted connections on `connection_limits::threads` threads,
/// each once it has sent a byte.
class connection_queue {
public:
  /// Reads and answers a connection's request, then closes it.
  using serve_fn = std::function<void(const accepted_connection& x)>;

  /// Tells a connection why it is refused, without blocking; the queue
  /// closes it afterwards.
  using refuse_fn = std::function<void(int fd, connection_refusal why)>;

  connection_queue(connection_limits limits, serve_fn serve, refuse_fn refuse);

  connection_queue(const connection_queue&) = delete;
  connection_queue& operator=(const connection_queue&) = delete;

  /// Stops, see `stop`.
  ~connection_queue();

  /// Starts the poll loop and the threads.
  void start();

  /// Takes a connection the server accepted just now; never blocks. Closes
  /// it at once when the queue does not run.
  void add(int fd);

  /// Closes every connection not yet served, and waits for those being
  /// served to end.
  void stop();

  const connection_limits& limits() const noexcept {
    return limits_;
  }

private:
  using clock_type = std::chrono::steady_clock;

  struct waiting_connection {
    accepted_connection conn;
    /// When it is closed if it sent nothing.
    clock_type::time_point deadline;
  };

  void poll_loop();
  void work();
  /// Queues a connection that sent something, or refuses it as busy.
  void dispatch(const accepted_connection& x);
  void refuse(int fd, connection_refusal why);
  void wake();

  connection_limits limits_;
  serve_fn serve_;
  refuse_fn refuse_;
  std::mutex mtx_;
  std::condition_variable has_work_;
  /// Accepted, not yet watched by the poll loop.
  std::deque<waiting_connection> incoming_;
  /// Sent something, wait for a thread.
  std::deque<accepted_connection> queued_;
  bool running_ = false;
  bool stopping_ = false;
  /// An eventfd that wakes the poll loop for new connections and for stop.
  int wake_fd_ = -1;
  std::thread poller_;
  std::vector<std::thread> workers_;
};

} // namespace trellis::detail
