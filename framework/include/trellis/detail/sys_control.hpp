#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/timestamp.hpp>

#include "trellis/child_statistics.hpp"
#include "trellis/traced_message.hpp"

namespace trellis::detail {

/// Handler times in a log-linear histogram: four buckets per power of two
/// of nanoseconds, up to about half an hour (longer ones count in the
/// last).
/// One thread records, any thread reads: each count is an atomic that only
/// its writer changes, so recording takes no lock and no read-modify-write.
class handler_times {
public:
  static constexpr size_t sub_buckets = 4;
  static constexpr size_t octaves = 40;
  static constexpr size_t buckets = sub_buckets * octaves;

  /// Counts a handler that took `ns` nanoseconds; the writer's side.
  void record(uint64_t ns) noexcept;

  /// Forgets every count; the writer's side.
  void reset() noexcept;

  struct summary {
    uint64_t count = 0;
    uint64_t p50 = 0;
    uint64_t p90 = 0;
    uint64_t p99 = 0;
    uint64_t max = 0;
  };

  /// Reads the counts; any thread. A percentile is its bucket's upper
  /// bound, capped at the maximum.
  summary summarize() const noexcept;


  /// Returns the bucket of `ns`, and the largest value in bucket `i`.
  static size_t bucket_of(uint64_t ns) noexcept;
  static uint64_t upper_bound(size_t i) noexcept;

private:
  std::array<std::atomic<uint64_t>, buckets> counts_{};
  std::atomic<uint64_t> max_{0};
};

/// What a child's incarnation notes as it begins a handler, to finish the
/// statistics and the trace when the handler ends.
struct sys_ticket {
  /// When the handler began (`tsc_clock`, ns); 0 if not timed.
  int64_t began = 0;
  /// Whether the message goes to the trace, as it arrived.
  bool traced = false;
  /// When a traced handler that statistics do not time began (`tsc_clock`,
  /// ns): its time for the trace is a span of a monotonic clock, not of
  /// the system clock that `at` reads.
  int64_t trace_began = 0;
  caf::timestamp at;
  caf::message content;
  caf::actor_addr sender;
  bool request = false;
};

/// One incarnation's `sys` state (see trellis/sys.hpp): switched and read
/// by its supervisor, written by the incarnation on its own thread, and
/// counted by the senders of its messages. Lives as long as the actor
/// object, so that a supervisor holding the actor may read it any time.
class sys_control {
public:
  // -- the supervisor's side --------------------------------------------------

  /// Switches statistics on (afresh, unless they are on) or off.
  void statistics(bool on) noexcept;

  bool statistics() const noexcept {
    return statistics_.load(std::memory_order_acquire);
  }

  /// Reads the statistics; `path` names the child.
  child_statistics read(std::string path) const;

  /// Suspends the incarnation at once.
  void suspend() noexcept {
    resume_requested_.store(false, std::memory_order_release);
    suspended_.store(true, std::memory_order_release);
  }

  /// Asks the incarnation to resume when it handles the wake message that
  /// follows: it ends the suspension itself, so that nothing newer overtakes
  /// what it held.
  void request_resume() noexcept {
    resume_requested_.store(true, std::memory_order_release);
  }

  bool suspended() const noexcept {
    return suspended_.load(std::memory_order_acquire);
  }

  /// Keeps the last `n` handled messages (0: none), keeping the newest that
  /// fit of those already traced.
  void trace(size_t n);

  /// Returns the traced messages, oldest first.
  std::vector<traced_message> trace() const;

  /// Notes that this control exists since before anything was pushed: its
  /// counts cover the whole mailbox, whose depth needs no base.
  void counting_from_start() noexcept {
    based_ = true;
  }

  // -- the senders' side ------------------------------------------------------

  /// Counts a push onto the incarnation's mailbox: `pushing` before it,
  /// `pushed` once done. Counted whatever the switches say, so that the
  /// depth stays true when statistics are switched on.
  void pushing() noexcept {
    pushes_begun_.fetch_add(1, std::memory_order_seq_cst);
  }

  void pushed() noexcept {
    pushes_done_.fetch_add(1, std::memory_order_seq_cst);
  }

  // -- the incarnation's side -------------------------------------------------

  /// Counts `n` messages the incarnation put into its own mailbox, as those
  /// its previous incarnation left.
  void handed_over(uint64_t n) noexcept {
    pushes_begun_.fetch_add(n, std::memory_order_seq_cst);
    pushes_done_.fetch_add(n, std::memory_order_seq_cst);
  }

  /// Begins collecting if statistics were switched on since it last looked,
  /// and takes the depth of the mailbox of `self`, the incarnation.
  void acknowledge(caf::scheduled_actor* self) noexcept;

  /// Ends the suspension if resuming was requested; returns whether it did.
  bool take_resume() noexcept {
    if (!resume_requested_.exchange(false, std::memory_order_acq_rel))
      return false;
    suspended_.store(false, std::memory_order_release);
    return true;
  }

