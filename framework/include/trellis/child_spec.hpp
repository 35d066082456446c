#pragma once

/// @file
/// `child_spec`, one child of a supervisor (OTP's child specification), and
/// the `worker` builders.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/infer_handle.hpp>
#include <caf/local_actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/detail/pretty_type_name.hpp>
#include <caf/detail/type_list.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

#include "trellis/checkpoint_store.hpp"
#include "trellis/child_context.hpp"
#include "trellis/child_type.hpp"
#include "trellis/decision.hpp"
#include "trellis/detail/crash_witness.hpp"
#include "trellis/detail/factory_traits.hpp"
#include "trellis/errc.hpp"
#include "trellis/health_check.hpp"
#include "trellis/restart_backoff.hpp"
#include "trellis/restart.hpp"
#include "trellis/shutdown.hpp"
#include "trellis/start_result.hpp"
#include "trellis/traced_message.hpp"

namespace trellis {

class supervisor_spec;

/// Starts a child: called by the supervisor, inside the supervisor, for the
/// first start and for every restart. May fail (return an error, throw, or
/// return an invalid handle) or answer `ignore`. A child of a dynamic
/// supervisor finds its start arguments in `child_context::args()`.
using child_factory = std::function<start_result(child_context&)>;

/// Describes one child of a supervisor (OTP's child specification). A plain
/// value: build it with `worker(...)` or `supervisor(...)`, adjust it with the
/// chainable setters, and hand it to a supervisor spec.
///
/// Defaults, as in OTP: `restart::permanent`; shutdown after a 5 second
/// timeout for workers and `shutdown::infinity()` for supervisors.
class child_spec {
public:
  /// An empty spec, without id or factory; `validate` refuses it.
  child_spec() = default;

  /// Copies share everything but the id until one of them is changed.
  child_spec(const child_spec&) = default;

  /// Copies share everything but the id until one of them is changed.
  child_spec& operator=(const child_spec&) = default;

  /// Moves share the data rather than leave the source without any, so that
  /// a moved-from spec still answers its getters.
  child_spec(child_spec&& other) noexcept
    : id_(std::move(other.id_)), d_(other.d_) {
    // nop
  }

  /// Moves share the data, as the move constructor does.
  child_spec& operator=(child_spec&& other) noexcept {
    id_ = std::move(other.id_);
    d_ = other.d_;
    return *this;
  }

  /// A worker child with the given id and factory.
  child_spec(std::string id, child_factory start) : id_(std::move(id)) {
    d_->start = std::move(start);
  }

  /// Returns the id, unique within the supervisor.
  const std::string& id() const noexcept {
    return id_;
  }

  /// Sets the id.
  child_spec& id(std::string x) {
    id_ = std::move(x);
    return *this;
  }

  /// Returns the factory.
  const child_factory& start() const noexcept {
    return d_->start;
  }

  /// Sets the factory.
  child_spec& start(child_factory x) {
    mut().start = std::move(x);
    return *this;
  }

  /// Returns when the child gets restarted.
  trellis::restart restart() const noexcept {
    return d_->restart;
  }

  /// Sets when the child gets restarted.
  child_spec& restart(trellis::restart x) {
    mut().restart = x;
    return *this;
  }

  /// Returns how the child is stopped: the explicit policy, or the default
  /// for its type.
  trellis::shutdown shutdown() const noexcept {
    if (d_->shutdown)
      return *d_->shutdown;
    return d_->type == child_type::supervisor
             ? trellis::shutdown::infinity()
             : trellis::shutdown::timeout(std::chrono::seconds(5));
  }

  /// Sets how the child is stopped.
  child_spec& shutdown(trellis::shutdown x) {
    mut().shutdown = x;
    return *this;
  }

  /// Returns whether the child is a worker or a supervisor.
  child_type type() const noexcept {
    return d_->type;
  }

  /// Sets whether the child is a worker or a supervisor.
  child_spec& type(child_type x) {
    mut().type = x;
    return *this;
  }

