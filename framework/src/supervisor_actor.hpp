#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <memory_resource>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/group.hpp>
#include <caf/message_handler.hpp>
#include <caf/response_promise.hpp>
#include <caf/result.hpp>

#include "child_registry.hpp"
#include "dependency_board.hpp"
#include "exit_plan.hpp"
#include "health_monitor.hpp"
#include "operation_queue.hpp"
#include "restart_budget.hpp"
#include "restart_pacer.hpp"
#include "shutdown_sequencer.hpp"
#include "trellis/checkpoint_store.hpp"
#include "trellis/crash_report.hpp"
#include "trellis/dead_letter.hpp"
#include "trellis/detail/crash_witness.hpp"
#include "trellis/fault_injection.hpp"
#include "trellis/detail/event_feed.hpp"
#include "trellis/detail/explained_bounce.hpp"
#include "trellis/detail/member_class.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/supervisor_spec.hpp"
#include "trellis/tree_snapshot.hpp"

namespace trellis::detail {

/// Retries a restart whose start failed (OTP's `try_again_restart`).
using try_again_atom = caf::atom_constant<caf::atom("tr_retry")>;

/// `(stop_atom, reason)` stops a supervisor with `reason`, `normal`
/// included, whoever sends it. A supervisor obeys only its parent's exit
/// signals, so `stop_supervisor` asks by this message, as OTP's
/// `supervisor:stop/3` (`gen_server:stop/3`) stops a process by a system
/// message rather than an exit signal.
using stop_atom = caf::atom_constant<caf::atom("tr_stop")>;

/// Time to probe the preferred nodes of displaced remote children.
using takeover_tick_atom = caf::atom_constant<caf::atom("tr_takeov")>;

/// An incarnation declared unhealthy and replaced, whose exit is still
/// awaited (see `supervisor_actor::child_unhealthy`).
struct abandoned_incarnation {
  caf::actor handle;
  /// The child it was an incarnation of.
  std::string id;
};

/// The actor behind every Trellis supervisor: a shell that receives
/// messages and runs what its parts decide. `exit_plan` decides what an
/// exit asks for, `operation_queue` runs one operation at a time (requests
/// and exits that arrive during one wait for it; snapshots and lookups only
/// read, so they are answered at once), `shutdown_sequencer` stops
/// children, `health_monitor` checks them, `child_registry` keeps them and
/// `restart_budget` counts restarts. See docs/concepts.md, "Inside a
/// supervisor".
///
/// Children are monitored, not linked: in CAF an exit message unlinks its
/// sender, so a child that is asked to stop would never report back through
/// a link. Instead, `on_exit` kills whatever children remain, which gives
/// the guarantee a link would (no orphans), even when the supervisor is
/// killed.
class supervisor_actor : public caf::event_based_actor,
                         private tree_member,
                         private shutdown_sequencer::host,
                         private health_monitor::host {
public:
  using super = caf::event_based_actor;

  /// A supervisor keeps this many crash reports of its children.
  static constexpr size_t max_crash_reports = 64;

  /// Of those, the newest this many keep their last messages.
  static constexpr size_t max_logged_crash_reports = 8;

  supervisor_actor(caf::actor_config& cfg, supervisor_spec spec,
                   std::string path, std::shared_ptr<event_feed> feed,
                   caf::actor_addr parent);

  /// Spawns a supervisor for `spec` at `path` that publishes on `feed`,
  /// detached if the spec asks for it. `parent` is the actor whose exit
  /// signals stop it (OTP's parent): the supervisor above it, or the actor
  /// that started the tree. Without one (a tree started outside any actor),
  /// the program is the parent, and it signals anonymously.
  static caf::actor spawn(caf::actor_system& sys, const supervisor_spec& spec,
                          std::string path, std::shared_ptr<event_feed> feed,
                          caf::actor_addr parent);

  /// Asks the supervisor `sup` to stop with `reason`, `normal` included, as
  /// `stop_supervisor` does; any other actor gets an exit message. Works
  /// whoever asks: only exit signals are kept for the parent.
  static void ask_to_stop(const caf::actor& hdl, caf::error reason);

  caf::behavior make_behavior() override;

  caf::invoke_message_result consume(caf::mailbox_element& x) override;

  void on_exit() override;

  const char* name() const override;

  /// Answers a request that reaches the supervisor after it ended (see
  /// `closing_bouncer`: a member, not the `explained_bounce` mixin, which
  /// would be one more class for CAF's cast of every job it resumes).
  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* host) override;

