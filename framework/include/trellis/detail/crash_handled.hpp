#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_config.hpp>
#include <caf/error.hpp>
#include <caf/execution_unit.hpp>
#include <caf/invoke_message_result.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduled_actor.hpp>

#include "trellis/atoms.hpp"
#include "trellis/crash_handler.hpp"
#include "trellis/detail/crash_witness.hpp"
#include "trellis/detail/default_handler.hpp"
#include "trellis/detail/explained_bounce.hpp"
#include "trellis/detail/kept_mailbox.hpp"
#include "trellis/detail/member_class.hpp"
#include "trellis/detail/quarantine.hpp"
#include "trellis/detail/resume_limiter.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/detail/sys_control.hpp"

namespace trellis::detail {

/// Installs Trellis' handlers in an actor it spawns: the crash handler, the
/// mailbox probe and the fault injection hooks.
inline void install_handlers(caf::scheduled_actor* self) {
  install_crash_handler(self);
  install_default_hooks(self);
}

/// Tells `listener` (if any, and still alive) that `self` has started, and
/// forgets it: one message instead of the supervisor's start probe.
void announce_started(caf::actor_addr& listener, caf::abstract_actor* self);

/// Has `listener` (the supervisor, if any) monitor `self`, from `self`'s
/// constructor: before it initializes, as OTP's `start_link` links before
/// `init`, whatever thread initializes it. CAF runs an exiting actor's
/// attachables newest first, so the supervisor's down message comes after
/// every cleanup the child attached (`attach_functor`), which a shutdown in
/// order relies on.
void monitored_by(const caf::actor_addr& listener, caf::abstract_actor* self);

/// How an actor that its supervisor's context spawned initialized (see
/// `crash_handled::initialize_on`).
enum class init_outcome {
  /// On a thread of its own, or on a worker: it announces its start.
  later,
  /// On its supervisor's thread, and it lives on.
  done,
  /// On its supervisor's thread, and it ended: its down message tells why.
  failed,
};

/// Wraps an event-based actor class so that Trellis' handlers are installed
/// before it runs, its child's poison-message quarantine (if any) sees every
/// message first, and its supervisor (if any) learns when its initialization
/// is done. Spawned by `child_context::spawn`.
///
/// A child whose spec has a decider may resume (see `decision::resume`): an
/// exception that one of its handlers throws is caught here, before CAF
/// would end the actor with it, and the decider decides on the child's
/// thread (see `resume_limiter`). Only exceptions in handlers: one in the
/// actor's initialization ends it, as always.
///
/// A child whose spec keeps its last messages logs each message in a ring
/// before it handles it, and testifies to them (and renders its state, if
/// its spec can) when it crashes: see `crash_testimony`.
///
/// A child that is looked inside (trellis/sys.hpp) has a `sys_control`,
/// made when its spec asks for statistics or a trace, or when its
/// supervisor first needs it; from then on the child times its handlers,
/// traces them, and holds its messages while suspended, as the control
/// says.
///
/// A child that keeps its mailbox (`child_spec::keep_mailbox`) also hands
/// what is still queued when it ends to its `kept_mailbox`, which passes it
/// on to the next incarnation: see `salvage` and `inherit`.
///
/// Its place in the tree and its `closing_bouncer` are members, not bases,
/// and the class registers how to find the first and its control (see
/// `member_class`): CAF's cast of every job it resumes walks every base.
template <class Impl>
class crash_handled final : public Impl {
public:
  template <class... Ts>
  explicit crash_handled(caf::actor_config& cfg,
                         std::shared_ptr<quarantine> q,
                         std::shared_ptr<kept_mailbox> kept,
                         std::shared_ptr<resume_limiter> resume,
                         std::shared_ptr<const forensics_spec> forensics,
                         caf::actor_addr start_listener, const void* tree,
                         std::string path, Ts&&... xs)
    : Impl(cfg, std::forward<Ts>(xs)...),
      start_listener_(std::move(start_listener)) {
    monitored_by(start_listener_, this);
    if (q || kept || resume || forensics) {
      parts_ = std::make_unique<optional_parts>();
      parts_->poison = std::move(q);
      parts_->kept = std::move(kept);
      parts_->resume = std::move(resume);
      parts_->forensics = std::move(forensics);
      auto f = parts_->forensics.get();
      if (f && f->last_messages > 0)
        parts_->ring = std::make_unique<message_ring>(f->last_messages);
      if (f && (f->statistics || f->trace > 0)) {
        auto& c = control();
        c.counting_from_start();
        c.statistics(f->statistics);
        c.trace(f->trace);
      }
    }
    guarded_ = quarantine_ptr() != nullptr || resume_ptr() != nullptr
               || ring_ptr() != nullptr
               || sys_.load(std::memory_order_relaxed) != nullptr;
    member_.member_of(tree, std::move(path));
    register_member_class_once<crash_handled>({member_fn, control_fn});
    // `install_handlers`, with an exception handler as
    // `install_crash_handler`'s that records the crash for the report
    // knowing what this actor is: no dynamic_cast on the restart path.
    install_default_hooks(this);
    this->set_exception_handler(on_exception);
  }

