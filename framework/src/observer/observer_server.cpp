#include "observer_server.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace trellis::detail {

namespace {

using clock_type = std::chrono::steady_clock;

thread_local int current_socket = -1;

// Rounded up, so that a wait that ends finds `t` passed.
int millis_until(clock_type::time_point t) {
  auto left
    = std::chrono::ceil<std::chrono::milliseconds>(t - clock_type::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

std::string address_of(const sockaddr_storage& addr, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto x = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &x->sin_addr, buf, sizeof(buf));
    port = ntohs(x->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto x = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &x->sin6_addr, buf, sizeof(buf));
    port = ntohs(x->sin6_port);
  }
  return buf;
}

/// A connection's stream: reads end at the budget or the read deadline,
/// which counts from accepting the connection; writes wait at most the
/// write timeout.
class bounded_stream : public httplib::Stream {
public:
  bounded_stream(const accepted_connection& x, const http_limits& limits)
    : fd_(x.fd),
      budget_(limits.max_head + limits.max_body),
      deadline_(x.accepted + limits.read_deadline),
      write_timeout_(static_cast<int>(limits.write_timeout.count())) {
    // nop
  }

  /// Returns whether the read deadline passed.
  bool expired() const {
    return clock_type::now() >= deadline_;
  }

  bool is_readable() const override {
    return readable();
  }

  bool is_writable() const override {
    return wait(POLLOUT, write_timeout_);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (budget_ == 0 || !readable())
      return -1;
    auto n = ::recv(fd_, ptr, std::min(size, budget_), 0);
    if (n > 0)
      budget_ -= static_cast<size_t>(n);
    return n;
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!wait(POLLOUT, write_timeout_))
      return -1;
    auto n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    if (n > 0)
      wrote_ = true;
    return n;
  }

  /// Returns the status of a request that reading ended without an
  /// answer, if it did (httplib then closes without one), or 0.
  int unanswered() const {
    if (wrote_)
      return 0;
    if (budget_ == 0)
      return 431;
    if (expired())
      return 408;
    return 0;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      ip = address_of(addr, port);
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      ip = address_of(addr, port);
  }

  socket_t socket() const override {
    return fd_;
  }

private:
  /// Waits for bytes until the deadline; after it, takes only what has
  /// arrived, without waiting: a request sent whole in time is served
  /// however long it waited for a thread.
  bool readable() const {
    return wait(POLLIN, millis_until(deadline_));
  }

