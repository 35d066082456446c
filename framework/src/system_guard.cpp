#include "system_guard.hpp"

#include <chrono>
#include <cstdlib>
#include <thread>
#include <unordered_map>
#include <utility>

#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "report.hpp"
#include "supervisor_actor.hpp"
#include "trellis/errc.hpp"

namespace trellis::detail {

namespace {

constexpr auto default_shutdown_time = std::chrono::seconds(30);

// Guards by system. A module has no way to be found from its system in CAF
// 0.17 short of a cast through an unrelated type, so it files itself here.
std::mutex guards_mtx;
std::unordered_map<const caf::actor_system*, std::weak_ptr<system_guard>>
  guards;

class guard_module : public caf::actor_system::module {
public:
  explicit guard_module(caf::actor_system& sys)
    : sys_(sys), guard_(std::make_shared<system_guard>(sys)) {
    std::lock_guard<std::mutex> lock{guards_mtx};
    guards[&sys] = guard_;
  }

  ~guard_module() override {
    std::lock_guard<std::mutex> lock{guards_mtx};
    guards.erase(&sys_);
  }

  void start() override {
    // The guard awaits the actors itself, after it stopped the trees.
    sys_.await_actors_before_shutdown(false);
  }

  void stop() override {
    guard_->stop_all();
  }

  void init(caf::actor_system_config&) override {
    // nop
  }

  id_t id() const override {
    return network_manager;
  }

  void* subtype_ptr() override {
    return this;
  }

private:
  caf::actor_system& sys_;
  std::shared_ptr<system_guard> guard_;
};

} // namespace

system_guard::system_guard(caf::actor_system& sys) : sys_(sys) {
  // nop
}

std::shared_ptr<system_guard> system_guard::of(const caf::actor_system& sys) {
  std::lock_guard<std::mutex> lock{guards_mtx};
  auto i = guards.find(&sys);
  return i != guards.end() ? i->second.lock() : nullptr;
}

std::shared_ptr<dependency_board> system_guard::dependencies() {
  std::lock_guard<std::mutex> lock{mtx_};
  if (!dependencies_)
    dependencies_ = std::make_shared<dependency_board>(sys_);
  return dependencies_;
}

void system_guard::limit_restarts(restart_limit x) {
  std::lock_guard<std::mutex> lock{mtx_};
  node_pacer_ = std::make_shared<restart_pacer>(x);
}

std::vector<std::shared_ptr<restart_pacer>>
system_guard::pacers_for(const void* tree, const std::string& path,
                         const std::optional<restart_limit>& own) {
  std::vector<std::shared_ptr<restart_pacer>> result;
  std::lock_guard<std::mutex> lock{mtx_};
  if (node_pacer_)
    result.push_back(node_pacer_);
  // The ancestors': every prefix of the path that ends before a '/'.
  if (!subtree_pacers_.empty())
    for (auto pos = path.find('/'); pos != std::string::npos;
         pos = path.find('/', pos + 1)) {
      auto i = subtree_pacers_.find({tree, path.substr(0, pos)});
      if (i != subtree_pacers_.end())
        if (auto pacer = i->second.lock())
          result.push_back(std::move(pacer));
    }
  if (own) {
    // Entries of subtrees that are gone go as new ones come.
    for (auto i = subtree_pacers_.begin(); i != subtree_pacers_.end();)
      i = i->second.expired() ? subtree_pacers_.erase(i) : std::next(i);
    auto& slot = subtree_pacers_[{tree, path}];
    // A new incarnation of a supervisor keeps its subtree's pace.
    auto pacer = slot.lock();
    if (!pacer) {
      pacer = std::make_shared<restart_pacer>(*own);
      slot = pacer;
    }
    result.push_back(std::move(pacer));
  }
  return result;
}

caf::error system_guard::hold(const caf::actor& root) {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    if (stopping_)
      return make_error(errc::shutting_down,
                        "the actor system is shutting down");
    roots_.push_back(root);
  }
  // Runs at once if the root already exited.
  std::weak_ptr<system_guard> weak = shared_from_this();
  root->attach_functor([weak, addr = root.address()] {
    if (auto guard = weak.lock())
      guard->forget(addr);
  });
  return caf::none;
}

