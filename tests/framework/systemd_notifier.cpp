// systemd's notify protocol, against a NOTIFY_SOCKET this test opens itself.

#include "test_support.hpp"

#include <cstdlib>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// A datagram socket in place of systemd's, named in the environment for as
/// long as it lives.
class fake_systemd {
public:
  explicit fake_systemd(bool abstract) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    name_ = "trellis-notify-" + std::to_string(::getpid());
    socklen_t len;
    if (abstract) {
      // Linux' abstract namespace: a leading NUL, no file.
      std::memcpy(addr.sun_path + 1, name_.data(), name_.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1
                                   + name_.size());
      env_ = "@" + name_;
    } else {
      env_ = "/tmp/" + name_;
      ::unlink(env_.c_str());
      std::memcpy(addr.sun_path, env_.data(), env_.size());
      len = sizeof(addr);
    }
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    ::setenv("NOTIFY_SOCKET", env_.c_str(), 1);
  }

  ~fake_systemd() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(fd_);
    if (env_[0] == '/')
      ::unlink(env_.c_str());
  }

  /// The next datagram, or none within `wait`.
  std::optional<std::string> next(caf::timespan wait = patience) {
    timeval tv{};
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(wait);
    tv.tv_sec = us.count() / 1'000'000;
    tv.tv_usec = us.count() % 1'000'000;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0)
      return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

  /// Skips STATUS-only datagrams until one holds `what`; fails the test,
  /// saying so, if none comes within `patience`.
  std::string await(const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      auto x = next(deadline - std::chrono::steady_clock::now());
      if (x && x->find(what) != std::string::npos)
        return *x;
    }
    FAIL("waited for a datagram with " << what << " in vain");
    return {};
  }

private:
  int fd_ = -1;
  std::string name_;
  std::string env_;
};

} // namespace

TEST_CASE("notify_systemd does nothing without NOTIFY_SOCKET and refuses an "
          "address it cannot use",
          "[systemd]") {
  ::unsetenv("NOTIFY_SOCKET");
  auto res = notify_systemd("READY=1");
  REQUIRE(res);
  CHECK(*res == false);
  ::setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
  res = notify_systemd("READY=1");
  CHECK(!res);
  CHECK(res.error() == caf::sec::invalid_argument);
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("notify_systemd reaches a path and an abstract socket", "[systemd]") {
  for (bool abstract : {false, true}) {
    fake_systemd systemd{abstract};
    auto res = notify_systemd("STATUS=hello");
    REQUIRE(res);
    CHECK(*res);
    CHECK(systemd.next() == std::optional<std::string>{"STATUS=hello"});
  }
}

TEST_CASE("the notifier says READY=1 once the tree started, pings the "
          "watchdog while the root answers, and STOPPING=1 at shutdown",
          "[systemd]") {
  fake_systemd systemd{false};
  ::setenv("WATCHDOG_USEC", "100000", 1);
  test_config cfg;
  caf::actor_system sys{cfg};
  auto root = start_supervisor(sys, supervisor("root"));
  REQUIRE(root);
  auto started = start_systemd_notifier(sys, *root);
  REQUIRE(started);
  std::optional<systemd_notifier> notifier{std::move(*started)};
  CHECK(notifier->active());
  CHECK(notifier->watchdog_interval() == caf::timespan{50ms});
  CHECK(systemd.await("READY=1").find("READY=1") == 0);
  systemd.await("WATCHDOG=1");
  systemd.await("WATCHDOG=1");
  coordinated_shutdown sd{sys, *root};
  CHECK(!sd.run());
  auto stopping = systemd.await("STOPPING=1");
  CHECK(stopping.find("STATUS=shutdown: not_ready") != std::string::npos);
  // The root is gone: no more pings. Ten intervals without one, after the
  // ones already on their way.
  int pings = 0;
  auto until = std::chrono::steady_clock::now() + 500ms;
  while (std::chrono::steady_clock::now() < until)
    if (auto x = systemd.next(50ms); x && *x == "WATCHDOG=1")
      ++pings;
  CHECK(pings <= 1);
  // Destroyed after a shutdown that said STOPPING=1: it does not repeat it.
  notifier.reset();
  for (auto x = systemd.next(100ms); x; x = systemd.next(100ms))
    CHECK(x->find("STOPPING=1") == std::string::npos);
}

TEST_CASE("the notifier says STOPPING=1 when destroyed without a shutdown, "
          "and no watchdog interval for another process",
          "[systemd]") {
  fake_systemd systemd{true};
  ::setenv("WATCHDOG_USEC", "100000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  test_config cfg;
  caf::actor_system sys{cfg};
  auto root = start_supervisor(sys, supervisor("root"));
  REQUIRE(root);
  {
    auto notifier = start_systemd_notifier(sys, *root);
    REQUIRE(notifier);
    CHECK(notifier->watchdog_interval() == caf::timespan{0});
    systemd.await("READY=1");
  }
  systemd.await("STOPPING=1");
  stop_supervisor(sys, *root);
}

TEST_CASE("the notifier refuses a malformed WATCHDOG_USEC and an invalid "
          "root",
          "[systemd]") {
  fake_systemd systemd{false};
  test_config cfg;
  caf::actor_system sys{cfg};
  auto root = start_supervisor(sys, supervisor("root"));
  REQUIRE(root);
  for (auto bad : {"", "abc", "0", "-5", "12x"}) {
    ::setenv("WATCHDOG_USEC", bad, 1);
    auto notifier = start_systemd_notifier(sys, *root);
    INFO(bad);
    CHECK(!notifier);
  }
  ::unsetenv("WATCHDOG_USEC");
  CHECK(!start_systemd_notifier(sys, caf::actor{}));
  ::unsetenv("NOTIFY_SOCKET");
  auto quiet = start_systemd_notifier(sys, *root);
  REQUIRE(quiet);
  CHECK(!quiet->active());
  stop_supervisor(sys, *root);
}
