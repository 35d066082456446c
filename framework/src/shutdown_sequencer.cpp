#include "shutdown_sequencer.hpp"

#include <caf/exit_reason.hpp>

#include "trellis/errc.hpp"
#include "trellis/shutdown.hpp"

namespace trellis::detail {

shutdown_sequencer::shutdown_sequencer(caf::event_based_actor* self,
                                       host* owner, child_registry& children,
                                       continuation_guard& guard,
                                       caf::timespan kill_timeout)
  : self_(self),
    host_(owner),
    children_(children),
    guard_(guard),
    kill_timeout_(kill_timeout),
    in_flight_(children.memory()) {
  // nop
}

void shutdown_sequencer::stop(iterator c, continuation k) {
  if (!c->handle) {
    k();
    return;
  }
  if (c->stop != nullptr) {
    c->stop->k = std::move(k);
    return;
  }
  auto& st = children_.begin_stop(*c);
  try {
    in_flight_.insert(child_registry::incarnation_hash(*c), c);
  } catch (...) {
    // The child must not look in flight if filing it failed.
    children_.end_stop(*c);
    throw;
  }
  st.k = std::move(k);
  auto policy = c->spec.shutdown();
  auto now = self_->clock().now();
  switch (policy.kind()) {
    case trellis::shutdown_kind::brutal_kill:
      st.killed = true;
      self_->send_exit(c->handle, caf::exit_reason::kill);
      st.deadline = now + kill_timeout_;
      break;
    case trellis::shutdown_kind::timeout:
      host_->ask_child_to_stop(*c);
      st.deadline = now + policy.time();
      break;
    case trellis::shutdown_kind::infinity:
      host_->ask_child_to_stop(*c);
      return;
  }
  arm(*st.deadline);
}

void shutdown_sequencer::stop_group(group g, size_t pos, continuation k) {
  while (pos < g->size()
         && ((*g)[pos] == children_.end() || !(*g)[pos]->handle))
    ++pos;
  if (pos == g->size()) {
    k();
    return;
  }
  auto c = (*g)[pos];
  stop(c, guard_.guarded([this, g = std::move(g), pos,
                          k = std::move(k)]() mutable {
         stop_group(std::move(g), pos + 1, std::move(k));
       }));
}

void shutdown_sequencer::stop_all_parallel(continuation k) {
  parallel_.emplace();
  auto& ps = *parallel_;
  for (auto i = children_.begin(); i != children_.end(); ++i)
    if (i->handle)
      ps.children.push_back(i);
  ps.k = std::move(k);
  continue_parallel();
}

void shutdown_sequencer::continue_parallel() {
  if (!parallel_ || parallel_->pumping)
    return;
  auto& ps = *parallel_;
  ps.pumping = true;
  while (ps.in_flight < window && ps.next < ps.children.size()) {
    ++ps.in_flight;
    stop(ps.children[ps.next++], [this] {
      --parallel_->in_flight;
      continue_parallel();
    });
  }
  ps.pumping = false;
  if (ps.in_flight == 0 && ps.next == ps.children.size()) {
    auto k = std::move(ps.k);
    parallel_.reset();
    k();
  }
}

void shutdown_sequencer::arm(caf::actor_clock::time_point due) {
  // One timer for all stops in flight: stopping 100 children in a row costs
  // one timer, not 100 that each come back later for nothing.
  if (token_ != 0 && due_ <= due)
    return;
  due_ = due;
  token_ = ++next_token_;
  auto now = self_->clock().now();
  self_->delayed_send(self_, due > now ? due - now : caf::timespan{0},
                      timeout_atom::value, token_);
}

void shutdown_sequencer::on_timeout(uint64_t token) {
  if (token != token_)
    return;
  token_ = 0;
  auto now = self_->clock().now();
  // By incarnation, found again before each timeout: handling one may end
  // another's stop.
  std::vector<const caf::actor_control_block*> due;
  in_flight_.for_each([&](iterator c) {
    if (c->stop->deadline && *c->stop->deadline <= now)
      due.push_back(child_registry::incarnation(*c));
  });
  for (auto who : due) {
    auto is_who = [who](iterator c) {
      return child_registry::incarnation(*c) == who;
    };
    auto c = in_flight_.find(child_registry::incarnation_hash(who), is_who);
    if (c && (*c)->stop->deadline && *(*c)->stop->deadline <= now)
      escalate(*c);
  }
  // Re-arm for the earliest stop still in flight.
  std::optional<caf::actor_clock::time_point> next;
  in_flight_.for_each([&](iterator c) {
    if (c->stop->deadline && (!next || *c->stop->deadline < *next))
      next = c->stop->deadline;
  });
  if (next)
    arm(*next);
}

void shutdown_sequencer::escalate(iterator c) {
  auto& st = *c->stop;
  if (!st.killed) {
    st.killed = true;
    st.deadline = self_->clock().now() + kill_timeout_;
    self_->send_exit(c->handle, caf::exit_reason::kill);
    return;
  }
  // Killed, and still no down message: the actor is stuck inside a handler
  // and CAF cannot preempt it. Give up on it so that the shutdown finishes.
  self_->demonitor(c->handle);
  finish(c, make_error(errc::abandoned, c->spec.id(),
                       "did not exit after being killed; it is probably "
                       "stuck in a handler"));
}

void shutdown_sequencer::on_down(iterator c, caf::error reason) {
  finish(c, std::move(reason));
}

void shutdown_sequencer::finish(iterator c, caf::error reason) {
  in_flight_.erase(child_registry::incarnation_hash(*c), c);
  auto k = std::move(c->stop->k);
  children_.end_stop(*c);
  host_->child_stopped(c, std::move(reason));
  k();
}

void shutdown_sequencer::forget(iterator c) {
  if (c->stop != nullptr) {
    in_flight_.erase(child_registry::incarnation_hash(*c), c);
    children_.end_stop(*c);
  }
}

void shutdown_sequencer::clear() {
  in_flight_.clear();
}

} // namespace trellis::detail
