#include "observer_connections.hpp"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace trellis::detail {

connection_queue::connection_queue(connection_limits limits, serve_fn serve,
                                   refuse_fn refuse)
  : limits_(limits), serve_(std::move(serve)), refuse_(std::move(refuse)) {
  limits_.threads = std::max<size_t>(1, limits_.threads);
  limits_.max_waiting = std::max<size_t>(1, limits_.max_waiting);
}

connection_queue::~connection_queue() {
  stop();
}

void connection_queue::start() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (running_ || stopping_)
    return;
  // -1 if none is left: the poll loop then wakes by its timeout alone.
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  running_ = true;
  poller_ = std::thread{[this] { poll_loop(); }};
  for (size_t i = 0; i < limits_.threads; ++i)
    workers_.emplace_back([this] { work(); });
}

void connection_queue::add(int fd) {
  // Called on the accepting thread right after the accept: its request's
  // deadlines count from here.
  auto accepted = clock_type::now();
  int evicted = -1;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!running_ || stopping_) {
      ::close(fd);
      return;
    }
    // The poll loop takes these in each round; a burst faster than it
    // costs the oldest of the burst.
    if (incoming_.size() >= limits_.max_waiting) {
      evicted = incoming_.front().conn.fd;
      incoming_.pop_front();
    }
    incoming_.push_back(
      {{fd, accepted}, accepted + limits_.first_byte_deadline});
  }
  if (evicted >= 0)
    refuse(evicted, connection_refusal::evicted);
  wake();
}

void connection_queue::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!running_ || stopping_)
      return;
    stopping_ = true;
  }
  wake();
  has_work_.notify_all();
  poller_.join();
  for (auto& t : workers_)
    t.join();
  // Only this thread runs now.
  for (auto& x : incoming_)
    ::close(x.conn.fd);
  for (auto& x : queued_)
    ::close(x.fd);
  incoming_.clear();
  queued_.clear();
  if (wake_fd_ >= 0)
    ::close(wake_fd_);
  wake_fd_ = -1;
}

void connection_queue::wake() {
  if (wake_fd_ < 0)
    return;
  uint64_t one = 1;
  // Fails only when the counter is full, and then the loop wakes anyway.
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

void connection_queue::refuse(int fd, connection_refusal why) {
  refuse_(fd, why);
  ::close(fd);
}

void connection_queue::dispatch(const accepted_connection& x) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (queued_.size() < limits_.max_queued) {
      queued_.push_back(x);
      has_work_.notify_one();
      return;
    }
  }
  refuse(x.fd, connection_refusal::busy);
}

void connection_queue::poll_loop() {
  // Oldest first: deadlines grow in the order of arrival.
  std::deque<waiting_connection> waiting;
  std::vector<pollfd> fds;
  for (;;) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stopping_)
        break;
      waiting.insert(waiting.end(), incoming_.begin(), incoming_.end());
      incoming_.clear();
    }
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    for (auto& x : waiting)
      fds.push_back(pollfd{x.conn.fd, POLLIN, 0});
    // At most 250 ms, even with nothing waiting: without its eventfd (none
    // left at start) the loop still sees new connections and the stop.
    int timeout = 250;
    if (!waiting.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        waiting.front().deadline - clock_type::now());
      // Rounded up, so that a deadline is not polled for in a busy loop.
      timeout = static_cast<int>(
        std::clamp<int64_t>(left.count() + 1, 0, timeout));
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0) {
      // Interrupted, or short of kernel memory for now: the connections
      // still wait, and are polled again.
      if (errno != EINTR)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (fds[0].revents != 0) {
      uint64_t n;
      [[maybe_unused]] auto got = ::read(wake_fd_, &n, sizeof(n));
    }
    auto now = clock_type::now();
    std::deque<waiting_connection> still;
    for (size_t i = 0; i < waiting.size(); ++i) {
      auto fd = waiting[i].conn.fd;
      if (fds[i + 1].revents != 0) {
        char c;
        // A client that left needs no thread to notice.
        if (::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
          ::close(fd);
        else
          dispatch(waiting[i].conn);
      } else if (now >= waiting[i].deadline) {
        refuse(fd, connection_refusal::idle);
      } else {
        still.push_back(waiting[i]);
      }
    }
    // Those that sent something were taken above, before any is evicted.
    while (still.size() > limits_.max_waiting) {
      refuse(still.front().conn.fd, connection_refusal::evicted);
      still.pop_front();
    }
    waiting = std::move(still);
  }
  for (auto& x : waiting)
    ::close(x.conn.fd);
}

void connection_queue::work() {
  for (;;) {
    accepted_connection x;
    {
      std::unique_lock<std::mutex> guard{mtx_};
      has_work_.wait(guard, [this] { return stopping_ || !queued_.empty(); });
      if (stopping_)
        return;
      x = queued_.front();
      queued_.pop_front();
    }
    serve_(x);
  }
}

} // namespace trellis::detail
