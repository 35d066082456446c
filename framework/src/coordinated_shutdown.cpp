#include "trellis/coordinated_shutdown.hpp"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>

#include "blocking_call.hpp"
#include "probe_mailboxes.hpp"
#include "report.hpp"
#include "system_guard.hpp"
#include "trellis/errc.hpp"
#include "trellis/mailbox_probe.hpp"
#include "trellis/stop_signal.hpp"
#include "trellis/supervisor.hpp"
#include "trellis/systemd_notifier.hpp"

namespace trellis {

namespace {

using clock = std::chrono::steady_clock;

constexpr shutdown_phase phases[] = {
  shutdown_phase::not_ready, shutdown_phase::stop_intake,
  shutdown_phase::drain,     shutdown_phase::stop_tree,
  shutdown_phase::flush,
};

/// One phase's tasks, shared with their threads: a task that overruns its
/// deadline keeps this alive, not the shutdown.
struct task_batch {
  std::mutex mtx;
  std::condition_variable cv;
  size_t running = 0;
  /// Per task: done, and its error.
  std::vector<std::pair<bool, caf::error>> results;
};

std::string elapsed_ms(clock::time_point since) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                          clock::now() - since)
                          .count())
         + " ms";
}

/// The shutdown whose task this thread runs, if any: such a task that runs
/// that shutdown would wait for itself.
thread_local const void* running_task_of = nullptr;

} // namespace

struct coordinated_shutdown::impl {
  caf::actor_system& sys;
  caf::actor root;
  coordinated_shutdown_config cfg;
  std::atomic<shutdown_phase> phase{shutdown_phase::running};

  std::mutex mtx;
  std::condition_variable cv;
  bool started = false;
  bool done = false;
  caf::error result;
  std::vector<std::pair<std::string, shutdown_task>> tasks[7];
  std::thread runner;

  /// Set once the root exited, with its reason.
  std::atomic<bool> root_gone{false};
  caf::error root_reason;

  /// What did not finish in time or failed, in order.
  std::vector<std::string> problems;
  caf::error first_error;

  impl(caf::actor_system& s, caf::actor r, coordinated_shutdown_config c)
    : sys(s), root(std::move(r)), cfg(c) {
    // nop
  }

  caf::timespan timeout_of(shutdown_phase x) const {
    switch (x) {
      case shutdown_phase::not_ready:
        return cfg.not_ready;
      case shutdown_phase::stop_intake:
        return cfg.stop_intake;
      case shutdown_phase::drain:
        return cfg.drain;
      case shutdown_phase::stop_tree:
        return cfg.stop_tree;
      case shutdown_phase::flush:
        return cfg.flush;
      default:
        return caf::timespan{0};
    }
  }

  void problem(shutdown_phase x, std::string what, caf::error err) {
    auto text = to_string(x) + ": " + what;
    if (err)
      text += ": " + sys.render(err);
    detail::report::shutdown_problem(text);
    problems.push_back(std::move(text));
    if (!first_error)
      first_error = err ? std::move(err) : make_error(errc::timeout);
  }

  void enter(shutdown_phase x) {
    phase = x;
    if (auto guard = detail::system_guard::of(sys))
      guard->enter(x);
    notify_systemd(x == shutdown_phase::not_ready
                     ? "STOPPING=1\nSTATUS=shutdown: not_ready"
                     : "STATUS=shutdown: " + to_string(x));
  }

  /// Runs the phase's tasks at once, each on a thread of its own, until all
  /// returned or `deadline`.
  void run_tasks(shutdown_phase x, clock::time_point deadline) {
    std::vector<std::pair<std::string, shutdown_task>> todo;
    {
      std::lock_guard<std::mutex> lock{mtx};
      todo = tasks[static_cast<size_t>(x)];
    }
    if (todo.empty())
      return;
    auto batch = std::make_shared<task_batch>();
    batch->results.resize(todo.size());
    batch->running = todo.size();
    for (size_t i = 0; i < todo.size(); ++i) {
      auto& name = todo[i].first;
      std::thread{[this, batch, i, deadline, name, f = todo[i].second] {
        running_task_of = this;
        caf::error err;
        try {
          err = f(deadline);
        } catch (std::exception& e) {
          err = make_error(errc::unhandled_exception, name, e.what());
        } catch (...) {
          err = make_error(errc::unhandled_exception, name,
                           "an exception not derived from std::exception");
        }
        std::lock_guard<std::mutex> lock{batch->mtx};
        batch->results[i] = {true, std::move(err)};
        if (--batch->running == 0)
          batch->cv.notify_all();
      }}.detach();
    }
    std::vector<std::pair<bool, caf::error>> results;
    {
      std::unique_lock<std::mutex> lock{batch->mtx};
      batch->cv.wait_until(lock, deadline,
                           [&] { return batch->running == 0; });
      results = batch->results;
    }
    for (size_t i = 0; i < todo.size(); ++i) {
      auto& [finished, err] = results[i];
      if (!finished)
        problem(x, "task " + todo[i].first + " did not finish in time",
                make_error(errc::timeout, to_string(x), todo[i].first));
      else if (err)
        problem(x, "task " + todo[i].first + " failed", err);
    }
  }