  bool cleanup(caf::error&& reason, caf::execution_unit* host) override;

private:
  /// Finds the private `tree_member` base (see `member_class`): a public one
  /// would lengthen CAF's cast of every job it resumes.
  static const tree_member& member_fn(const caf::abstract_actor& x) noexcept;

  /// Stops with a signal from the parent; ignores and reports one from a
  /// stranger (OTP's supervisor ignores them too).
  void on_exit_signal(caf::exit_msg& msg);

  /// Returns the answer to a request the supervisor, ended for `reason`,
  /// cannot handle.
  caf::error receiver_down(const caf::error& reason) const;

  auto explain() const {
    return [this](const caf::error& reason) { return receiver_down(reason); };
  }

  using iterator = child_registry::iterator;

  /// A list of children an operation walks; erased children become `end()`.
  using group = shutdown_sequencer::group;

  /// Continuation of a start: none on success, else the reason.
  using start_continuation = std::function<void(caf::error)>;

  // -- starting ---------------------------------------------------------------

  /// Calls the child's factory and waits until the new actor has started.
  void start_child(iterator c, start_continuation k);

  /// The features' part of a start (`start_child`): a pause or a delayed
  /// restart superseded, a quarantine, a kept mailbox or a decider's limit
  /// made, what a kept mailbox lost told.
  void prepare_start(child& c);

  /// Keeps what a start of `c` learned: its checkpoint's `latest`, the node
  /// it runs on (a lost node that took it is back).
  void keep_placement(iterator c, child_context& ctx);

  /// Handles a start that produced no actor of the declared kind (ignored,
  /// failed, refused, or recovery failed); returns whether it did, after
  /// calling `k`.
  bool refuse_start(iterator c, start_result& res, child_context& ctx,
                    start_continuation& k);

  /// Waits for an actor not spawned through the context to answer, which it
  /// does once initialized; then `on_started`.
  void await_start(iterator c, const caf::actor& hdl, uint64_t token);

  /// Returns why `hdl`, which the context did not spawn, cannot be child
  /// `c`: it is this supervisor, its parent, another child's actor, which
  /// a second binding would hide (its start would never complete), or an
  /// actor of another actor system, which this one cannot stop; or none.
  caf::error check_adopted(const child& c, const caf::actor& hdl);

  /// Returns why `hdl` cannot be child `c`: a local actor that is no
  /// supervisor for a child declared one, or a blocking actor the context
  /// did not spawn (`adopted`), which never says it has started; or none.
  caf::error check_kind(const child& c, const caf::actor& hdl,
                        bool adopted) const;

  /// Calls `c`'s factory, unless fault injection armed its next start.
  start_result start_or_fault(iterator c, child_context& ctx);

  /// The pending start of `c` is complete.
  void on_started(iterator c);

  /// Fails the pending start of `c`.
  void fail_start(iterator c, caf::error reason);

  /// Ends the pending start of `c`; returns its continuation.
  start_continuation end_start(iterator c);

  /// Starts `g[pos..]` in order. On failure calls `k(failed_child, reason)`,
  /// after stopping what this call started, in reverse order, if `undo` (a
  /// supervisor's own start); on success calls `k(end(), none)`.
  void start_group(group g, size_t pos, bool undo,
                   std::function<void(iterator, caf::error)> k);

  struct group_start;

  /// Starts the next children of `st`'s group, for as long as each starts
  /// at once.
  void start_next(std::shared_ptr<group_start> st);

  // -- stopping ---------------------------------------------------------------

  /// Asks child `hdl` to stop with `user_shutdown`: by an exit signal, or
  /// by the stop message for a supervisor whose parent we are not.
  void ask_child_to_stop(const child& c) override;

  /// Reports and forgets the incarnation of `c`, whose stop ended.
  void child_stopped(iterator c, caf::error reason) override;

  // -- runtime API (supervisor_api.cpp) ---------------------------------------

  /// Runs `f` now, or after the current operation (see `operation_queue`).
  template <class F>
  void when_idle(F f, bool may_overlap = false) {
    ops_.when_idle(std::move(f), may_overlap);
  }

