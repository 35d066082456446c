#include "trellis/systemd_notifier.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/scoped_actor.hpp>

#include "trellis/atoms.hpp"
#include "trellis/shutdown_phase.hpp"

namespace trellis {

namespace {

/// Parses `$NOTIFY_SOCKET`: a path, or `@name` for Linux' abstract
/// namespace. Returns the address' length, or 0 if it cannot be used.
socklen_t notify_address(const char* text, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  auto len = std::strlen(text);
  // A path needs room for its NUL; an abstract name does not.
  auto room = sizeof(addr.sun_path) - (text[0] == '/' ? 1 : 0);
  if (len < 2 || len > room || (text[0] != '/' && text[0] != '@'))
    return 0;
  std::memcpy(addr.sun_path, text, len);
  if (text[0] == '@')
    addr.sun_path[0] = '\0';
  // An abstract name is exactly its bytes; a path ends with its NUL.
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len
                                + (text[0] == '/' ? 1 : 0));
}

caf::error syscall_failed(const char* call) {
  return caf::make_error(caf::sec::network_syscall_failed, call,
                         std::string{std::strerror(errno)});
}

} // namespace

caf::expected<bool> notify_systemd(const std::string& state) {
  auto text = std::getenv("NOTIFY_SOCKET");
  if (text == nullptr || *text == '\0')
    return false;
  sockaddr_un addr;
  auto len = notify_address(text, addr);
  if (len == 0)
    return caf::make_error(caf::sec::invalid_argument, "NOTIFY_SOCKET",
                           std::string{"neither a path nor @name: "} + text);
  auto fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return syscall_failed("socket");
  auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), len);
  auto err = sent < 0 ? syscall_failed("sendto") : caf::error{};
  ::close(fd);
  if (err)
    return err;
  return true;
}

struct systemd_notifier::impl {
  caf::actor_system& sys;
  caf::actor root;
  bool active = false;
  caf::timespan interval{0};
  std::mutex mtx;
  std::condition_variable cv;
  bool closing = false;
  std::thread worker;

  impl(caf::actor_system& s, caf::actor r) : sys(s), root(std::move(r)) {
    // nop
  }

  /// Waits `t` or until closing; returns whether to go on.
  bool nap(caf::timespan t) {
    std::unique_lock<std::mutex> lock{mtx};
    return !cv.wait_for(lock, t, [this] { return closing; });
  }

  bool is_closing() {
    std::lock_guard<std::mutex> lock{mtx};
    return closing;
  }

  /// Asks the root whether it started: `ok` once it did (at once after
  /// that), an error if its start failed or it is gone; none on time out.
  std::optional<caf::error> ask_started(caf::timespan timeout) {
    // A fresh actor each time: an answer that comes after its timeout
    // would otherwise wait in a long-lived one's mailbox for good.
    caf::scoped_actor self{sys, true};
    std::optional<caf::error> result;
    self->request(root, timeout, caf::get_atom::value, started_atom::value)
      .receive([&](caf::ok_atom) { result = caf::error{}; },
               [&](caf::error& err) {
                 if (err != caf::sec::request_timeout)
                   result = std::move(err);
               });
    return result;
  }

  void run() {
    // READY=1 once the tree is up; a tree that failed to start never is.
    const caf::timespan patience = std::chrono::milliseconds(500);
    for (;;) {
      if (is_closing())
        return;
      auto answer = ask_started(patience);
      if (!answer)
        continue;
      if (*answer) {
        notify_systemd("STATUS=the tree failed to start: "
                       + sys.render(*answer));
        return;
      }
      // Not once a shutdown began: READY=1 after STOPPING=1 would confuse.
      if (current_shutdown_phase(sys) == shutdown_phase::running)
        notify_systemd("READY=1\nSTATUS=running");
      break;
    }
    if (interval.count() <= 0)
      return;
    // WATCHDOG=1 only for a root that answers within the interval: a
    // hung or ended root lets systemd's watchdog fire.
    for (;;) {
      auto due = std::chrono::steady_clock::now() + interval;
      // At most a second, so that the destructor does not wait long for a
      // root that hangs.
      auto answer = ask_started(
        std::min<caf::timespan>(interval, std::chrono::seconds(1)));
      if (is_closing())
        return;
      if (!answer || *answer) {
        notify_systemd("STATUS=the root supervisor "
                       + std::string{answer ? "ended: " + sys.render(*answer)
                                            : "does not answer"});
        if (answer)
          return;
      } else {
        notify_systemd("WATCHDOG=1");
      }
      if (!nap(due - std::chrono::steady_clock::now()))
        return;
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock{mtx};
      if (closing)
        return;
      closing = true;
    }
    cv.notify_all();
    if (worker.joinable())
      worker.join();
    if (active && current_shutdown_phase(sys) < shutdown_phase::not_ready)
      notify_systemd("STOPPING=1");
  }
};

systemd_notifier::systemd_notifier(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {
  // nop
}

systemd_notifier::systemd_notifier(systemd_notifier&&) noexcept = default;

systemd_notifier& systemd_notifier::operator=(systemd_notifier&& other) noexcept {
  if (impl_)
    impl_->stop();
  impl_ = std::move(other.impl_);
  return *this;
}

systemd_notifier::~systemd_notifier() {
  if (impl_)
    impl_->stop();
}

bool systemd_notifier::active() const noexcept {
  return impl_ && impl_->active;
}

caf::timespan systemd_notifier::watchdog_interval() const noexcept {
  return impl_ ? impl_->interval : caf::timespan{0};
}

caf::expected<systemd_notifier> start_systemd_notifier(caf::actor_system& sys,
                                                       const caf::actor& root) {
  if (!root)
    return caf::make_error(caf::sec::invalid_argument,
                           "start_systemd_notifier", "invalid root");
  auto ptr = std::make_unique<systemd_notifier::impl>(sys, root);
  auto socket = std::getenv("NOTIFY_SOCKET");
  ptr->active = socket != nullptr && *socket != '\0';
  if (!ptr->active)
    return systemd_notifier{std::move(ptr)};
  sockaddr_un addr;
  if (notify_address(socket, addr) == 0)
    return caf::make_error(caf::sec::invalid_argument, "NOTIFY_SOCKET",
                           std::string{"neither a path nor @name: "} + socket);
  // As sd_watchdog_enabled(3): the interval is for $WATCHDOG_PID only.
  auto pid = std::getenv("WATCHDOG_PID");
  auto usec = std::getenv("WATCHDOG_USEC");
  bool ours = pid == nullptr || std::to_string(::getpid()) == pid;
  if (usec != nullptr && ours) {
    char* end = nullptr;
    errno = 0;
    auto n = std::strtoull(usec, &end, 10);
    if (errno != 0 || end == usec || *end != '\0' || n == 0
        || n > 24ull * 3600 * 1'000'000)
      return caf::make_error(caf::sec::invalid_argument, "WATCHDOG_USEC",
                             std::string{"not a positive number of "
                                         "microseconds: "}
                               + usec);
    // Half the timeout, as sd_watchdog_enabled(3) advises.
    ptr->interval = std::chrono::microseconds(std::max<uint64_t>(n / 2, 1));
  }
  auto raw = ptr.get();
  ptr->worker = std::thread{[raw] { raw->run(); }};
  return systemd_notifier{std::move(ptr)};
}

} // namespace trellis
