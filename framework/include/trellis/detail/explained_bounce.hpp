#pragma once

#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/execution_unit.hpp>
#include <caf/intrusive/task_result.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/sec.hpp>

namespace trellis::detail {

/// Answers the request `x` with `err` (nothing for a plain message).
void bounce(const caf::mailbox_element& x, const caf::error& err);

/// Returns `caf::sec::request_receiver_down` with a context that names
/// `who`, says why it ended (`reason`, rendered) and what to do (`hint`).
caf::error receiver_down(caf::actor_system& sys, const std::string& who,
                         const caf::error& reason, const char* hint);

/// `receiver_down` for a child of a tree at `path`.
caf::error child_receiver_down(caf::actor_system& sys, const std::string& path,
                               const caf::error& reason);

/// What makes an actor answer the requests it leaves unhandled when it
/// ends, and those that reach it afterwards, with CAF's
/// `request_receiver_down` plus a context from `receiver_down(reason)`:
/// which actor ended, why, and what to do. CAF's own answer is the bare
/// code, which tells a caller neither which child nor which restart.
///
/// A member of the actor, which calls it from its `enqueue` and `cleanup`
/// (see `explained_bounce`). `Explain` is a function object that returns
/// the answer for an actor that ended for a reason.
class closing_bouncer {
public:
  /// Answers `x` if it is a request and `self`'s mailbox is closed, in
  /// `enqueue`; returns whether it did (the caller then drops `x`).
  template <class Self, class Explain>
  bool bounced(Self* self, const caf::mailbox_element_ptr& x,
               Explain explain) const {
    // `reason_` is set before the mailbox closes (see close) and read
    // only once it is closed.
    if (x && x->mid.is_request() && self->mailbox().closed()) {
      bounce(*x, explain(reason_));
      return true;
    }
    return false;
  }

  /// Closes `self`'s mailbox and answers each request in it, in `cleanup`.
  template <class Self, class Explain>
  void close(Self* self, const caf::error& reason, Explain explain) {
    auto& mbox = self->mailbox();
    if (mbox.closed())
      return;
    reason_ = reason;
    mbox.close();
    mbox.flush_cache();
    visitor<Explain> f{this, std::move(explain), caf::error{}};
    while (mbox.queue().new_round(1000, f).consumed_items > 0)
      ; // Each round answers up to 1000 messages.
  }

private:
  /// Visits the closed mailbox's queues, answering each request in them.
  /// The answer is rendered at the first request: most actors end with
  /// none pending, and a restart should not pay for the text.
  template <class Explain>
  struct visitor {
    const closing_bouncer* self;
    Explain explain;
    caf::error answer;

    void operator()(const caf::mailbox_element& x) {
      if (!x.sender || !x.mid.is_request())
        return;
      if (!answer)
        answer = explain(self->reason_);
      bounce(x, answer);
    }

    /// Nested queues hand over their keys and queues first.
    template <class Key, class Queue, class... Ts>
    caf::intrusive::task_result operator()(const Key&, const Queue&,
                                           const Ts&... xs) {
      (*this)(xs...);
      return caf::intrusive::task_result::resume;
    }
  };

  caf::error reason_;
};

/// Makes an actor class answer its requests as `closing_bouncer` says, with
/// the answer from its `receiver_down`. Trellis' event-based children and
/// supervisors use the bouncer directly: this mixin is one more class for
/// CAF's cast of every job it resumes to walk.
template <class Base>
class explained_bounce : public Base {
public:
  using Base::Base;

  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* host) override {
    if (!bouncer_.bounced(this, x, explain()))
      Base::enqueue(std::move(x), host);
  }

  bool cleanup(caf::error&& reason, caf::execution_unit* host) override {
    bouncer_.close(this, reason, explain());
    return Base::cleanup(std::move(reason), host);
  }

protected:
  /// Returns the answer for a request this actor cannot handle since it
  /// ended for `reason` (see `detail::receiver_down`).
  virtual caf::error receiver_down(const caf::error& reason) const = 0;

private:
  auto explain() const {
    return [this](const caf::error& reason) { return receiver_down(reason); };
  }

  closing_bouncer bouncer_;
};

} // namespace trellis::detail