  /// Returns whether the child is significant for its supervisor's
  /// `auto_shutdown` (OTP's `significant`, default false).
  bool significant() const noexcept {
    return d_->significant;
  }

  /// Marks the child significant: when it ends by itself, its supervisor may
  /// shut down (see `trellis::auto_shutdown`). Only transient and temporary
  /// children may be significant, and only under a supervisor whose
  /// auto_shutdown is not `never`.
  child_spec& significant(bool x) {
    mut().significant = x;
    return *this;
  }

  /// Returns the child's health check, if it has one.
  const std::optional<trellis::health_check>& health_check() const noexcept {
    return d_->health_check;
  }

  /// Makes the supervisor probe the child while it runs; a child that
  /// misses the checks is killed and handled as failed (see
  /// `trellis::health_check`).
  child_spec& health_check(trellis::health_check x) {
    mut().health_check = x;
    return *this;
  }

  /// Returns the child's restart backoff, if it has one.
  const std::optional<restart_backoff>& backoff() const noexcept {
    return d_->backoff;
  }

  /// Delays the child's restarts exponentially (see `restart_backoff`).
  child_spec& backoff(restart_backoff x) {
    mut().backoff = x;
    return *this;
  }

  /// Returns the dependencies the child names (see `depends_on`).
  const std::vector<std::string>& dependencies() const noexcept {
    return d_->dependencies;
  }

  /// Names something the child needs, such as `"db"`; may be called for
  /// several. The child's failures count towards an incident of that
  /// dependency, and while one is open its failures pause it rather than
  /// restart it, charged to no restart intensity (see
  /// `dependency_policy`). For the children a shared outage takes down
  /// together: their restarts would only fail again and exhaust the
  /// restart intensities of every supervisor above them.
  child_spec& depends_on(std::string dependency) {
    auto& deps = mut().dependencies;
    if (std::find(deps.begin(), deps.end(), dependency) == deps.end())
      deps.push_back(std::move(dependency));
    return *this;
  }

  /// Returns the child's decider, if any.
  const trellis::decider& decider() const noexcept {
    return d_->decider;
  }

  /// Lets `f` decide, from each exit reason, whether the child is
  /// restarted, left stopped, or its supervisor gives up, and from each
  /// exception in one of its handlers, whether it resumes instead (see
  /// `decision`); it replaces OTP's rules by restart type for this child.
  /// `f` may run on the child's thread as well as the supervisor's: see
  /// `trellis::decider`.
  child_spec& decider(trellis::decider f) {
    mut().decider = std::move(f);
    return *this;
  }

  /// Returns how often the child may resume; default 3 within 5 seconds
  /// (see `trellis::resume_limit`).
  trellis::resume_limit resume_limit() const noexcept {
    return d_->resume_limit;
  }

  /// Lets the child resume (its decider answering `decision::resume`) at
  /// most `resumes` times within `period`; past that, an exception in a
  /// handler takes the restart path. 0 never resumes.
  child_spec& resume_limit(size_t resumes, caf::timespan period) {
    mut().resume_limit = trellis::resume_limit{resumes, period};
    return *this;
  }

  /// Returns whether the child runs on a thread of its own.
  bool detached() const noexcept {
    return d_->detached;
  }

  /// Runs the child on a thread of its own (CAF's `detached`), when its
  /// factory spawns through `child_context::spawn` (as `worker` does). A
  /// detached child stuck in a handler blocks only its own thread, never
  /// the scheduler's, so the rest of the system and its own replacement keep
  /// running. Costs a thread per child.
  child_spec& detached(bool x) {
    mut().detached = x;
    return *this;
  }

  /// Returns where the child's checkpoints live, or null for the
  /// supervisor's memory store (see `trellis::checkpoint`).
  const std::shared_ptr<trellis::checkpoint_store>&
  checkpoint_store() const noexcept {
    return d_->checkpoint_store;
  }

