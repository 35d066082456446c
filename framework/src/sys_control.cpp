#include "trellis/detail/sys_control.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include <caf/abstract_actor.hpp>
#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/atom.hpp>
#include <caf/scheduled_actor.hpp>

#include "trellis/atoms.hpp"
#include "trellis/detail/crash_witness.hpp"
#include "trellis/detail/member_class.hpp"
#include "tsc_clock.hpp"

namespace trellis::detail {

// -- handler_times ------------------------------------------------------------

size_t handler_times::bucket_of(uint64_t ns) noexcept {
  if (ns < sub_buckets)
    return static_cast<size_t>(ns);
  auto msb = static_cast<size_t>(63 - __builtin_clzll(ns));
  // The two bits below the highest pick the sub-bucket; msb >= 2 here.
  auto sub = static_cast<size_t>((ns >> (msb - 2)) & (sub_buckets - 1));
  return std::min((msb - 1) * sub_buckets + sub, buckets - 1);
}

uint64_t handler_times::upper_bound(size_t i) noexcept {
  if (i < sub_buckets)
    return i;
  auto msb = i / sub_buckets + 1;
  auto sub = i % sub_buckets;
  return ((sub_buckets + sub + 1) << (msb - 2)) - 1;
}

void handler_times::record(uint64_t ns) noexcept {
  // One writer: a load and a store, no locked instruction.
  auto& c = counts_[bucket_of(ns)];
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (ns > max_.load(std::memory_order_relaxed))
    max_.store(ns, std::memory_order_relaxed);
}

void handler_times::reset() noexcept {
  for (auto& c : counts_)
    c.store(0, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

handler_times::summary handler_times::summarize() const noexcept {
  summary result;
  std::array<uint64_t, buckets> xs;
  uint64_t total = 0;
  for (size_t i = 0; i < buckets; ++i)
    total += xs[i] = counts_[i].load(std::memory_order_relaxed);
  result.count = total;
  result.max = max_.load(std::memory_order_relaxed);
  if (total == 0)
    return result;
  auto at = [&](uint64_t permille) {
    // The smallest bucket that holds the permille-th value.
    auto rank = std::max<uint64_t>(1, (total * permille + 999) / 1000);
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets; ++i) {
      seen += xs[i];
      if (seen >= rank)
        return std::min(upper_bound(i), result.max);
    }
    return result.max;
  };
  result.p50 = at(500);
  result.p90 = at(900);
  result.p99 = at(990);
  return result;
}

// -- sys_control: the supervisor's side ---------------------------------------

void sys_control::statistics(bool on) noexcept {
  if (on == statistics())
    return;
  if (on)
    epoch_.fetch_add(1, std::memory_order_acq_rel);
  statistics_.store(on, std::memory_order_release);
}

child_statistics sys_control::read(std::string path) const {
  child_statistics x;
  x.path = std::move(path);
  x.suspended = suspended();
  x.enabled = statistics();
  x.collecting = x.enabled
                 && collecting_.load(std::memory_order_acquire)
                      == epoch_.load(std::memory_order_acquire);
  if (!x.collecting)
    return x;
  x.since = caf::timestamp{std::chrono::duration_cast<caf::timestamp::duration>(
    std::chrono::nanoseconds{since_.load(std::memory_order_relaxed)})};
  auto s = times_.summarize();
  x.messages_handled = s.count;
  auto ns = [](uint64_t v) {
    return caf::timespan{static_cast<caf::timespan::rep>(v)};
  };
  x.handler_p50 = ns(s.p50);
  x.handler_p90 = ns(s.p90);
  x.handler_p99 = ns(s.p99);
  x.handler_max = ns(s.max);
  if (auto began = running_since_.load(std::memory_order_acquire)) {
    x.handling = true;
    x.current_handler = ns(static_cast<uint64_t>(
      std::max<int64_t>(0, tsc_clock::now_ns() - began)));
  }
  auto done = pushes_done_.load(std::memory_order_acquire);
  auto taken = taken_.load(std::memory_order_acquire);
  auto depth = base_.load(std::memory_order_acquire)
               + static_cast<int64_t>(done - taken);
  x.mailbox_depth = static_cast<uint64_t>(std::max<int64_t>(0, depth));
  return x;
}

void sys_control::trace(size_t n) {
  n = std::min(n, max_traced_messages);
  std::lock_guard<std::mutex> guard{trace_mtx_};
  std::vector<trace_entry> kept;
  auto keep = std::min(n, size_);
  kept.reserve(n);
  auto first = (next_ + ring_.size() - keep) % std::max<size_t>(1, ring_.size());
  for (size_t i = 0; i < keep; ++i)
    kept.push_back(std::move(ring_[(first + i) % ring_.size()]));
  kept.resize(n);
  ring_ = std::move(kept);
  size_ = keep;
  next_ = n == 0 ? 0 : keep % n;
  tracing_.store(n > 0, std::memory_order_release);
}

std::vector<traced_message> sys_control::trace() const {
  std::vector<trace_entry> xs;
  {
    std::lock_guard<std::mutex> guard{trace_mtx_};
    xs.reserve(size_);
    auto first = (next_ + ring_.size() - size_)
                 % std::max<size_t>(1, ring_.size());
    for (size_t i = 0; i < size_; ++i)
      xs.push_back(ring_[(first + i) % ring_.size()]);
  }
  // Senders are described outside the lock: the child need not wait.
  std::vector<traced_message> result;
  result.reserve(xs.size());
  for (auto& x : xs)
    result.push_back(traced_message{
      x.at, caf::timespan{x.took}, x.outcome,
      logged_message{std::move(x.content),
                     describe_sender(
                       caf::actor_cast<caf::strong_actor_ptr>(x.sender)),
                     x.request}});
  return result;
}

// -- sys_control: the incarnation's side --------------------------------------

size_t waiting(caf::scheduled_actor* self) noexcept {
  // CAF's size leaves out what waits in the caches: messages skipped, or
  // held while suspended.
  return self->mailbox().size()
         + self->get_urgent_queue().cache().total_task_size()
         + self->get_normal_queue().cache().total_task_size();
}

void sys_control::rebase(caf::scheduled_actor* self) noexcept {
  // A push done before `done` was read is in the mailbox (or was taken); a
  // push begun after `begun` was read is not. When the two counts agree,
  // no push was half done meanwhile: the depth holds exactly `done` pushes.
  auto done = pushes_done_.load(std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto depth = static_cast<int64_t>(waiting(self));
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto begun = pushes_begun_.load(std::memory_order_seq_cst);
  if (begun != done && based_)
    return;
  auto taken = taken_.load(std::memory_order_relaxed);
  base_.store(depth - static_cast<int64_t>(done - taken),
              std::memory_order_release);
  based_ = true;
  unbased_ = 0;
}

void sys_control::acknowledge(caf::scheduled_actor* self) noexcept {
  if (!statistics())
    return;
  auto epoch = epoch_.load(std::memory_order_acquire);
  if (collecting_.load(std::memory_order_relaxed) == epoch) {
    rebase(self);
    return;
  }
  times_.reset();
  since_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                 caf::make_timestamp().time_since_epoch())
                 .count(),
               std::memory_order_relaxed);
  rebase(self);
  collecting_.store(epoch, std::memory_order_release);
}

sys_ticket sys_control::begin(caf::scheduled_actor* self,
                              const caf::mailbox_element& x) noexcept {
  sys_ticket t;
  if (statistics()) {
    if (collecting_.load(std::memory_order_relaxed)
        != epoch_.load(std::memory_order_acquire))
      acknowledge(self);
    else if (++unbased_ >= rebase_interval)
      rebase(self);
    t.began = chained_ != 0 ? chained_ : tsc_clock::now_ns();
    running_since_.store(t.began, std::memory_order_release);
  } else {
    chained_ = 0;
  }
  if (tracing_.load(std::memory_order_acquire)) {
    try {
      t.at = caf::make_timestamp();
      if (t.began == 0)
        t.trace_began = tsc_clock::now_ns();
      // As it arrived: a handler may move from what it gets.
      t.content = x.copy_content_to_message();
      t.sender = caf::actor_cast<caf::actor_addr>(x.sender);
      t.request = x.mid.is_request();
      t.traced = true;
    } catch (...) {
      // Out of memory: this message goes untraced, the child goes on.
      t.content = caf::message{};
    }
  }
  return t;
}

void sys_control::end_skipped(sys_ticket& t) noexcept {
  chained_ = 0;
  if (t.began != 0)
    running_since_.store(0, std::memory_order_release);
}

void sys_control::end(sys_ticket& t, trace_outcome outcome) noexcept {
  int64_t took = 0;
  if (t.began != 0) {
    chained_ = tsc_clock::now_ns();
    took = std::max<int64_t>(0, chained_ - t.began);
    running_since_.store(0, std::memory_order_release);
    if (outcome == trace_outcome::handled || outcome == trace_outcome::resumed)
      times_.record(static_cast<uint64_t>(took));
  }
  if (!t.traced)
    return;
  if (t.began == 0)
    took = std::max<int64_t>(0, tsc_clock::now_ns() - t.trace_began);
  std::lock_guard<std::mutex> guard{trace_mtx_};
  // The trace may have been switched off or resized since `begin`.
  // (`std::mutex::lock` throws only for errors that are bugs here.)
  if (ring_.empty())
    return;
  auto& slot = ring_[next_];
  slot.at = t.at;
  slot.took = took;
  slot.outcome = outcome;
  slot.content = std::move(t.content);
  slot.sender = std::move(t.sender);
  slot.request = t.request;
  next_ = (next_ + 1) % ring_.size();
  size_ = std::min(size_ + 1, ring_.size());
}

// -- free functions -----------------------------------------------------------

sys_control* control_of(const caf::actor& x) noexcept {
  if (!x)
    return nullptr;
  auto ptr = caf::actor_cast<caf::abstract_actor*>(x);
  auto cls = member_class_of(ptr);
  return cls != nullptr && cls->control != nullptr ? cls->control(*ptr, false)
                                                   : nullptr;
}

bool is_sys_message(const caf::mailbox_element& x) noexcept {
  if (x.mid.is_response())
    return false;
  // One comparison for every other message: the type token says "one
  // atom" without walking the message's elements.
  auto& msg = x.content();
  if (msg.type_token() != caf::make_type_token<caf::atom_value>())
    return false;
  auto head = msg.get_as<caf::atom_value>(0);
  return head == sys_resume_atom::value || head == sys_get_state_atom::value
         || head == mailbox_probe_atom::value;
}

} // namespace trellis::detail
