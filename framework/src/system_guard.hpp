#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "dependency_board.hpp"
#include "restart_pacer.hpp"
#include "trellis/restart_limit.hpp"
#include "trellis/shutdown_phase.hpp"

namespace trellis::detail {

/// What Trellis keeps per actor system: the root supervisors that run on it.
///
/// A root is held here from its spawn until it exits, so that dropping the
/// last user handle to a running tree neither ends it nor lets CAF destroy a
/// live supervisor (CAF destroys an actor that nothing references, and a
/// supervisor that dies that way kills its children from inside its own
/// destructor). When the actor system goes, the guard stops every tree still
/// running, newest first and each in order, while CAF's scheduler still
/// runs, then waits for the system's actors as CAF would, at most the
/// shutdown time (`trellis.shutdown-time`). OTP's `init:stop/0` does the
/// same for applications, with the kernel's `shutdown_time`.
///
/// CAF 0.17 offers no hook into `~actor_system` before its scheduler stops
/// except a module, and a fixed set of module slots: the guard takes the
/// `network_manager` slot, which CAF 0.17 leaves unused (it belongs to
/// libcaf_net, which 0.17 does not have). It sets
/// `await_actors_before_shutdown(false)` and does the awaiting itself, after
/// stopping the trees: CAF would otherwise wait for the trees before any
/// module hears of the shutdown.
class system_guard : public std::enable_shared_from_this<system_guard> {
public:
  explicit system_guard(caf::actor_system& sys);

  /// Returns the guard of `sys`, or null if `trellis::configure` was not
  /// called on its config.
  static std::shared_ptr<system_guard> of(const caf::actor_system& sys);

  /// Holds `root` (a root supervisor, or an actor hosted here for a remote
  /// supervisor) until it exits; `errc::shutting_down` if the system is
  /// already going.
  caf::error hold(const caf::actor& root);

  /// Stops every tree still held, then waits for the system's actors (see
  /// the class). Runs once, from the actor system's destructor.
  void stop_all();

  /// Returns how far the system's shutdown has come (see
  /// `current_shutdown_phase`).
  shutdown_phase phase() const noexcept {
    return phase_.load(std::memory_order_acquire);
  }

  /// Paces every restart on this node to `x` from now on (see
  /// `trellis::limit_node_restarts`).
  void limit_restarts(restart_limit x);

  /// Returns the pacers a new incarnation of the supervisor at `path` in
  /// `tree` restarts through: the node's, its ancestors' and, if `own` is
  /// set, a new one of its own for its subtree, which it holds (the
  /// registry keeps it only while some supervisor does).
  std::vector<std::shared_ptr<restart_pacer>>
  pacers_for(const void* tree, const std::string& path,
             const std::optional<restart_limit>& own);

  /// Returns the node's dependencies and their incidents, made on first use.
  std::shared_ptr<dependency_board> dependencies();

  /// Moves the shutdown to phase `x`; a phase never goes back.
  void enter(shutdown_phase x) noexcept;

private:
  void forget(const caf::actor_addr& root);

  /// Stops the dependency board's timers: no incident outlives the trees.
  void stop_dependencies();

  /// Stops `roots` on CAF's deterministic test scheduler, which runs only
  /// when driven.
  void stop_on_test_scheduler(caf::scheduler::test_coordinator& sched,
                              std::vector<caf::actor> roots);

  caf::actor_system& sys_;
  std::mutex mtx_;
  std::condition_variable gone_;
  bool stopping_ = false;
  std::atomic<shutdown_phase> phase_{shutdown_phase::running};
  /// Running roots, oldest first.
  std::vector<caf::actor> roots_;
  /// The node's pacer, if limited.
  std::shared_ptr<restart_pacer> node_pacer_;
  /// The pacers of supervisors with a `restart_limit`, by tree and path.
  std::map<std::pair<const void*, std::string>, std::weak_ptr<restart_pacer>>
    subtree_pacers_;
  std::shared_ptr<dependency_board> dependencies_;
};

/// Waits until `sys` runs no more than `remaining` actors (hidden ones do
/// not count), at most until `deadline`; returns how many more still run.
size_t await_running(caf::actor_system& sys, size_t remaining,
                     std::chrono::steady_clock::time_point deadline);

/// Registers the guard's module with `cfg` (once; see `trellis::configure`).
void install_system_guard(caf::actor_system_config& cfg);

} // namespace trellis::detail
