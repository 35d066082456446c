#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/response_promise.hpp>

namespace trellis::detail {

/// Runs a supervisor's operations (start a group, stop a group, a runtime
/// API call, a restart) one at a time, like OTP's supervisor, which is
/// blocked while it starts or stops children. Work that arrives during an
/// operation waits and runs after it, in arrival order. (Not `caf::skip`:
/// CAF retries every skipped message after each message it handles, which
/// is quadratic with thousands of waiting `start_child` requests.)
///
/// One exception to one at a time: operations that start a single child
/// and touch no other (a one_for_one restart, a dynamic supervisor's
/// `start_child`) overlap with each other, so that a replacement's
/// initialization does not hold up the next. They still wait for any other
/// operation, and others wait for them, and arrival order still holds.
///
/// The queue starts busy: the supervisor's own start is its first
/// operation.
class operation_queue {
public:
  /// Runs `f` now, or after the current operation; with `may_overlap`, also
  /// now if only overlapping operations run and nothing waits.
  template <class F>
  void when_idle(F f, bool may_overlap = false) {
    if (may_run_now(may_overlap))
      f();
    else
      defer(std::move(f), may_overlap);
  }

  /// Whether work of this kind may run now (see `when_idle`); always once
  /// the queue is closed, so that the work can refuse itself.
  bool may_run_now(bool may_overlap) const noexcept {
    return !busy_ || closed_
           || (may_overlap && overlapping_ > 0 && waiting_.empty());
  }

  /// Queues `f` behind what waits already.
  void defer(std::function<void()> f, bool may_overlap) {
    waiting_.push_back(waiting_work{may_overlap, std::move(f)});
  }

  /// Begins an operation; an overlapping one may run beside others of its
  /// kind.
  void begin(bool overlapping) noexcept {
    busy_ = true;
    if (overlapping)
      ++overlapping_;
  }

  /// Ends an operation begun by `begin` and runs what waited for it.
  void end(bool overlapping);

  /// Begins an operation that answers through `rp` later; returns the
  /// token to answer with.
  uint64_t begin_reply(caf::response_promise rp, bool overlapping = false) {
    begin(overlapping);
    uint32_t slot;
    if (!free_replies_.empty()) {
      slot = free_replies_.back();
      free_replies_.pop_back();
    } else {
      slot = static_cast<uint32_t>(open_replies_.size());
      open_replies_.emplace_back();
    }
    auto& entry = open_replies_[slot];
    entry.rp = std::move(rp);
    entry.overlapping = overlapping;
    entry.open = true;
    return (uint64_t{entry.generation} << 32) | slot;
  }

  /// Answers the operation `op` with `x` and ends it; nothing if `op` is
  /// answered already (the queue closed).
  template <class T>
  void reply(uint64_t op, T&& x) {
    auto slot = static_cast<uint32_t>(op);
    if (slot >= open_replies_.size())
      return;
    auto& entry = open_replies_[slot];
    if (!entry.open || entry.generation != static_cast<uint32_t>(op >> 32))
      return;
    auto rp = std::move(entry.rp);
    auto overlapping = entry.overlapping;
    entry.rp = caf::response_promise{};
    entry.open = false;
    ++entry.generation;
    free_replies_.push_back(slot);
    rp.deliver(std::forward<T>(x));
    end(overlapping);
  }

  /// Closes the queue for good (the supervisor stops): answers every open
  /// operation with `reason`, then runs everything that waits, once, for it
  /// to refuse itself. Nothing runs after an operation any more. Every
  /// request got a promise; none may be left unanswered, or a caller with
  /// an infinite timeout would wait forever.
  void close(const caf::error& reason);

  bool closed() const noexcept {
    return closed_;
  }

private:
  struct waiting_work {
    /// Whether it may run beside overlapping operations.
    bool may_overlap;
    std::function<void()> f;
  };

  struct open_reply {
    caf::response_promise rp;
    bool overlapping = false;
    bool open = false;
    /// Told apart from earlier operations in the same slot.
    uint32_t generation = 0;
  };

  /// Runs what waits, as far as the operations in flight allow.
  void drain();

  bool busy_ = true;
  bool closed_ = false;
  bool draining_ = false;
  /// Overlapping operations in flight.
  size_t overlapping_ = 0;
  std::deque<waiting_work> waiting_;
  /// Operations that answer later, in slots that their tokens number (the
  /// low half; the high half is the slot's generation): no allocation and
  /// no hashing per operation, where a map cost about 400 instructions a
  /// dynamic start. As many slots as operations were ever open at once.
  std::vector<open_reply> open_replies_;
  std::vector<uint32_t> free_replies_;
};

} // namespace trellis::detail