  /// Keeps the child's checkpoints in `x`, such as a
  /// `make_file_checkpoint_store(dir)` so that they survive the process.
  child_spec& checkpoint_store(std::shared_ptr<trellis::checkpoint_store> x) {
    mut().checkpoint_store = std::move(x);
    return *this;
  }

  /// Returns after how many crashes in a row on the same message that
  /// message is quarantined; 0 (the default) never quarantines.
  int quarantine_after() const noexcept {
    return d_->quarantine_after;
  }

  /// Quarantines a message that crashes the child `k` times in a row: later
  /// incarnations set its copies aside (answering requests with
  /// `errc::quarantined`) instead of crashing on them, and it is kept as a
  /// `dead_letter`. Messages are told apart by type and serialized content.
  /// Needs the child spawned through `child_context::spawn` (as `worker`
  /// does); a supervisor child cannot have it. The crashes still count
  /// against the restart intensity.
  child_spec& quarantine_after(int k) {
    mut().quarantine_after = k;
    return *this;
  }

  /// Returns whether the child's next incarnation inherits the messages
  /// still queued when it ends; default false.
  bool keep_mailbox() const noexcept {
    return d_->keep_mailbox;
  }

  /// Hands the messages still queued when the child ends to its next
  /// incarnation, in order, with their senders and request ids, ahead of
  /// anything newer: requests among them are answered by the new
  /// incarnation, and what reaches the ended incarnation's address later
  /// follows them. The message a crash happened on is not among them (its
  /// request gets the crash as its answer). When no restart follows (the
  /// child is stopped, removed, or its supervisor gives up) they bounce as
  /// they would without it (`caf::sec::request_receiver_down`) and a
  /// `messages_lost` event counts them. At most 100,000
  /// messages wait; a request past it gets `errc::overloaded`.
  ///
  /// Only what a child's own thread can hand over is kept: a crash in a
  /// handler and a kill it handles itself, not the mailbox of a child stuck
  /// in a handler (replaced while hung), and neither a blocking nor a
  /// remote child's (rejected with `errc::invalid_spec`). Needs the child
  /// spawned through `child_context::spawn` (as `worker` does). OTP has no
  /// such option: an Erlang process's mailbox dies with it.
  child_spec& keep_mailbox(bool x) {
    mut().keep_mailbox = x;
    return *this;
  }

  /// Returns whether the service is ready only while this child runs and
  /// passes its health checks; default false.
  bool needed_for_readiness() const noexcept {
    return d_->needed_for_readiness;
  }

  /// Makes the service's readiness depend on this child: the observer's
  /// `/readyz` answers 503, naming it, while it is not running or has
  /// missed its latest health check (see `health_check`). Mark what the
  /// service cannot serve without, such as a listener or the store it
  /// writes to. OTP has no readiness of its own.
  child_spec& needed_for_readiness(bool x) {
    mut().needed_for_readiness = x;
    return *this;
  }

  /// Returns how many handled messages each incarnation keeps for its crash
  /// report; default 0.
  size_t keep_last_messages() const noexcept {
    return d_->forensics ? d_->forensics->last_messages : 0;
  }

  /// Keeps the last `n` messages each incarnation handled (at most 10,000),
  /// shown oldest first in its crash reports (`crash_report::last_messages`),
  /// much as `sys:log` keeps a process's last events in OTP. Costs a copy of
  /// every message it handles (0, the default, costs nothing). Needs an
  /// event-based child spawned through `child_context::spawn` (as `worker`
  /// does): a blocking child's start fails with `errc::invalid_spec`.
  child_spec& keep_last_messages(size_t n) {
    auto x = forensics_copy();
    x.last_messages = n;
    return forensics(std::move(x));
  }