  /// Queues a request until the supervisor is free for it (see
  /// `when_idle`), then runs `f(rp)`, which answers through `rp` now or
  /// later; answers `errc::shutting_down` once the supervisor stops.
  template <class F>
  caf::response_promise queue_request(F f, bool may_overlap = false) {
    auto rp = make_response_promise();
    when_idle(
      [this, rp, f = std::move(f)]() mutable {
        if (shutting_down_)
          rp.deliver(shutting_down_error());
        else
          f(rp);
      },
      may_overlap);
    return rp;
  }

  caf::error shutting_down_error() const;

  /// Starts an API operation that answers through `rp` later; returns the
  /// token to answer with.
  uint64_t begin_reply(caf::response_promise rp, bool overlapping = false) {
    return ops_.begin_reply(std::move(rp), overlapping);
  }

  /// Answers the API operation `op` and ends it.
  template <class T>
  void reply(uint64_t op, T&& x) {
    ops_.reply(op, std::forward<T>(x));
  }

  /// The runtime API's handlers, each for `make_behavior`.
  caf::message_handler api_handlers();

  void api_start_child(child_spec spec, caf::response_promise& rp);

  void api_start_dynamic_child(caf::message args, caf::response_promise& rp);

  /// Starts a child just added by the API; drops it if the start fails.
  void start_new_child(iterator c, caf::response_promise& rp,
                       bool overlapping = false);

  void api_terminate_child(iterator c, caf::response_promise& rp);

  void api_restart_child(const std::string& id, caf::response_promise& rp);

  caf::expected<caf::ok_atom> api_delete_child(const std::string& id);

  caf::expected<child_spec> api_get_childspec(const std::string& id);

  /// Returns `errc::not_supported` if `op` is for the other kind of
  /// supervisor, else none.
  caf::error unsupported(const char* op, bool for_dynamic) const;

  /// Returns `errc::restarting` for `c`, saying so if it is paused.
  caf::error restarting_error(const child& c) const;

  /// Returns `errc::not_found` naming `id`.
  caf::error no_child(const std::string& id) const;

  /// Answers `(snapshot_atom)`: this node and, through their own snapshots,
  /// the subtrees of running child supervisors.
  void api_snapshot(caf::response_promise rp);

  /// Whether stopped child `c` is started again by the pending retry of a
  /// group restart (one_for_all, rest_for_one).
  bool awaits_group_retry(iterator c);

  caf::result<caf::actor> api_lookup(const std::string& target);

  tree_snapshot node_of(const child& c);

  // -- looking inside children (supervisor_sys.cpp) ---------------------------

  /// The handlers of trellis/sys.hpp's messages, for `make_behavior`. They
  /// answer at once, not after the current operation: they read the running
  /// incarnation, also while it restarts others or is stuck.
  caf::message_handler sys_handlers();

  /// Returns the running incarnation of child `id` that `op` can look
  /// inside, or an error saying why not.
  caf::expected<iterator> inspected(const std::string& id, const char* op);

  /// Asks the incarnation of `c` for its state within `within`.
  void sys_get_state(iterator c, caf::timespan within,
                     caf::response_promise rp);

  // -- health checks ----------------------------------------------------------

  /// Kills a child that failed its health checks, forgets that incarnation
  /// without waiting for it (it may be stuck), and handles it as failed.
  void child_unhealthy(iterator c, caf::error reason) override;

  // -- takeover (takeover.cpp) ------------------------------------------------

  /// Makes sure a takeover tick comes if `c` runs away from its first node
  /// and its spec asks for takeover.
  void arm_takeover(const child& c);

  /// Probes the preferred nodes of every displaced child.
  void on_takeover_tick();

  /// Moves child `id` back to `node`, which answered a probe.
  void take_over(const std::string& id, const std::string& node);

  // -- events -----------------------------------------------------------------

  /// Returns an event about child `c`, happening now.
  lifecycle_event event_about(lifecycle_kind kind, const child& c,
                              const caf::error& reason = caf::none) const;

  /// Publishes an event about child `c` on the tree's event group; for the
  /// events whose report says more (`report::child_started`) or is written
  /// when the exit is handled (`report::child_terminated`).
  void publish(lifecycle_kind kind, const child& c,
               const caf::error& reason = caf::none,
               std::shared_ptr<const crash_report> crash = nullptr) {
    // Checked before anything is built: an unwatched tree pays a load.
    if (feed_->live())
      publish_now(kind, c, reason, std::move(crash));
  }

