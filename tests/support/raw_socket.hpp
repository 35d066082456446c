#pragma once

// Raw loopback sockets and /proc figures for the adversarial tests: a peer
// that sends what it likes, and the memory and CPU time of a process.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace trellis::test {

/// A TCP connection to 127.0.0.1, closed with the object.
class raw_socket {
public:
  /// A `rcvbuf` above 0 sets the receive buffer before connecting, where it
  /// still decides the window: the kernel then holds little of the peer's
  /// data.
  explicit raw_socket(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
        != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  /// Adopts a connected socket.
  static raw_socket adopt(int fd) {
    raw_socket result;
    result.fd_ = fd;
    return result;
  }

  raw_socket(raw_socket&& other) noexcept : fd_(other.fd_) {
    other.fd_ = -1;
  }

  raw_socket& operator=(raw_socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }

  ~raw_socket() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  bool connected() const noexcept {
    return fd_ >= 0;
  }

  int fd() const noexcept {
    return fd_;
  }

  /// This end's port.
  uint16_t local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }

  /// Sends all of `bytes`; false if the peer closed first.
  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent,
                      MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  /// Reads exactly `n` bytes; empty if the peer closed first or `timeout`
  /// passed.
  std::string receive(size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string result(n, '\0');
    size_t got = 0;
    while (got < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return {};
      auto k = ::recv(fd_, result.data() + got, n - got, 0);
      if (k <= 0)
        return {};
      got += static_cast<size_t>(k);
    }
    return result;
  }

  /// Reads one BASP frame (header and payload, as `receive`); empty if it
  /// did not arrive whole.
  std::string receive_frame(std::chrono::milliseconds timeout) {
    auto hdr = receive(32, timeout);
    if (hdr.empty())
      return {};
    uint32_t len = 0;
    for (int i = 4; i < 8; ++i)
      len = (len << 8) | static_cast<uint8_t>(hdr[i]);
    if (len == 0)
      return hdr;
    auto payload = receive(len, timeout);
    return payload.empty() ? std::string{} : hdr + payload;
  }

  /// Reads what the peer sends until it closes the connection or
  /// `deadline` passes.
  std::string
  read_until_closed(std::chrono::steady_clock::time_point deadline) {
    std::string result;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        break;
      result.append(buf, static_cast<size_t>(n));
    }
    return result;
  }

  /// Reads and drops what the peer sends until it closes the connection;
  /// false if it is still open after `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        return true;
    }
  }

private:
  raw_socket() = default;

  int fd_ = -1;
};

/// A listening socket on 127.0.0.1 with a port of the system's choice.
class raw_listener {
public:
  raw_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }

  raw_listener(const raw_listener&) = delete;
  raw_listener& operator=(const raw_listener&) = delete;

  ~raw_listener() {
    ::close(fd_);
  }

  uint16_t port() const noexcept {
    return port_;
  }

  /// Waits up to `timeout` for a connection.
  raw_socket accept(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
      return raw_socket::adopt(-1);
    return raw_socket::adopt(::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
  }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

/// How many times the adversarial tests repeat each attack:
/// TRELLIS_ADVERSARIAL_ROUNDS (`./dev adversarial`), or once.
inline int adversarial_rounds() {
  auto x = std::getenv("TRELLIS_ADVERSARIAL_ROUNDS");
  return x ? std::max(1, std::atoi(x)) : 1;
}

/// How much a process may grow while it refuses hostile peers: 32 MiB; or
/// 128 MiB under AddressSanitizer, which keeps freed memory in quarantine
/// (256 MiB by default) and maps its allocator in large steps, so that what
/// a sanitized process holds says little about what it uses. A body taken
/// in instead of refused (hundreds of MB) exceeds either.
#if defined(__SANITIZE_ADDRESS__)
constexpr long rss_growth_bound_kib = 128 * 1024;
#else
constexpr long rss_growth_bound_kib = 32 * 1024;
#endif

/// The resident set of process `pid` in KiB (VmRSS), 0 if unknown.
inline long rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long value = 0;
      in >> value;
      return value;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

/// The CPU time process `pid` used so far, in clock ticks (utime + stime).
inline long cpu_ticks(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(in, line);
  // Fields after the command name, which may hold spaces, in parentheses.
  auto pos = line.rfind(')');
  if (pos == std::string::npos)
    return 0;
  std::string rest = line.substr(pos + 2);
  std::istringstream fields{rest};
  std::string x;
  long utime = 0;
  long stime = 0;
  for (int i = 3; i <= 15 && fields >> x; ++i) {
    if (i == 14)
      utime = std::stol(x);
    if (i == 15)
      stime = std::stol(x);
  }
  return utime + stime;
}

/// Appends `x` to `out` in network byte order, as CAF 0.17.6's binary
/// serializer writes integers.
template <class T>
void append_big_endian(std::string& out, T x) {
  for (int i = sizeof(T) - 1; i >= 0; --i)
    out += static_cast<char>(static_cast<uint64_t>(x) >> (8 * i));
}

/// A BASP header as CAF 0.17.6 writes it (network byte order): operation,
/// two padding bytes, flags, payload length, operation data, source actor,
/// destination actor.
inline std::string basp_header(uint8_t op, uint32_t payload_len,
                               uint64_t data = 0, uint64_t source = 0,
                               uint64_t dest = 0, uint8_t flags = 0) {
  std::string result{static_cast<char>(op), 0, 0, static_cast<char>(flags)};
  append_big_endian(result, payload_len);
  append_big_endian(result, data);
  append_big_endian(result, source);
  append_big_endian(result, dest);
  return result;
}

} // namespace trellis::test