  ~crash_handled() override {
    delete sys_.load(std::memory_order_acquire);
  }

  /// Returns the incarnation's control, creating it first if needed; its
  /// supervisor's thread. From then on the incarnation checks it for every
  /// message.
  sys_control& control() {
    auto ptr = sys_.load(std::memory_order_acquire);
    if (ptr != nullptr)
      return *ptr;
    auto fresh = new sys_control;
    if (!sys_.compare_exchange_strong(ptr, fresh, std::memory_order_acq_rel)) {
      delete fresh;
      return *ptr;
    }
    // The child looks at the control from its next message on.
    guarded_.store(true, std::memory_order_release);
    return *fresh;
  }

  /// Returns the control if there is one; any thread.
  sys_control* control_if_any() const noexcept {
    return sys_.load(std::memory_order_acquire);
  }

  /// Initializes this actor on the calling thread, its supervisor's, before
  /// its factory returns, as OTP's `start_link` runs `init`: spawned with
  /// `lazy_init`, it was never scheduled. No start announcement, no resume
  /// of the supervisor for it, and none of its own until a message comes.
  init_outcome initialize_on(caf::execution_unit* host) {
    // Open while it initializes, as when it runs: what it sends itself
    // waits in the mailbox instead of scheduling it. A message that came
    // first (its constructor gave its address away) scheduled it already:
    // it initializes there, and announces its start.
    if (!this->mailbox().try_unblock())
      return init_outcome::later;
    start_listener_ = nullptr;
    if (!this->activate(host))
      return init_outcome::failed;
    // As `resume` ends: asleep if nothing came, else scheduled.
    if (!this->mailbox().try_block()) {
      intrusive_ptr_add_ref(this->ctrl());
      host->exec_later(this);
    }
    return init_outcome::done;
  }

  void initialize() override {
    if (kept_ptr())
      inherit();
    {
      running_in_tree in_tree{member_};
      Impl::initialize();
    }
    // A spec's statistics count from the start, not from the first message.
    if (auto sys = sys_.load(std::memory_order_acquire))
      sys->acknowledge(this);
    // Unless initialization ended the actor: then its down message tells
    // why. An exception skips this, and the down message tells too.
    if (this->alive())
      announce_started(start_listener_, this);
    start_listener_ = nullptr;
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    running_in_tree in_tree{member_};
    // Caught here, not by CAF around this call: the exception unwinds
    // fewer frames (none with a destructor), and its reason is read in the
    // catch clause rather than by throwing it again: about a quarter of a
    // crash's instructions, measured.
    try {
      // Most children neither quarantine nor resume: one branch per message.
      if (!guarded_.load(std::memory_order_relaxed))
        return Impl::consume(x);
      return guarded_consume(x);
    } catch (const std::exception& e) {
      return crashed(x, &e);
    } catch (...) {
      return crashed(x, nullptr);
    }
  }

  caf::resumable::resume_result resume(caf::execution_unit* host,
                                       size_t max_throughput) override {
    // A handler's time runs from the previous one's end only within one
    // run: not across the time the child waited for a message.
    if (auto sys = sys_.load(std::memory_order_acquire))
      sys->unchain();
    return Impl::resume(host, max_throughput);
  }

  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* host) override {
    auto kept = kept_ptr();
    if (!kept) {
      push(std::move(x), host);
      return;
    }
    // Either this push sees the gate and hands `x` to the box, or `salvage`
    // waits until the push is done and finds `x` in the mailbox: nothing is
    // pushed onto the closed mailbox, where CAF would drop it.
    inflight_.fetch_add(1, std::memory_order_seq_cst);
    if (gate_.load(std::memory_order_seq_cst)) {
      inflight_.fetch_sub(1, std::memory_order_seq_cst);
      kept->late(std::move(x));
      return;
    }
    push(std::move(x), host);
    inflight_.fetch_sub(1, std::memory_order_seq_cst);
  }