  void publish_now(lifecycle_kind kind, const child& c,
                   const caf::error& reason,
                   std::shared_ptr<const crash_report> crash);

  /// Tells of an event about child `c`: its report and its publication.
  void tell(lifecycle_kind kind, const child& c, const caf::error& reason);

  // -- failures and restarts --------------------------------------------------

  void on_down(caf::down_msg& msg);

  /// `c`'s actor is gone for `reason`: decide now, or after the current
  /// operation. `decided` is the decision the actor took itself for the
  /// exception it crashed on (see `resume_limiter`), if it did.
  void child_exited(iterator c, caf::error reason,
                    std::optional<decision> decided = std::nullopt,
                    std::shared_ptr<const crash_report> crash = nullptr);

  /// Keeps the crash report of incarnation `who` of `c`, which ended for
  /// `reason`, an exception (`errc::unhandled_exception`), if its record
  /// is here, and writes it; returns it.
  std::shared_ptr<const crash_report>
  keep_crash(const child& c, const caf::actor_addr& who,
             const caf::error& reason);

  /// Asks `plan_exit` what the exit of `c` asks for, and runs the plan.
  void handle_exit(iterator c);

  /// Carries out `plan` for child `c`; `incident` is the open incident a
  /// `pause` waits for and its dependency.
  void run(iterator c, const exit_plan& plan,
           const std::pair<uint64_t, std::string>& incident = {});

  /// Restarts `c`'s group after `delay` and its turn in the restart limits
  /// above it (see `restart_limit`); charged already, or never (a resume).
  void restart_after(iterator c, caf::timespan delay);

  // -- storm control (see `dependency_policy`) --------------------------------

  /// Returns the node's dependency board, fetched on first use.
  dependency_board* board();

  /// Counts the failure of `c` (its start, if `start`) towards its
  /// dependencies' incidents; returns the open one it is to pause for, if
  /// any.
  std::pair<uint64_t, std::string> dependency_failed(const child& c,
                                                     bool start);

  /// Pauses `c` for `incident`; false if the incident closed meanwhile.
  bool pause(iterator c, const std::pair<uint64_t, std::string>& incident);

  /// Forgets that `c` was paused: it was stopped, removed or started.
  void unpause(child& c);

  /// The incident asked for `id` as its canary.
  void on_canary(uint64_t incident, uint64_t epoch, const std::string& id);

  /// If `c` is a canary restarting: tells the board it runs (`started`), or
  /// forgets it (its start failed, which the board counts as a failure).
  void canary_ran(const child& c, bool started);

  /// The incident closed: `id` restarts after `delay`.
  void on_dependency_back(uint64_t incident, const std::string& id,
                          caf::timespan delay);

  /// Retries a restart whose start failed: charged to the budget again,
  /// then the group restarts from `c`.
  void retry_restart(iterator c);

  /// A restart delayed by backoff is due.
  void on_restart_due(const std::string& id, uint64_t token);

  /// Stops the group `c`'s failure affects, then starts it again.
  void restart_group(iterator c);

  /// Starts `c` again as a restart, once whatever had to stop has stopped,
  /// and ends the current operation.
  void start_again(iterator c, bool overlapping);

  /// The start of `start_again` ended, with `err` if it failed.
  void started_again(iterator c, const caf::error& err, bool overlapping);

  /// Removes `c` if it answered `ignore` and is temporary or dynamic, as OTP
  /// does; returns whether it did.
  bool drop_if_ignored(iterator c);

  /// After `failed` failed to start in a restart: reports it and retries
  /// later, from `failed`.
  void retry_later(iterator failed, const caf::error& err);

  /// Applies `auto_shutdown` after a child that ended by itself left the
  /// running set (stopped or removed).
  void auto_shutdown_after(bool significant);

  /// Stops all children in reverse start order (all at once if dynamic),
  /// answers queued requests with `errc::shutting_down`, then exits with
  /// `reason`.
  void shutdown(caf::error reason);

  // -- helpers ----------------------------------------------------------------

  /// Wraps a continuation so that it does nothing once a shutdown began.
  template <class F>
  auto guarded(F f) {
    return guard_.guarded(std::move(f));
  }

  std::string child_path(const child& c) const;

  /// Remembers `node` as lost: remote starts try it last until a child
  /// starts there again.
  void lose_node(const std::string& node);

  void answer_started(const caf::error& err);

  /// Answers every waiting request; used once the supervisor stops.
  void refuse_waiting(const caf::error& reason);

