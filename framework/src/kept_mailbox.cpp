#include "trellis/detail/kept_mailbox.hpp"

#include <utility>

#include <caf/actor_control_block.hpp>
#include <caf/sec.hpp>

#include "trellis/detail/explained_bounce.hpp"
#include "trellis/detail/quarantine.hpp"
#include "trellis/errc.hpp"

namespace trellis::detail {

namespace {

/// The answer for a request that arrives once nothing is kept, and whose
/// incarnation left no explanation.
caf::error gone(const std::string& path) {
  return caf::make_error(caf::sec::request_receiver_down, path,
                         "ended before it handled this request, and no "
                         "restart followed");
}

} // namespace

kept_mailbox::~kept_mailbox() {
  // The supervisor discards before it lets go, unless an incarnation drained
  // after that: bounce, uncounted (nobody is left to tell).
  auto answer = answer_ ? answer_ : gone(path_);
  for (auto& x : items_)
    bounce(*x, answer);
  for (auto& x : late_)
    bounce(*x, answer);
}

std::vector<caf::mailbox_element_ptr>
kept_mailbox::claim(caf::actor_control_block* self) {
  std::lock_guard<std::mutex> guard{mtx_};
  current_ = caf::weak_actor_ptr{self};
  state_ = state::running;
  return std::move(items_);
}

bool kept_mailbox::begin_drain(caf::actor_control_block* self,
                               caf::error answer) {
  std::lock_guard<std::mutex> guard{mtx_};
  // A hung incarnation that ends after its replacement claimed the box, or
  // one that ends after its supervisor let go, hands nothing over.
  if (retired_ || current_.get() != self || state_ != state::running)
    return false;
  state_ = state::draining;
  answer_ = std::move(answer);
  return true;
}

void kept_mailbox::end_drain(std::vector<caf::mailbox_element_ptr> xs) {
  std::vector<caf::mailbox_element_ptr> over;
  caf::error answer;
  bool retired = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    items_.reserve(xs.size() + late_.size());
    auto keep = [&](caf::mailbox_element_ptr& x) {
      if (items_.size() < capacity)
        items_.push_back(std::move(x));
      else
        over.push_back(std::move(x));
    };
    for (auto& x : xs)
      keep(x);
    for (auto& x : late_)
      keep(x);
    late_.clear();
    state_ = state::holding;
    retired = retired_;
    if (retired) {
      // The supervisor let go while this incarnation drained.
      for (auto& x : items_)
        over.push_back(std::move(x));
      items_.clear();
    }
    answer = answer_ ? answer_ : gone(path_);
  }
  for (auto& x : over)
    lose(*x, retired ? answer
                             : make_error(errc::overloaded, path_,
                                          "the child is down and "
                                            + std::to_string(capacity)
                                            + " messages wait for it"));
}

void kept_mailbox::late(caf::mailbox_element_ptr x) {
  std::unique_lock<std::mutex> guard{mtx_};
  auto answer = answer_ ? answer_ : gone(path_);
  if (!quarantine::eligible(*x)) {
    // A response or a system message for an incarnation that has ended.
    guard.unlock();
    bounce(*x, answer);
    return;
  }
  if (!retired_) {
    switch (state_) {
      case state::draining:
        late_.push_back(std::move(x));
        return;
      case state::holding:
        // Decided under the same lock as the state: a claim cannot slip in
        // between.
        if (items_.size() < capacity) {
          items_.push_back(std::move(x));
          return;
        }
        answer = make_error(errc::overloaded, path_,
                            "the child is down and " + std::to_string(capacity)
                              + " messages wait for it");
        break;
      case state::running:
        if (auto dest = current_.lock()) {
          guard.unlock();
          dest->enqueue(std::move(x), nullptr);
          return;
        }
        break;
      case state::closed:
        break;
    }
  }
  guard.unlock();
  lose(*x, answer);
}


void kept_mailbox::lose(const caf::mailbox_element& x,
                        const caf::error& answer) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (x.mid.is_request())
      ++lost_.requests;
    else
      ++lost_.messages;
  }
  bounce(x, answer);
}

size_t kept_mailbox::held() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return state_ == state::holding ? items_.size() : 0;
}

lost_messages kept_mailbox::take_lost() {
  std::lock_guard<std::mutex> guard{mtx_};
  return std::exchange(lost_, lost_messages{});
}

lost_messages kept_mailbox::discard(bool retire) {
  std::vector<caf::mailbox_element_ptr> xs;
  caf::error answer;
  lost_messages result;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    xs = std::move(items_);
    items_.clear();
    if (state_ != state::running && state_ != state::draining)
      state_ = state::closed;
    retired_ = retired_ || retire;
    answer = answer_ ? answer_ : gone(path_);
    result = std::exchange(lost_, lost_messages{});
  }
  for (auto& x : xs) {
    if (x->mid.is_request())
      ++result.requests;
    else
      ++result.messages;
    bounce(*x, answer);
  }
  return result;
}

} // namespace trellis::detail