void system_guard::forget(const caf::actor_addr& root) {
  caf::actor last_ref;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    for (auto i = roots_.begin(); i != roots_.end(); ++i)
      if (i->address() == root) {
        last_ref = std::move(*i);
        roots_.erase(i);
        break;
      }
  }
  gone_.notify_all();
}

void system_guard::enter(shutdown_phase x) noexcept {
  auto cur = phase_.load(std::memory_order_acquire);
  while (cur < x && !phase_.compare_exchange_weak(cur, x))
    ; // retry
}

void system_guard::stop_all() {
  enter(shutdown_phase::stop_tree);
  auto deadline = std::chrono::steady_clock::now()
                  + caf::get_or(sys_.config(), "trellis.shutdown-time",
                                caf::timespan{default_shutdown_time});
  std::vector<caf::actor> roots;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    stopping_ = true;
    roots = roots_;
  }
  if (!roots.empty())
    report::trees_stopping(roots.size());
  if (auto sched = dynamic_cast<caf::scheduler::test_coordinator*>(
        &sys_.scheduler())) {
    stop_on_test_scheduler(*sched, std::move(roots));
    return;
  }
  // Newest first, each tree in order (its root stops its children in reverse
  // start order), one after another.
  for (auto i = roots.rbegin(); i != roots.rend(); ++i) {
    auto addr = i->address();
    supervisor_actor::ask_to_stop(*i, caf::exit_reason::user_shutdown);
    std::unique_lock<std::mutex> lock{mtx_};
    gone_.wait_until(lock, deadline, [&] {
      for (auto& x : roots_)
        if (x.address() == addr)
          return false;
      return true;
    });
  }
  roots.clear();
  stop_dependencies();
  // What CAF would have waited for, with a bound: a handler that never
  // returns cannot be preempted, and CAF would then wait for ever.
  if (auto left = await_running(sys_, 0, deadline); left > 0) {
    report::system_abandoned(left);
    std::_Exit(EXIT_FAILURE);
  }
}

void system_guard::stop_dependencies() {
  std::shared_ptr<dependency_board> board;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    board = dependencies_;
  }
  if (board)
    board->stop();
}

void system_guard::stop_on_test_scheduler(
  caf::scheduler::test_coordinator& sched, std::vector<caf::actor> roots) {
  for (auto i = roots.rbegin(); i != roots.rend(); ++i)
    supervisor_actor::ask_to_stop(*i, caf::exit_reason::user_shutdown);
  roots.clear();
  stop_dependencies();
  // The test clock stands still unless driven: fire the shutdown timers as
  // they come, a bounded number of times.
  for (int round = 0; round < 10000; ++round) {
    sched.run();
    {
      std::lock_guard<std::mutex> lock{mtx_};
      if (roots_.empty())
        return;
    }
    if (!sched.trigger_timeout())
      return;
  }
}

size_t await_running(caf::actor_system& sys, size_t remaining,
                     std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto running = sys.registry().running();
    if (running <= remaining)
      return 0;
    if (std::chrono::steady_clock::now() >= deadline)
      return running - remaining;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

} // namespace trellis::detail

namespace trellis {

shutdown_phase current_shutdown_phase(const caf::actor_system& sys) {
  auto guard = detail::system_guard::of(sys);
  return guard ? guard->phase() : shutdown_phase::running;
}

caf::error limit_node_restarts(caf::actor_system& sys, restart_limit x) {
  if (auto what = problem_of(x))
    return make_error(errc::invalid_spec, "restart_limit",
                      std::string{"the node "} + what);
  auto guard = detail::system_guard::of(sys);
  if (!guard)
    return make_error(errc::invalid_spec, "restart_limit",
                      "trellis::configure was not called on the actor "
                      "system's config");
  guard->limit_restarts(x);
  return caf::none;
}

} // namespace trellis

namespace trellis::detail {

void install_system_guard(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(
    [](caf::actor_system& sys) -> caf::actor_system::module* {
      return new guard_module(sys);
    });
}

} // namespace trellis::detail
