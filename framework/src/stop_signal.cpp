#include "trellis/stop_signal.hpp"

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <pthread.h>

namespace trellis {

struct stop_signal::impl {
  sigset_t set;
  std::atomic<bool> closing{false};
  std::atomic<int> signal{0};
  std::mutex mtx;
  std::condition_variable cv;
  std::thread taker;

  void run() {
    timespec tick{0, 100'000'000};
    while (!closing.load()) {
      auto sig = sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0)
        continue;
      // The second signal: the operator insists.
      if (signal.load() != 0)
        std::_Exit(128 + sig);
      {
        std::lock_guard<std::mutex> lock{mtx};
        signal = sig;
      }
      cv.notify_all();
    }
  }
};

stop_signal::stop_signal() : impl_(std::make_unique<impl>()) {
  sigemptyset(&impl_->set);
  sigaddset(&impl_->set, SIGINT);
  sigaddset(&impl_->set, SIGTERM);
  // Blocked here, so that the threads started later (the actor system's)
  // inherit the mask and only the taker sees them.
  pthread_sigmask(SIG_BLOCK, &impl_->set, nullptr);
  impl_->taker = std::thread{[this] { impl_->run(); }};
}

stop_signal::~stop_signal() {
  impl_->closing = true;
  impl_->taker.join();
}

bool stop_signal::requested() const noexcept {
  return impl_->signal.load() != 0;
}

int stop_signal::signal_number() const noexcept {
  return impl_->signal.load();
}

void stop_signal::wait() {
  std::unique_lock<std::mutex> lock{impl_->mtx};
  impl_->cv.wait(lock, [this] { return impl_->signal.load() != 0; });
}

bool stop_signal::wait_for(caf::timespan timeout) {
  std::unique_lock<std::mutex> lock{impl_->mtx};
  return impl_->cv.wait_for(lock, timeout,
                            [this] { return impl_->signal.load() != 0; });
}

} // namespace trellis