  /// Renders the child's state, for `get_state` and for its crash reports
  /// (`crash_report::state`), as OTP's `format_status` does for both. `f`
  /// takes a pointer to the child's actor, of the type the factory spawns,
  /// such as `caf::stateful_actor<cart>*` or a class derived from
  /// `caf::event_based_actor`, and returns something convertible to
  /// `std::string`. It runs on the child's thread: for a crash as the
  /// exception leaves the handler, so it sees the state as the handler left
  /// it. What it throws, or a child of another type, becomes
  /// `crash_report::state_error` (the report goes on), or `get_state`'s
  /// `errc::unhealthy`. Needs an event-based child spawned through
  /// `child_context::spawn`: a blocking child's start fails with
  /// `errc::invalid_spec`.
  template <class F>
  child_spec& format_state(F f) {
    using trait = caf::detail::get_callable_trait<F>;
    static_assert(trait::num_args == 1,
                  "format_state takes a function of one argument, a "
                  "pointer to the child's actor");
    using arg = caf::detail::tl_head_t<typename trait::arg_types>;
    using actor_type = std::remove_cv_t<std::remove_pointer_t<arg>>;
    static_assert(std::is_pointer<arg>::value
                    && std::is_base_of<caf::local_actor, actor_type>::value,
                  "format_state takes a function of a pointer to the "
                  "child's actor, such as caf::stateful_actor<State>*");
    auto x = forensics_copy();
    x.dump = [f = std::move(f)](caf::local_actor* self) -> std::string {
      auto typed = dynamic_cast<actor_type*>(self);
      if (typed == nullptr)
        throw std::logic_error("the state hook expects "
                               + caf::detail::pretty_type_name(
                                 typeid(actor_type))
                               + ", the child is another type");
      return std::string{f(typed)};
    };
    return forensics(std::move(x));
  }

  /// The same as `format_state`, by the name it had first.
  template <class F>
  child_spec& on_crash_dump(F f) {
    return format_state(std::move(f));
  }

  /// Returns whether each incarnation starts with its statistics on;
  /// default false.
  bool statistics() const noexcept {
    return d_->forensics && d_->forensics->statistics;
  }

  /// Starts each incarnation with its statistics on (see `child_statistics`
  /// and `get_statistics`): messages handled, handler time percentiles, the
  /// running handler's time and the mailbox depth. Costs two clock reads
  /// and a few stores per message, and two atomic adds per message sent to
  /// the child (docs/benchmarks.md, `message_statistics`); `set_statistics`
  /// switches them at run time. Needs an event-based child spawned through
  /// `child_context::spawn`, as `keep_last_messages` does.
  child_spec& statistics(bool on) {
    auto x = forensics_copy();
    x.statistics = on;
    return forensics(std::move(x));
  }

  /// Returns how many handled messages each incarnation traces; default 0.
  size_t trace() const noexcept {
    return d_->forensics ? d_->forensics->trace : 0;
  }

  /// Traces the last `n` messages each incarnation handles (at most
  /// `max_traced_messages`), with when, for how long and how each ended
  /// (see `get_trace`; `set_trace` switches it at run time). Costs a copy of
  /// every message and a lock; 0, the default, costs nothing. Needs an
  /// event-based child spawned through `child_context::spawn`.
  child_spec& trace(size_t n) {
    auto x = forensics_copy();
    x.trace = n;
    return forensics(std::move(x));
  }

  /// Returns whether the spec has a `format_state` hook.
  bool has_crash_dump() const noexcept {
    return d_->forensics && d_->forensics->dump != nullptr;
  }

  /// Internal: what the child's incarnations record beyond the stack and
  /// the message, or null.
  const std::shared_ptr<const detail::forensics_spec>& forensics() const {
    return d_->forensics;
  }

  /// Returns the nodes the child may run on, as `host:port`, most preferred
  /// first; empty for a local child.
  const std::vector<std::string>& nodes() const noexcept {
    return d_->nodes;
  }

