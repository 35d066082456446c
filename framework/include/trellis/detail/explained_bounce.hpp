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

/// Visits a closed mailbox's queues, answering each request in them.
struct explained_bouncer {
  const caf::error& err;

  void operator()(const caf::mailbox_element& x) const {
    bounce(x, err);
  }

  /// Nested queues hand over their keys and queues first.
  template <class Key, class Queue, class... Ts>
  caf::intrusive::task_result operator()(const Key&, const Queue&,
                                         const Ts&... xs) const {
    (*this)(xs...);
    return caf::intrusive::task_result::resume;
  }
};

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
    // Set before the mailbox closes (see cleanup), read only once closed.
    if (x && x->mid.is_request() && this->mailbox().closed()) {
      bounce(*x, ended_);
      return;
    }
    Base::enqueue(std::move(x), host);
  }

  bool cleanup(caf::error&& reason, caf::execution_unit* host) override {
    auto& mbox = this->mailbox();
    if (!mbox.closed()) {
      ended_ = receiver_down(reason);
      mbox.close();
      mbox.flush_cache();
      explained_bouncer f{ended_};
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
  caf::error ended_;
};

} // namespace trellis::detail
