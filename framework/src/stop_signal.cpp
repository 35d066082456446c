#include "trellis/stop_signal.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>

namespace trellis {

namespace {

/// A signal that reached a thread started before the first `stop_signal`,
/// which has it unblocked: the handler notes it, a taker picks it up.
std::atomic<int> caught{0};

extern "C" void note_signal(int sig) {
  caught.store(sig);
}

} // namespace

struct stop_signal::impl {
  sigset_t set;
  std::atomic<bool> closing{false};
  std::atomic<int> signal{0};
  std::mutex mtx;
  std::condition_variable cv;
  std::thread taker;

  /// Every live `stop_signal`: the one whose thread takes a signal tells
  /// them all, so that each `wait` returns.
  static std::mutex& all_mtx() {
    static std::mutex x;
    return x;
  }

  static std::vector<impl*>& all() {
    static std::vector<impl*> x;
    return x;
  }

  /// The actions of SIGINT and SIGTERM before the first `stop_signal`.
  static struct sigaction* before() {
    static struct sigaction x[2];
    return x;
  }

  void run() {
    timespec tick{0, 100'000'000};
    while (!closing.load()) {
      auto sig = sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0)
        sig = caught.exchange(0);
      if (sig > 0)
        take(sig);
    }
  }

  static void take(int sig) {
    std::lock_guard<std::mutex> guard{all_mtx()};
    for (auto x : all()) {
      // The second signal: the operator insists.
      if (x->signal.load() != 0)
        std::_Exit(128 + sig);
      {
        std::lock_guard<std::mutex> lock{x->mtx};
        x->signal = sig;
      }
      x->cv.notify_all();
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
  // Threads started before (an actor system made first, against the
  // advice) still take them: a handler instead of the default action, which
  // ends the process without stopping a tree.
  {
    std::lock_guard<std::mutex> guard{impl::all_mtx()};
    if (impl::all().empty()) {
      struct sigaction act {};
      act.sa_handler = note_signal;
      sigemptyset(&act.sa_mask);
      sigaction(SIGINT, &act, &impl::before()[0]);
      sigaction(SIGTERM, &act, &impl::before()[1]);
    }
    impl::all().push_back(impl_.get());
  }
  impl_->taker = std::thread{[this] { impl_->run(); }};
}

stop_signal::~stop_signal() {
  {
    std::lock_guard<std::mutex> guard{impl::all_mtx()};
    auto& xs = impl::all();
    xs.erase(std::remove(xs.begin(), xs.end(), impl_.get()), xs.end());
    // The last one gives the signals their former actions back.
    if (xs.empty()) {
      sigaction(SIGINT, &impl::before()[0], nullptr);
      sigaction(SIGTERM, &impl::before()[1], nullptr);
    }
  }
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