  /// Places a remote child (see `remote_worker`) on the first live node of
  /// `xs`, each `host:port`. When that node is lost, the restart goes to
  /// the next live one (failover). Unlike OTP, where failover belongs to
  /// distributed applications, here it is a property of the child spec.
  child_spec& nodes(std::vector<std::string> xs) {
    mut().nodes = std::move(xs);
    mut().placed = true;
    return *this;
  }

  /// Returns whether a remote child moves back to a more preferred node once
  /// that node is reachable again (OTP's takeover); default false.
  bool takeover() const noexcept {
    return d_->takeover;
  }

  /// Moves a remote child back to a more preferred node when it returns.
  child_spec& takeover(bool x) {
    mut().takeover = x;
    return *this;
  }

  /// Returns the actor type name a remote child is spawned as on its node,
  /// or empty for a local child.
  const std::string& remote_type() const noexcept {
    return d_->remote_type;
  }

  /// Sets the actor type name a remote child is spawned as (registered on
  /// the node with `add_remote_type`); set by `remote_worker`.
  child_spec& remote_type(std::string x) {
    mut().remote_type = std::move(x);
    return *this;
  }

  /// Returns the spec of the supervisor this child runs, if it is one built
  /// by `supervisor_spec::as_child`, or null.
  const std::shared_ptr<const supervisor_spec>& nested() const noexcept {
    return d_->nested;
  }

  /// Checks the spec as a supervisor does before it starts anything. It
  /// requires a non-empty id without '/', a factory, a shutdown timeout of 0
  /// to 1 year, a health check interval and timeout above 0 and at most 1
  /// year with
  /// `max_missed` of at least 1 (and no readiness probe for a supervisor), a
  /// backoff with `0 < min <= max <= 1 year`, a jitter in [0, 1] and a
  /// non-negative `reset_after`, a positive `resume_limit` period of at most
  /// a year, a non-negative `quarantine_after` and none
  /// for a supervisor, `keep_mailbox`, `keep_last_messages` (at most 10,000),
  /// `format_state`, `statistics` and `trace` (at most
  /// `max_traced_messages`) only for a local worker, significance
  /// only for transient and temporary children, and for a nested supervisor its whole spec; for a remote
  /// child a type name and a non-empty list of `host:port` nodes, and nodes
  /// only for a remote child, and dependencies with non-empty names.
  /// Returns an `errc::invalid_spec` naming the field, or none.
  caf::error validate() const;

private:
  caf::error validate_placement() const;

  detail::forensics_spec forensics_copy() const {
    return d_->forensics ? *d_->forensics : detail::forensics_spec{};
  }

  child_spec& forensics(detail::forensics_spec x) {
    if (x.empty())
      mut().forensics = nullptr;
    else
      mut().forensics = std::make_shared<const detail::forensics_spec>(
        std::move(x));
    return *this;
  }

  /// Everything but the id, shared between copies until one is changed:
  /// a dynamic supervisor's children copy one template, so that each costs
  /// an id and a pointer rather than a whole spec.
  struct data {
    child_factory start;
    trellis::restart restart = trellis::restart::permanent;
    std::optional<trellis::shutdown> shutdown;
    child_type type = child_type::worker;
    bool significant = false;
    bool detached = false;
    std::optional<trellis::health_check> health_check;
    std::optional<restart_backoff> backoff;
    trellis::decider decider;
    trellis::resume_limit resume_limit;
    std::shared_ptr<trellis::checkpoint_store> checkpoint_store;
    int quarantine_after = 0;
    bool keep_mailbox = false;
    bool needed_for_readiness = false;
    std::shared_ptr<const detail::forensics_spec> forensics;
    std::shared_ptr<const supervisor_spec> nested;
    std::vector<std::string> nodes;
    bool placed = false;
    bool takeover = false;
    std::string remote_type;
    std::vector<std::string> dependencies;
  };

  /// Returns the data for a change, copied first if another spec shares it.
  data& mut() {
    if (d_.use_count() > 1)
      d_ = std::make_shared<data>(*d_);
    return *d_;
  }

  std::string id_;
  std::shared_ptr<data> d_ = std::make_shared<data>();

