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

int millis_until(clock_type::time_point t) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    t - clock_type::now());
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

/// A connection's stream: reads end at the budget or the deadline, writes
/// wait at most the write timeout.
class bounded_stream : public httplib::Stream {
public:
  bounded_stream(int fd, const http_limits& limits)
    : fd_(fd),
      budget_(limits.max_head + limits.max_body),
      deadline_(clock_type::now() + limits.read_deadline),
      write_timeout_(static_cast<int>(limits.write_timeout.count())) {
    // nop
  }

  bool is_readable() const override {
    return wait(POLLIN, millis_until(deadline_));
  }

  bool is_writable() const override {
    return wait(POLLOUT, write_timeout_);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (budget_ == 0 || !wait(POLLIN, millis_until(deadline_)))
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

  /// Returns why reading ended without an answer, if it did: httplib then
  /// closes without one.
  const char* unanswered() const {
    if (wrote_)
      return nullptr;
    if (budget_ == 0)
      return "431 Request Header Fields Too Large\r\n";
    if (clock_type::now() >= deadline_)
      return "408 Request Timeout\r\n";
    return nullptr;
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
                                 + ", not to host '" + name
                                 + "' (observer_config::allowed_hosts)"};
    }
  }
  if (req.has_header("Content-Length")) {
    auto text = req.get_header_value("Content-Length");
    char* end = nullptr;
    errno = 0;
    auto n = std::strtoull(text.c_str(), &end, 10);
    if (errno != 0 || end == text.c_str() || n > rules.max_body)
      return http_refusal{413, "request body of " + text
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

bool guarded_http_server::process_and_close_socket(socket_t sock) {
  bounded_stream strm{sock, limits_};
  current_socket = sock;
  bool closed = false;
  // One request per connection: a refused request's unread body is never
  // taken for the next request, and a slow client holds a thread for one
  // read deadline at most.
  auto result = process_request(strm, true, closed, nullptr);
  current_socket = -1;
  if (auto status = strm.unanswered()) {
    std::string body = std::string{"{\"error\":\""}
                       + (status[1] == '3'
                            ? "request larger than "
                                + std::to_string(limits_.max_head
                                                 + limits_.max_body)
                                + " bytes"
                            : "request not sent whole within "
                                + std::to_string(limits_.read_deadline.count())
                                + " ms")
                       + "\"}";
    auto head = std::string{"HTTP/1.1 "} + status
                + "Content-Type: application/json\r\nConnection: close\r\n"
                  "Content-Length: "
                + std::to_string(body.size()) + "\r\n\r\n";
    strm.write(head.data(), head.size());
    strm.write(body.data(), body.size());
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return result;
}

} // namespace trellis::detail