  /// Waits until every mailbox of the tree is empty, or `deadline`.
  void await_quiet(clock::time_point deadline) {
    const caf::timespan poll = std::chrono::milliseconds(10);
    std::map<std::string, std::string> busy;
    for (;;) {
      auto left = deadline - clock::now();
      if (left <= caf::timespan{0})
        break;
      auto snap = snapshot(sys, root,
                           std::min<caf::timespan>(left,
                                                   std::chrono::seconds(1)));
      if (!snap)
        return; // The tree is gone (or hangs; stop_tree deals with it).
      busy.clear();
      // An actor busy in a long handler answers late: that counts as busy.
      // The snapshot may have used up the phase: never a negative wait.
      auto probe = std::clamp<caf::timespan>(deadline - clock::now(),
                                             std::chrono::milliseconds(1),
                                             std::chrono::milliseconds(500));
      auto answers = detail::probe_mailboxes(sys, *snap, probe, false);
      for (auto& x : answers)
        if (x.timed_out)
          busy.emplace(x.path, "busy");
        else if (x.depth && *x.depth > 0)
          busy.emplace(x.path, std::to_string(*x.depth));
      if (busy.empty())
        return;
      std::this_thread::sleep_for(std::clamp<caf::timespan>(
        deadline - clock::now(), caf::timespan{0}, poll));
    }
    std::string what = "messages still queued:";
    size_t shown = 0;
    for (auto& [path, n] : busy) {
      if (++shown > 5) {
        what += " ...";
        break;
      }
      what += " " + path + "=" + n;
    }
    problem(shutdown_phase::drain,
            busy.empty() ? std::string{"the tree did not answer in time"}
                         : what + " (busy: a handler still running)",
            make_error(errc::timeout, "drain", "the tree's mailboxes"));
  }

  void stop_root(clock::time_point deadline) {
    if (!root)
      return;
    auto left = std::max<caf::timespan>(deadline - clock::now(),
                                        caf::timespan{0});
    auto err = stop_supervisor(sys, root, caf::exit_reason::user_shutdown,
                               left);
    if (err)
      problem(shutdown_phase::stop_tree, "the root did not stop in time", err);
  }

  caf::error run(const std::string& cause) {
    if (running_task_of == this)
      return make_error(errc::calling_self, "coordinated_shutdown::run",
                        "called from one of its own tasks, which the "
                        "shutdown waits for: return from the task instead");
    {
      std::unique_lock<std::mutex> lock{mtx};
      if (started) {
        cv.wait(lock, [this] { return done; });
        return result;
      }
      started = true;
    }
    caf::error res;
    try {
      res = run_phases(cause);
    } catch (std::exception& e) {
      // Out of memory or threads: the shutdown still ends, and says why.
      res = make_error(errc::shutting_down, "coordinated_shutdown", e.what());
    }
    {
      std::lock_guard<std::mutex> lock{mtx};
      result = res;
      done = true;
    }
    cv.notify_all();
    return res;
  }