  bool wait(short events, int timeout_ms) const {
    pollfd p{fd_, events, 0};
    int n;
    do {
      n = ::poll(&p, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }

  int fd_;
  size_t budget_;
  clock_type::time_point deadline_;
  int write_timeout_;
  bool wrote_ = false;
};

/// A whole response with the observer's JSON error body; `message` holds
/// no character that JSON escapes.
std::string refusal(int status, const std::string& message) {
  const char* reason = status == 408   ? "Request Timeout"
                       : status == 431 ? "Request Header Fields Too Large"
                                       : "Service Unavailable";
  std::string body = "{\"error\":\"" + message + "\"}";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason
         + "\r\nContent-Type: application/json\r\nConnection: close\r\n"
           "Content-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// Says why a connection is refused before a thread serves it. Runs on the
/// accepting or the polling thread, so it never waits: a fresh
/// connection's send buffer takes the answer whole.
void refuse_connection(int fd, connection_refusal why,
                       const http_limits& limits) {
  auto& x = limits.connections;
  std::string text;
  switch (why) {
    case connection_refusal::idle:
      text = refusal(408, "no request within "
                            + std::to_string(x.first_byte_deadline.count())
                            + " ms of connecting");
      break;
    case connection_refusal::evicted:
      text = refusal(503, "closed unused: more than "
                            + std::to_string(x.max_waiting)
                            + " connections waited to send a request, and "
                              "this one longest");
      break;
    case connection_refusal::busy:
      text = refusal(503, "busy: " + std::to_string(x.max_queued)
                            + " requests wait for a thread already");
      break;
  }
  ::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  // Closing with the request unread would reset the connection, and the
  // client could lose the answer; take what already arrived.
  char buf[4096];
  for (size_t left = limits.max_head + limits.max_body; left > 0;) {
    auto n = ::recv(fd, buf, std::min(sizeof(buf), left), MSG_DONTWAIT);
    if (n <= 0)
      break;
    left -= std::min(left, static_cast<size_t>(n));
  }
  ::shutdown(fd, SHUT_RDWR);
}

/// httplib 0.11 hands each accepted connection to its task queue as a
/// closure that calls `process_and_close_socket`. This queue runs it at
/// once, on the accepting thread, so that the override sees the socket and
/// gives it to a `connection_queue`.
class accepting_thread_queue : public httplib::TaskQueue {
public:
  explicit accepting_thread_queue(connection_queue& connections)
    : connections_(connections) {
    // nop
  }

  void enqueue(std::function<void()> fn) override {
    fn();
  }

  void shutdown() override {
    connections_.stop();
  }

private:
  connection_queue& connections_;
};

std::string lower(std::string x) {
  for (auto& c : x)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return x;
}

// `Host` without its port: `[::1]:80` is `::1`, `a.b:80` is `a.b`.
std::string host_name(const std::string& host) {
  if (!host.empty() && host.front() == '[') {
    auto end = host.find(']');
    return end == std::string::npos ? host : host.substr(1, end - 1);
  }
  auto colon = host.find(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

/// What a refusal echoes of a client's value: enough to recognize it, not
/// the whole of a header that may be 16 KiB.
std::string shown(const std::string& value) {
  constexpr size_t most = 64;
  return value.size() <= most ? value : value.substr(0, most) + "...";
}

} // namespace

std::optional<http_refusal> admit(const httplib::Request& req,
                                  const admission& rules) {
  if (req.has_header("Host")) {
    auto name = lower(host_name(req.get_header_value("Host")));
    auto ok = std::any_of(rules.hosts.begin(), rules.hosts.end(),
                          [&](const std::string& x) { return lower(x) == name; });
    if (!ok) {
      std::string names;
      for (auto& x : rules.hosts)
        names += (names.empty() ? "" : ", ") + x;
      return http_refusal{421, "this observer answers to " + names
                                 + ", not to host '" + shown(name)
                                 + "' (observer_config::allowed_hosts)"};
    }
  }
  if (req.has_header("Content-Length")) {
    auto text = req.get_header_value("Content-Length");
    for (size_t i = 1; i < req.get_header_value_count("Content-Length"); ++i)
      if (auto other = req.get_header_value("Content-Length", i);
          other != text)
        return http_refusal{400, "Content-Length " + shown(text) + " and "
                                   + shown(other)
                                   + ": the request's length is unknown"};
    char* end = nullptr;
    errno = 0;
    auto n = std::strtoull(text.c_str(), &end, 10);
    if (errno != 0 || end == text.c_str() || n > rules.max_body)
      return http_refusal{413, "request body of " + shown(text)
                                 + " bytes refused: at most "
                                 + std::to_string(rules.max_body)};
  }
  return std::nullopt;
}

bool client_left() {
  if (current_socket < 0)
    return false;
  pollfd p{current_socket, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0)
    return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
    return true;
  char c;
  return ::recv(current_socket, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

guarded_http_server::guarded_http_server(http_limits limits)
  : limits_(limits),
    connections_(
      limits.connections,
      [this](const accepted_connection& x) { serve(x); },
      [limits](int fd, connection_refusal why) {
        refuse_connection(fd, why, limits);
      }) {
  new_task_queue = [this] {
    connections_.start();
    return new accepting_thread_queue{connections_};
  };
}

int guarded_http_server::bind(const std::string& host, int port) {
  if (port == 0)
    port = bind_to_any_port(host);
  else if (!bind_to_port(host, port))
    port = -1;
  // httplib listens with a backlog of 5: a burst of connections that came
  // faster than one thread accepts them had the kernel drop SYNs, and each
  // dropped client waited a second for its retry. Should this fail, the
  // backlog stays 5: slower, not wrong.
  if (port > 0)
    ::listen(svr_sock_, static_cast<int>(limits_.connections.max_waiting));
  return port;
}

bool guarded_http_server::process_and_close_socket(socket_t sock) {
  connections_.add(sock);
  return true;
}

void guarded_http_server::serve(const accepted_connection& x) {
  bounded_stream strm{x, limits_};
  // One request per connection: a refused request's unread body is never
  // taken for the next request. The read deadline counts from accept, so a
  // slow client holds a thread until then at most, however long it waited
  // for one; one whose deadline passed meanwhile is read without a wait.
  current_socket = x.fd;
  bool closed = false;
  process_request(strm, true, closed, nullptr);
  current_socket = -1;
  if (auto status = strm.unanswered()) {
    auto text = refusal(
      status, status == 431
                ? "request larger than "
                    + std::to_string(limits_.max_head + limits_.max_body)
                    + " bytes"
                : "request not sent whole within "
                    + std::to_string(limits_.read_deadline.count())
                    + " ms of connecting");
    strm.write(text.data(), text.size());
  }
  ::shutdown(x.fd, SHUT_RDWR);
  ::close(x.fd);
}

} // namespace trellis::detail