  bool cleanup(caf::error&& reason, caf::execution_unit* host) override {
    if (kept_ptr() && !this->mailbox().closed())
      salvage(reason);
    // Handles may keep an ended incarnation's object alive: it lets go of
    // its spec (the decider and the factory's captures) and of the messages
    // it logged now.
    if (parts_) {
      parts_->resume.reset();
      parts_->forensics.reset();
      parts_->ring.reset();
    }
    if (auto sys = sys_.load(std::memory_order_acquire))
      sys->trace(0);
    bouncer_.close(this, reason, explain());
    return Impl::cleanup(std::move(reason), host);
  }

private:
  /// Returns the answer to a request that this incarnation, ended for
  /// `reason`, cannot handle.
  caf::error receiver_down(const caf::error& reason) const {
    return child_receiver_down(this->home_system(), path(), reason);
  }

  auto explain() const {
    return [this](const caf::error& reason) { return receiver_down(reason); };
  }

  /// Pushes `x` onto the mailbox, or answers it if the mailbox is closed.
  void push_or_bounce(caf::mailbox_element_ptr x, caf::execution_unit* host) {
    if (!bouncer_.bounced(this, x, explain()))
      Impl::enqueue(std::move(x), host);
  }

  /// Returns the child's path in its tree.
  const std::string& path() const noexcept {
    return member_.path();
  }

  /// Pushes `x` onto the mailbox, counted for the depth if `sys_` exists.
  void push(caf::mailbox_element_ptr x, caf::execution_unit* host) {
    auto c = sys_.load(std::memory_order_acquire);
    if (c == nullptr) {
      push_or_bounce(std::move(x), host);
      return;
    }
    c->pushing();
    push_or_bounce(std::move(x), host);
    c->pushed();
  }

  /// `consume` for a child that quarantines messages or may resume. Out of
  /// line, so that the other children's path stays a branch and a call.
  [[gnu::noinline]] caf::invoke_message_result
  guarded_consume(caf::mailbox_element& x) {
    auto sys = sys_.load(std::memory_order_acquire);
    if (sys != nullptr) {
      // Its supervisor's messages come first, suspended or not; the rest
      // waits while suspended (CAF keeps what is skipped, in order, and
      // tries it again after the next message it handles).
      if (is_sys_message(x)) {
        sys->taking();
        sys->unchain();
        serve_sys(*sys, x);
        return caf::invoke_message_result::consumed;
      }
      if (sys->suspended() && quarantine::eligible(x))
        return caf::invoke_message_result::skipped;
      sys->taking();
    }
    auto q = quarantine_ptr();
    auto ring = ring_ptr();
    // Trellis' own probes (an observer asking for the mailbox's depth) are
    // not the child's messages: logged, they would push its own out.
    if (ring != nullptr && sys == nullptr && is_sys_message(x))
      ring = nullptr;
    auto poison = q && quarantine::eligible(x);
    if (poison && q->armed() && q->refuse(this, x)) {
      if (sys != nullptr) {
        auto t = sys->begin(this, x);
        sys->end(t, trace_outcome::quarantined);
      }
      return caf::invoke_message_result::dropped;
    }
    // The message as it arrived: a handler may move from what it gets.
    caf::message arrived;
    if (poison)
      arrived = caf::message::copy(x.content());
    if (ring)
      ring->push(x);
    sys_ticket ticket;
    if (sys != nullptr)
      ticket = sys->begin(this, x);
    try {
      auto result = Impl::consume(x);
      auto skipped = result == caf::invoke_message_result::skipped;
      if (ring && skipped)
        ring->unpush();
      if (sys != nullptr) {
        if (skipped) {
          sys->put_back();
          sys->end_skipped(ticket);
        }
        else
          sys->end(ticket, trace_outcome::handled);
      }
      return result;
    } catch (const std::exception& e) {
      return guarded_crash(x, sys, ticket, poison, arrived, &e);
    } catch (...) {
      return guarded_crash(x, sys, ticket, poison, arrived, nullptr);
    }
  }

