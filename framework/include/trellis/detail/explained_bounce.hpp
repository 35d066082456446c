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

/// Makes an actor class answer the requests it leaves unhandled when it
/// ends, and those that reach it afterwards, with CAF's
/// `request_receiver_down` plus a context from `receiver_down(reason)`:
/// which actor ended, why, and what to do. CAF's own answer is the bare
/// code, which tells a caller neither which child nor which restart.
template <class Base>
class explained_bounce : public Base {
public:
  using Base::Base;

  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* host) override {
    // `reason_` is set before the mailbox closes (see cleanup) and read
    // only once it is closed.
    if (x && x->mid.is_request() && this->mailbox().closed()) {
      bounce(*x, receiver_down(reason_));
      return;
    }
    Base::enqueue(std::move(x), host);
  }

  bool cleanup(caf::error&& reason, caf::execution_unit* host) override {
    auto& mbox = this->mailbox();
    if (!mbox.closed()) {
      reason_ = reason;
      mbox.close();
      mbox.flush_cache();
      bouncer f{this, caf::error{}};
      while (mbox.queue().new_round(1000, f).consumed_items > 0)
        ; // Each round answers up to 1000 messages.
    }
    return Base::cleanup(std::move(reason), host);
  }

protected:
  /// Returns the answer for a request this actor cannot handle since it
  /// ended for `reason` (see `detail::receiver_down`).
  virtual caf::error receiver_down(const caf::error& reason) const = 0;

private:
  /// Visits the closed mailbox's queues, answering each request in them.
  /// The answer is rendered at the first request: most actors end with
  /// none pending, and a restart should not pay for the text.
  struct bouncer {
    const explained_bounce* self;
    caf::error answer;

    void operator()(const caf::mailbox_element& x) {
      if (!x.sender || !x.mid.is_request())
        return;
      if (!answer)
        answer = self->receiver_down(self->reason_);
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

} // namespace trellis::detail
