#include "operation_queue.hpp"

namespace trellis::detail {

void operation_queue::end(bool overlapping) {
  // Closed: the count was reset, and nothing runs after an operation.
  if (closed_)
    return;
  if (overlapping && --overlapping_ > 0)
    return;
  busy_ = false;
  drain();
}

void operation_queue::drain() {
  // An operation that ends at once ends inside this loop: let the loop go
  // on rather than recurse, or thousands of such requests would overflow
  // the stack.
  if (draining_)
    return;
  draining_ = true;
  while (!closed_ && !waiting_.empty()
         && (!busy_ || (overlapping_ > 0 && waiting_.front().may_overlap))) {
    auto f = std::move(waiting_.front().f);
    waiting_.pop_front();
    f();
  }
  draining_ = false;
}

void operation_queue::close(const caf::error& reason) {
  closed_ = true;
  busy_ = true;
  overlapping_ = 0;
  auto replies = std::move(open_replies_);
  open_replies_.clear();
  free_replies_.clear();
  for (auto& x : replies)
    if (x.open)
      x.rp.deliver(reason);
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& x : waiting)
    x.f();
}

} // namespace trellis::detail