  /// The part of a guarded child's crash before `crashed`; inside the catch
  /// clause.
  caf::invoke_message_result
  guarded_crash(caf::mailbox_element& x, sys_control* sys, sys_ticket& ticket,
                bool poison, caf::message& arrived, const std::exception* e) {
    // A resumed exception is no crash: the quarantine does not count it.
    // An actor that installed its own exception handler chose its own
    // exit reasons, which the decider could not see here: it crashes.
    auto resume = resume_ptr();
    if (resume && has_trellis_exception_handler()
        && resume->resume(this, x, std::current_exception())) {
      if (sys != nullptr)
        sys->end(ticket, trace_outcome::resumed);
      return caf::invoke_message_result::consumed;
    }
    if (sys != nullptr)
      sys->end(ticket, trace_outcome::crashed);
    // The supervisor counts the message against the child's limit.
    if (poison)
      quarantine_ptr()->note_crash(this->address(), std::move(arrived));
    return crashed(x, e);
  }

  /// Ends the actor for the exception being handled (`e` if it is a
  /// `std::exception`) as CAF would: the exception handler's reason, an
  /// error answer to the request that crashed it, `quit`. Inside the catch
  /// clause.
  caf::invoke_message_result crashed(caf::mailbox_element& x,
                                     const std::exception* e) {
    // Outside the tree, as when CAF called the handlers after `consume`: a
    // handler or state hook may still make blocking calls into it.
    running_in_tree outside{static_cast<const void*>(nullptr)};
    auto eptr = std::current_exception();
    caf::error reason;
    if (has_trellis_exception_handler()) {
      note_crash(this, eptr, testify);
      reason = current_crash_reason(e);
    } else {
      reason = this->call_handler(this->exception_handler_, this, eptr);
    }
    if (x.mid.is_request())
      this->make_response_promise().deliver(reason);
    this->quit(std::move(reason));
    return caf::invoke_message_result::consumed;
  }

  /// Wakes the child (it begins collecting statistics, and tries what it
  /// held while suspended), renders its state for its supervisor, or
  /// answers a mailbox probe.
  void serve_sys(sys_control& sys, caf::mailbox_element& x) {
    sys.acknowledge(this);
    // The wake that follows a resume ends the suspension here, on the
    // child's thread, before anything newer: what it held comes first.
    // Consuming a message flushes only its own queue's cache.
    if (sys.take_resume()) {
      this->get_urgent_queue().flush_cache();
      this->get_normal_queue().flush_cache();
    }
    auto head = x.content().get_as<caf::atom_value>(0);
    if (head == mailbox_probe_atom::value) {
      // Answered here, not by the default handler behind the behavior: a
      // suspended child answers too, counting what it holds.
      reply_to(x, caf::make_message(static_cast<uint64_t>(waiting(this))));
    } else if (head == sys_get_state_atom::value) {
      auto f = forensics_ptr();
      auto dump = f ? f->dump : crash_dump{};
      reply_to(x, render_state(dump, this, path()));
    }
  }

  /// Answers the request `x`, if it is one.
  void reply_to(caf::mailbox_element& x, caf::message answer) {
    if (!x.mid.is_request() || !x.sender)
      return;
    x.sender->enqueue(caf::make_mailbox_element(this->ctrl(),
                                                x.mid.response_id(), {},
                                                std::move(answer)),
                      this->context());
  }

  static caf::error on_exception(caf::scheduled_actor* self,
                                 std::exception_ptr& x) {
    note_crash(self, x, testify);
    return crash_reason(x);
  }

  /// Adds the last messages and the rendered state to a crash record.
  static void testify(caf::local_actor* self, crash_record& x) noexcept {
    auto me = static_cast<crash_handled*>(self);
    if (auto ring = me->ring_ptr())
      x.last_messages = ring->snapshot();
    if (auto f = me->forensics_ptr(); f && f->dump)
      run_crash_dump(f->dump, me, x);
  }

  static const tree_member& member_fn(const caf::abstract_actor& x) noexcept {
    return static_cast<const crash_handled&>(x).member_;
  }

  static sys_control* control_fn(caf::abstract_actor& x, bool make) {
    auto& me = static_cast<crash_handled&>(x);
    return make ? &me.control() : me.control_if_any();
  }