  caf::error run_phases(const std::string& cause) {
    auto begin = clock::now();
    auto overall = begin + std::min(cfg.overall, detail::longest_span);
    detail::report::shutdown_begins(cause);
    for (auto x : phases) {
      auto start = clock::now();
      auto deadline = start + std::min<caf::timespan>(timeout_of(x),
                                                      overall - start);
      enter(x);
      run_tasks(x, deadline);
      switch (x) {
        case shutdown_phase::not_ready: {
          auto now = clock::now();
          auto until = now + std::clamp<caf::timespan>(cfg.readiness_grace,
                                                       caf::timespan{0},
                                                       overall - now);
          std::this_thread::sleep_until(until);
          break;
        }
        case shutdown_phase::drain:
          await_quiet(deadline);
          break;
        case shutdown_phase::stop_tree:
          stop_root(deadline);
          break;
        default:
          break;
      }
      detail::report::shutdown_phase_ended(to_string(x), elapsed_ms(start));
    }
    enter(shutdown_phase::done);
    caf::error res;
    if (!problems.empty()) {
      std::string text;
      for (auto& p : problems)
        text += (text.empty() ? "" : "; ") + p;
      res = make_error(errc::timeout, "coordinated_shutdown", text);
      if (!is(first_error, errc::timeout))
        res = make_error(errc::shutting_down, "coordinated_shutdown", text,
                         first_error);
    }
    detail::report::shutdown_ended(elapsed_ms(begin),
                                   res ? sys.render(res) : std::string{});
    return res;
  }
};

coordinated_shutdown::coordinated_shutdown(caf::actor_system& sys,
                                           caf::actor root,
                                           coordinated_shutdown_config cfg)
  : impl_(std::make_shared<impl>(sys, std::move(root), cfg)) {
  if (impl_->root) {
    std::weak_ptr<impl> weak = impl_;
    impl_->root->attach_functor([weak](const caf::error& reason) {
      if (auto ptr = weak.lock()) {
        {
          std::lock_guard<std::mutex> lock{ptr->mtx};
          ptr->root_reason = reason;
        }
        ptr->root_gone = true;
      }
    });
  }
}

coordinated_shutdown::~coordinated_shutdown() {
  if (impl_->runner.joinable())
    impl_->runner.join();
}

caf::error coordinated_shutdown::add(shutdown_phase phase, std::string name,
                                     shutdown_task f) {
  if (phase == shutdown_phase::running || phase == shutdown_phase::done)
    return make_error(errc::invalid_spec, "add_task",
                      "a task runs in a phase from not_ready to flush, not "
                        + to_string(phase));
  if (name.empty() || !f)
    return make_error(errc::invalid_spec, "add_task",
                      "a task needs a name and a function");
  std::lock_guard<std::mutex> lock{impl_->mtx};
  if (impl_->started)
    return make_error(errc::shutting_down, "add_task", name,
                      "the shutdown began");
  impl_->tasks[static_cast<size_t>(phase)].emplace_back(std::move(name),
                                                        std::move(f));
  return caf::none;
}

caf::error coordinated_shutdown::run(const std::string& cause) {
  if (auto err = detail::refuse_calling_self(impl_->root,
                                             "coordinated_shutdown::run"))
    return err;
  return impl_->run(cause);
}

void coordinated_shutdown::request_run(const std::string& cause) {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  if (impl_->started || impl_->runner.joinable())
    return;
  auto ptr = impl_;
  impl_->runner = std::thread{[ptr, cause] { ptr->run(cause); }};
}

caf::error coordinated_shutdown::wait(caf::timespan timeout) {
  std::unique_lock<std::mutex> lock{impl_->mtx};
  if (!impl_->cv.wait_for(lock, timeout, [this] { return impl_->done; }))
    return make_error(errc::timeout, "coordinated_shutdown::wait",
                      impl_->started ? "the shutdown has not ended"
                                     : "no shutdown was started");
  return impl_->result;
}

caf::error coordinated_shutdown::run_on(stop_signal& stop) {
  const caf::timespan tick = std::chrono::milliseconds(50);
  auto started = [this] {
    std::lock_guard<std::mutex> lock{impl_->mtx};
    return impl_->started;
  };
  while (!stop.wait_for(tick) && !impl_->root_gone.load() && !started())
    ; // wait
  if (stop.requested())
    return run("signal " + std::to_string(stop.signal_number()));
  // Started elsewhere (request_run): its result, whenever it ends.
  if (started()) {
    std::unique_lock<std::mutex> lock{impl_->mtx};
    impl_->cv.wait(lock, [this] { return impl_->done; });
    return impl_->result;
  }
  caf::error reason;
  {
    std::lock_guard<std::mutex> lock{impl_->mtx};
    reason = impl_->root_reason;
  }
  run("the tree ended: " + impl_->sys.render(reason));
  return reason;
}

shutdown_phase coordinated_shutdown::phase() const noexcept {
  return impl_->phase.load();
}

const coordinated_shutdown_config&
coordinated_shutdown::config() const noexcept {
  return impl_->cfg;
}

} // namespace trellis
