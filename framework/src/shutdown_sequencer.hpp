#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/timespan.hpp>

#include "child_registry.hpp"
#include "continuation_guard.hpp"
#include "hash_index.hpp"

namespace trellis::detail {

/// Stops a supervisor's children: one by its shutdown policy (ask, wait,
/// kill, abandon), a group one after another, or all of them in parallel
/// within a bounded window. One watchdog timer serves every stop in flight.
///
/// It holds the supervisor as a `caf::event_based_actor` to send signals and
/// timers (as CAF's stream managers hold `self`), and reaches the rest of
/// the supervisor through `host`: it never sees the supervisor's class.
class shutdown_sequencer {
public:
  using iterator = child_registry::iterator;

  /// A list of children to stop in order; erased children become `end()`.
  using group = std::shared_ptr<std::vector<iterator>>;

  using continuation = std::function<void()>;

  /// What the sequencer needs of its supervisor.
  class host {
  public:
    virtual ~host() = default;

    /// Asks the incarnation of `c` to stop with `user_shutdown`.
    virtual void ask_child_to_stop(const child& c) = 0;

    /// Child `c` is gone for `reason`, or was given up on: reports it and
    /// forgets its incarnation. The sequencer then runs the stop's
    /// continuation.
    virtual void child_stopped(iterator c, caf::error reason) = 0;
  };

  /// Message to `self` when the watchdog's timer fires.
  using timeout_atom = caf::atom_constant<caf::atom("tr_stopto")>;

  /// At most this many stops in flight in a parallel stop. Waking tens of
  /// thousands of actors at once costs quadratic time in CAF's work
  /// stealing (it walks the whole job queue per steal): 80,000 exits sent
  /// at once took 12 s and timed out thousands of stops.
  static constexpr size_t window = 512;

  shutdown_sequencer(caf::event_based_actor* self, host* owner,
                     child_registry& children, continuation_guard& guard,
                     caf::timespan kill_timeout);

  /// Stops one child by its shutdown policy; `k` runs once it is gone. A
  /// child without an actor is done at once; a second stop of a child
  /// whose stop is in flight replaces the continuation.
  void stop(iterator c, continuation k);

  /// Stops `g[pos..]` one after another (callers pass reverse start order).
  /// Guarded: a shutdown's `cancel_all` ends the chain.
  void stop_group(group g, size_t pos, continuation k);

  /// Stops every running child of the registry in parallel, at most
  /// `window` at a time, each with its own timeout from when it is sent.
  void stop_all_parallel(continuation k);

  /// The supervisor saw the down message of `c`, whose stop is in flight.
  void on_down(iterator c, caf::error reason);

  /// The watchdog's timer fired: escalates every stop past its deadline.
  void on_timeout(uint64_t token);

  /// Forgets the stop of `c`, which is about to be erased.
  void forget(iterator c);

  /// Forgets every stop; the supervisor is exiting.
  void clear();

private:
  void arm(caf::actor_clock::time_point due);

  /// Kills `c`, or abandons it if it was killed already.
  void escalate(iterator c);

  void finish(iterator c, caf::error reason);

  void continue_parallel();

  struct parallel_stop {
    std::vector<iterator> children;
    size_t next = 0;
    size_t in_flight = 0;
    bool pumping = false;
    continuation k;
  };

  caf::event_based_actor* self_;
  host* host_;
  child_registry& children_;
  continuation_guard& guard_;
  caf::timespan kill_timeout_;
  /// Children whose stop is in flight, filed by incarnation.
  hash_index<iterator> in_flight_;
  /// The watchdog's timer, if one is pending (token 0: none).
  uint64_t token_ = 0;
  uint64_t next_token_ = 0;
  caf::actor_clock::time_point due_;
  std::optional<parallel_stop> parallel_;
};

} // namespace trellis::detail