  /// Counts a message taken from the mailbox (before its handler), and one
  /// put back because it was skipped: CAF keeps it in the mailbox.
  void taking() noexcept {
    taken_.store(taken_.load(std::memory_order_relaxed) + 1,
                 std::memory_order_release);
  }

  void put_back() noexcept {
    taken_.store(taken_.load(std::memory_order_relaxed) - 1,
                 std::memory_order_release);
  }

  /// Notes that the incarnation runs afresh (a resume), or handled a
  /// message that is not timed: the next handler's time starts with a
  /// clock read of its own (see `chained_`).
  void unchain() noexcept {
    chained_ = 0;
  }

  /// Notes the start of the handler of `x`.
  sys_ticket begin(caf::scheduled_actor* self,
                   const caf::mailbox_element& x) noexcept;

  /// Notes the end of the handler that `t` began, which did not skip its
  /// message: a skipped one is timed and traced once handled (see
  /// `end_skipped`).
  void end(sys_ticket& t, trace_outcome outcome) noexcept;

  /// Notes the end of a handler that skipped its message.
  void end_skipped(sys_ticket& t) noexcept;

private:
  /// Handlers between two takes of the mailbox's depth while collecting.
  /// A take reads the senders' counts and moves what waits in the mailbox
  /// into its queues: both contend with the senders. Only messages that
  /// bypass `consume` (CAF's stream messages) make the counts drift, by
  /// as many as arrive within this many handlers.
  static constexpr uint32_t rebase_interval = 256;

  /// Takes the mailbox's depth into `base_` when it can tell which pushes
  /// it holds, or when it never did.
  void rebase(caf::scheduled_actor* self) noexcept;

  struct trace_entry {
    caf::timestamp at;
    int64_t took = 0;
    trace_outcome outcome = trace_outcome::handled;
    caf::message content;
    caf::actor_addr sender;
    bool request = false;
  };

  // Three groups, each on cache lines of its own: the senders change the
  // push counts with every message, the incarnation its own fields with
  // every message it handles, and the switches change rarely but are read
  // with every message. Sharing a line, a sender on one core and the child
  // on another would pass it back and forth several times per message.

  // Switches.
  alignas(64) std::atomic<bool> statistics_{false};
  std::atomic<bool> suspended_{false};
  std::atomic<bool> resume_requested_{false};
  std::atomic<bool> tracing_{false};
  /// Bumped by each switch on; the incarnation collects for `epoch_` once
  /// `collecting_` equals it.
  std::atomic<uint64_t> epoch_{0};
  std::atomic<uint64_t> collecting_{0};
  /// When the current collection began (system clock, ns since the epoch).
  std::atomic<int64_t> since_{0};
  /// The mailbox's depth is `base_ + pushes_done_ - taken_`, true
  /// whenever no push is half done (a message may be taken before its push
  /// is counted done, a skipped one is put back). `base_` holds what
  /// the counts miss (messages pushed before this control existed, or taken
  /// out without `consume`, as CAF's stream messages) and is taken afresh
  /// when collecting begins, when the supervisor wakes the incarnation, and
  /// every `rebase_interval` handlers, when no push is half done.
  alignas(64) std::atomic<uint64_t> pushes_begun_{0};
  std::atomic<uint64_t> pushes_done_{0};
  // The incarnation's.
  /// When the running handler began (`tsc_clock`, ns), 0 when idle.
  alignas(64) std::atomic<int64_t> running_since_{0};
  std::atomic<uint64_t> taken_{0};
  std::atomic<int64_t> base_{0};
  /// Whether `base_` was ever taken.
  bool based_ = false;
  /// Handlers begun since `base_` was last taken.
  uint32_t unbased_ = 0;
  /// When the last timed handler ended (`tsc_clock`, ns), 0 if the
  /// incarnation did anything else since: the next handler of the same run
  /// starts there, one clock read per message instead of two. Its time
  /// then includes CAF's taking of its message, a few dozen nanoseconds.
  int64_t chained_ = 0;
  handler_times times_;
  /// The trace: a ring of `ring_.size()` entries.
  mutable std::mutex trace_mtx_;
  std::vector<trace_entry> ring_;
  size_t next_ = 0;
  size_t size_ = 0;
};

/// Returns the control of `x` if it is an inspectable actor that has one
/// (see `inspectable`).
sys_control* control_of(const caf::actor& x) noexcept;

/// Returns whether `x` is the message a supervisor wakes a child with
/// (`(sys_resume_atom)`), asks its state with (`(sys_get_state_atom)`), or
/// a mailbox probe (`(mailbox_probe_atom)`): the child handles it before
/// its behavior, suspended or not, and neither times nor traces it.
bool is_sys_message(const caf::mailbox_element& x) noexcept;

/// Returns how many messages wait for `self`, those in its caches (skipped,
/// or held while suspended) included; on its own thread.
size_t waiting(caf::scheduled_actor* self) noexcept;

} // namespace trellis::detail