  friend class supervisor_spec;
};

/// Splits a node address `host:port` into its parts; none if malformed (no
/// host, or a port that is not a number in [1, 65535]).
std::optional<std::pair<std::string, uint16_t>>
parse_node_address(const std::string& x);

/// Checks a list of child specs as a supervisor would before starting them
/// (OTP's `check_childspecs/1`): each spec, and that no id repeats. Returns
/// `errc::invalid_spec` naming the first problem, or none.
caf::error check_childspecs(const std::vector<child_spec>& specs);

/// A worker whose factory is `fun` itself: a callable taking a
/// `child_context&` and returning something convertible to `start_result`.
template <class F, class = std::enable_if_t<
                     std::is_invocable_r_v<start_result, F, child_context&>>>
child_spec worker(std::string id, F fun) {
  return child_spec{std::move(id), child_factory{std::move(fun)}};
}

/// A worker that runs the actor function `fun` with arguments `xs`, copied
/// for every restart, with Trellis' crash handler installed.
template <class F, class... Ts,
          class = std::enable_if_t<
            !std::is_invocable_r_v<start_result, F, child_context&>
            && !detail::takes_start_args_v<F>>>
child_spec worker(std::string id, F fun, Ts... xs) {
  // Checked here, so that a mistake shows this line and what is expected
  // instead of CAF's spawn machinery.
  if constexpr (detail::is_actor_function<F, Ts...>()) {
    return child_spec{std::move(id),
                      [fun, xs...](child_context& ctx) -> start_result {
                        return ctx.spawn(fun, xs...);
                      }};
  } else {
    static_assert(detail::is_actor_function<F, Ts...>(),
                  "trellis::worker(id, f, args...): f must be a child factory "
                  "(start_result f(trellis::child_context&)), or a CAF actor "
                  "function callable as f(self, args...) or f(args...) with "
                  "exactly the arguments given after it, e.g. "
                  "caf::behavior f(caf::event_based_actor* self, int x) with "
                  "worker(\"id\", f, 42)");
    return child_spec{};
  }
}

/// A worker whose factory takes start arguments after its context, for the
/// template of a dynamic supervisor: `start_child(sup, make_message(42))`
/// calls `fun(ctx, 42)`. Arguments of other types fail the start with
/// `errc::start_failed`.
template <class F, class = std::enable_if_t<detail::takes_start_args_v<F>>,
          class = void>
child_spec worker(std::string id, F fun) {
  using args = typename detail::takes_start_args<std::decay_t<F>>::args;
  return child_spec{std::move(id),
                    [fun](child_context& ctx) mutable -> start_result {
                      return detail::call_with_start_args(
                        fun, ctx, args{},
                        std::make_index_sequence<caf::detail::tl_size<
                          args>::value>{});
                    }};
}

/// A worker that runs the actor class `Impl`, constructed with `xs`, copied
/// for every restart, with Trellis' crash handler installed.
template <class Impl, class... Ts>
child_spec worker(std::string id, Ts... xs) {
  constexpr bool is_actor = std::is_base_of_v<caf::local_actor, Impl>;
  static_assert(is_actor,
                "trellis::worker<Impl>(id, args...): Impl must be a CAF actor "
                "class (derived from caf::event_based_actor, a typed or "
                "stateful actor, or caf::blocking_actor)");
  if constexpr (!is_actor) {
    return child_spec{};
  } else {
    static_assert(std::is_constructible_v<Impl, caf::actor_config&, Ts...>,
                  "trellis::worker<Impl>(id, args...): Impl must be "
                  "constructible from (caf::actor_config&, args...) with "
                  "exactly the arguments given after the id");
    return child_spec{std::move(id),
                      [xs...](child_context& ctx) -> start_result {
                        return ctx.spawn<Impl>(xs...);
                      }};
  }
}

} // namespace trellis

// Child specs travel in local messages only (start_child, get_childspec).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(trellis::child_spec)