  // -- recovery ---------------------------------------------------------------

  /// Removes a child for good: its checkpoint goes, its dead letters stay.
  void remove_child(iterator c);

  /// Files `c`, a dynamic child whose actor just exited, under that actor
  /// until it runs again (see `child::exited_as`).
  void remember_exit(iterator c);

  /// Forgets what `remember_exit` filed for `c`.
  void forget_exit(child& c);

  /// Returns where `c`'s checkpoints live.
  const std::shared_ptr<checkpoint_store>& store_of(const child& c) const;

  /// Bounces what waits in `c`'s kept mailbox, since no restart follows (for
  /// good if `retire`), and tells how much was lost (`messages_lost`).
  void discard_kept(child& c, bool retire);

  /// Reports and publishes `messages_lost` for `c`, unless nothing was lost.
  void publish_lost(child& c, const lost_messages& lost);

  /// A child resumed after an exception in a handler (see
  /// `decision::resume`): tells of it (`child_resumed`).
  void on_resumed(caf::error reason, uint64_t resumes);

  /// Counts a crash of `c` towards its poison-message limit.
  void count_poison(child& c, const caf::actor_addr& who,
                    const caf::error& reason);

  std::vector<dead_letter> dead_letters() const;

  std::vector<crash_report> crash_reports() const;

  /// What `which_children` says of one child.
  child_info info_of(const child& c) const;

  std::vector<child_info> which_children();

  child_counts count_children();

  // -- state ------------------------------------------------------------------

  supervisor_spec spec_;
  std::shared_ptr<event_feed> feed_;
  /// The actor whose exit signals stop this supervisor; null: the program,
  /// whose signals come anonymously (see `spawn`).
  caf::actor_addr parent_;
  child_registry children_;
  restart_budget budget_;
  operation_queue ops_;
  /// Drops the continuations of the operation in flight at a shutdown.
  continuation_guard guard_;
  shutdown_sequencer stops_{this, this, children_, guard_,
                            spec_.kill_timeout()};
  health_monitor health_{this, this, children_};
  bool started_ = false;
  bool shutting_down_ = false;
  uint64_t next_token_ = 0;
  uint64_t next_dynamic_id_ = 0;
  caf::actor_clock::time_point started_at_;
  /// Children whose start is pending (see `child::start`).
  size_t pending_starts_ = 0;
  /// Incarnations declared unhealthy that have not exited yet: still
  /// monitored, and killed again if the supervisor exits first.
  std::unordered_map<caf::actor_addr, abandoned_incarnation> abandoned_;
  /// Randomness for backoff jitter.
  std::minstd_rand rng_{std::random_device{}()};
  std::uniform_real_distribution<double> jitter_{0.0, 1.0};
  uint64_t next_snapshot_ = 0;
  std::unordered_map<uint64_t, caf::response_promise> open_snapshots_;
  std::vector<caf::response_promise> started_waiters_;
  caf::error start_failure_;
  /// The children's default checkpoint store.
  std::shared_ptr<checkpoint_store> checkpoints_;
  closing_bouncer bouncer_;
  /// Dead letters of children that are gone, oldest first.
  std::deque<dead_letter> retired_letters_;
  /// The children's last crash reports, oldest first.
  std::deque<std::shared_ptr<const crash_report>> crashes_;
  /// Start faults armed by fault injection, by child id; each fires once.
  std::unordered_map<std::string, fault> armed_faults_;
  /// Nodes whose connection was lost or whose children hung, oldest first.
  std::vector<std::string> lost_nodes_;
  /// Whether a takeover tick is pending.
  bool takeover_armed_ = false;
  /// The pacers every restart goes through (see `trellis::restart_limit`):
  /// the node's, the subtrees' above, this subtree's; usually none.
  std::vector<std::shared_ptr<restart_pacer>> pacers_;
  /// The node's dependency board, once a child with dependencies failed.
  std::shared_ptr<dependency_board> board_;
  /// Canaries restarting: child id, incident and the board's epoch, until
  /// their start ends.
  struct canary_start {
    std::string id;
    uint64_t incident;
    uint64_t epoch;
  };
  std::vector<canary_start> canaries_;
  /// Restarting dynamic children by the actor whose exit they restart from.
  std::unordered_map<caf::actor_addr, iterator> restarting_by_old_;
};

} // namespace trellis::detail
