#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>

#include "trellis/detail/child_registry.hpp"
#include "trellis/detail/restart_budget.hpp"
#include "trellis/supervisor_spec.hpp"

namespace trellis::detail {

/// The actor behind every Trellis supervisor. It owns a child registry and a
/// restart budget, and runs one operation at a time (start a group, stop a
/// group, shut down), like OTP's supervisor, which is blocked while it
/// starts or stops children. Requests that arrive during an operation stay
/// in the mailbox (`caf::skip`) until it ends; exits that arrive during one
/// are queued and decided after it, in arrival order.
///
/// Children are monitored, not linked: in CAF an exit message unlinks its
/// sender, so a child that is asked to stop would never report back through
/// a link. Instead, `on_exit` kills whatever children remain, which gives
/// the guarantee a link would (no orphans), even when the supervisor is
/// killed.
class supervisor_actor : public caf::event_based_actor {
public:
  using super = caf::event_based_actor;

  supervisor_actor(caf::actor_config& cfg, supervisor_spec spec,
                   std::string path);

  caf::behavior make_behavior() override;

  void on_exit() override;

  const char* name() const override;

private:
  using iterator = child_registry::iterator;

  /// A list of children an operation walks; erased children become `end()`.
  using group = std::shared_ptr<std::vector<iterator>>;

  /// Continuation of a start: none on success, else the reason.
  using start_continuation = std::function<void(caf::error)>;

  /// Continuation of a stop.
  using stop_continuation = std::function<void()>;

  struct pending_start {
    iterator child;
    uint64_t token;
    start_continuation k;
  };

  struct pending_stop {
    uint64_t token = 0;
    bool killed = false;
    stop_continuation k;
  };

  // -- starting ---------------------------------------------------------------

  /// Calls the child's factory and waits until the new actor has started.
  void start_child(iterator c, start_continuation k);

  void on_started(uint64_t token);

  void fail_start(caf::error reason);

  /// Starts `g[pos..]` in order. On failure, stops what this call started in
  /// reverse order, then calls `k(failed_child, reason)`; on success calls
  /// `k(end(), none)`.
  void start_group(group g, size_t pos,
                   std::function<void(iterator, caf::error)> k);

  // -- stopping ---------------------------------------------------------------

  /// Stops one child by its shutdown policy; `k` runs once it is gone.
  void stop_child(iterator c, stop_continuation k);

  void on_stop_timeout(const caf::actor_addr& who, uint64_t token);

  void finish_stop(iterator c, caf::error reason);

  /// Stops `g[pos..]` one after another (callers pass reverse start order).
  void stop_group(group g, size_t pos, stop_continuation k);

  // -- failures and restarts --------------------------------------------------

  void on_down(caf::down_msg& msg);

  /// Decides what an exited child's restart type asks for.
  void handle_exit(iterator c);

  /// Charges the restart budget and restarts `c` by the strategy.
  void restart(iterator c);

  /// Stops the group `c`'s failure affects, then starts it again.
  void restart_group(iterator c);

  /// Ends the current operation and decides the exits queued during it.
  void operation_done();

  /// Stops all children in reverse start order, then exits with `reason`.
  void shutdown(caf::error reason);

  // -- helpers ----------------------------------------------------------------

  /// Wraps a continuation so that it does nothing once a shutdown began.
  template <class F>
  auto guarded(F f) {
    return [this, gen = generation_, f = std::move(f)](auto&&... xs) {
      if (gen == generation_)
        f(std::forward<decltype(xs)>(xs)...);
    };
  }

  std::string child_path(const child& c) const;

  void answer_started(const caf::error& err);

  std::vector<child_info> which_children();

  child_counts count_children();

  // -- state ------------------------------------------------------------------

  supervisor_spec spec_;
  std::string path_;
  child_registry children_;
  restart_budget budget_;
  bool busy_ = true;
  bool started_ = false;
  bool shutting_down_ = false;
  uint64_t generation_ = 0;
  uint64_t next_token_ = 0;
  std::optional<pending_start> starting_;
  std::unordered_map<caf::actor_addr, pending_stop> stopping_;
  std::deque<std::string> queued_exits_;
  std::vector<caf::response_promise> started_waiters_;
  caf::error start_failure_;
};

} // namespace trellis::detail