  /// Returns whether the actor still has the exception handler Trellis
  /// gave it, rather than one of its own.
  bool has_trellis_exception_handler() const {
    using fun = caf::error (*)(caf::scheduled_actor*, std::exception_ptr&);
    auto ptr = this->exception_handler_.template target<fun>();
    return ptr != nullptr && *ptr == on_exception;
  }

  template <class Queue, class F>
  static void take_all(Queue& q, F f) {
    for (auto x = q.take_front(); x != nullptr; x = q.take_front())
      f(std::move(x));
  }

  /// Moves what is queued to the box, oldest first, on the actor's own
  /// thread as it ends (before CAF's cleanup would bounce it).
  void salvage(const caf::error& reason) {
    auto answer = receiver_down(reason);
    auto kept = kept_ptr();
    auto keep = kept->begin_drain(this->ctrl(), answer);
    gate_.store(true, std::memory_order_seq_cst);
    while (inflight_.load(std::memory_order_seq_cst) != 0)
      std::this_thread::yield();
    // Moves the inbox into the queues; the cache (skipped messages, older
    // than the rest) leaves first.
    this->mailbox().close();
    std::vector<caf::mailbox_element_ptr> xs;
    auto take = [&](caf::mailbox_element_ptr x) {
      if (!quarantine::eligible(*x))
        bounce(*x, answer); // A system request, for this incarnation.
      else if (keep)
        xs.push_back(std::move(x));
      else
        kept->lose(*x, answer);
    };
    take_all(this->get_urgent_queue(), take);
    take_all(this->get_normal_queue(), take);
    if (keep)
      kept->end_drain(std::move(xs));
  }

  /// Takes what the previous incarnation left, ahead of anything that
  /// reached this one already; on the actor's own thread, before its first
  /// message.
  void inherit() {
    auto xs = kept_ptr()->claim(this->ctrl());
    if (xs.empty())
      return;
    std::vector<caf::mailbox_element_ptr> newer;
    auto keep = [&](caf::mailbox_element_ptr x) {
      newer.push_back(std::move(x));
    };
    take_all(this->get_urgent_queue(), keep);
    take_all(this->get_normal_queue(), keep);
    auto& q = this->mailbox().queue();
    for (auto& x : xs)
      q.push_back(x.release());
    for (auto& x : newer)
      q.push_back(x.release());
    if (auto c = sys_.load(std::memory_order_acquire))
      c->handed_over(xs.size());
  }

  /// What a child has only if its spec asks for it: one pointer in the
  /// actor, null for most children, rather than five (64 bytes a child).
  struct optional_parts {
    /// The poison-message quarantine.
    std::shared_ptr<quarantine> poison;
    std::shared_ptr<kept_mailbox> kept;
    std::shared_ptr<resume_limiter> resume;
    std::shared_ptr<const forensics_spec> forensics;
    /// The last messages handled, if the spec keeps them.
    std::unique_ptr<message_ring> ring;
  };

  quarantine* quarantine_ptr() const noexcept {
    return parts_ ? parts_->poison.get() : nullptr;
  }

  /// Set in the constructor and kept until the object goes: read by
  /// `enqueue` on any thread.
  kept_mailbox* kept_ptr() const noexcept {
    return parts_ ? parts_->kept.get() : nullptr;
  }

  resume_limiter* resume_ptr() const noexcept {
    return parts_ ? parts_->resume.get() : nullptr;
  }

  const forensics_spec* forensics_ptr() const noexcept {
    return parts_ ? parts_->forensics.get() : nullptr;
  }

  message_ring* ring_ptr() const noexcept {
    return parts_ ? parts_->ring.get() : nullptr;
  }

  tree_member member_;
  closing_bouncer bouncer_;
  std::unique_ptr<optional_parts> parts_;
  /// Made at most once, kept until the object goes.
  std::atomic<sys_control*> sys_{nullptr};
  /// Whether the child quarantines, may resume, keeps its last messages, or
  /// has a `sys_`; set by the supervisor's thread when it makes `sys_`.
  std::atomic<bool> guarded_;
  /// Set once the actor ends: what reaches it goes to its kept mailbox.
  std::atomic<bool> gate_{false};
  /// Pushes onto the mailbox under way.
  std::atomic<int> inflight_{0};
  /// A weak handle: a child must not keep its supervisor alive.
  caf::actor_addr start_listener_;
};

} // namespace trellis::detail
