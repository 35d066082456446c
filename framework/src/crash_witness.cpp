#include "trellis/detail/crash_witness.hpp"

#include <array>
#include <deque>
#include <mutex>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/node_id.hpp>

#include "trellis/detail/member_class.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/errc.hpp"

#include "throw_trace.hpp"

namespace trellis::detail {

namespace {

/// Records left by crashing incarnations until their supervisors take them,
/// in the order they crashed. A supervisor takes a record when the down
/// message arrives, so few wait at a time; the bound only matters for
/// incarnations whose supervisor never asks (it ended first).
class crash_records {
public:
  static constexpr size_t max_waiting = 1024;

  void leave(caf::actor_id who, crash_record x) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (records_.size() == max_waiting)
      records_.pop_front();
    records_.emplace_back(who, std::move(x));
  }

  std::optional<crash_record> take(caf::actor_id who) {
    std::lock_guard<std::mutex> guard{mtx_};
    // Newest first: the supervisor usually takes what just crashed.
    for (auto i = records_.rbegin(); i != records_.rend(); ++i)
      if (i->first == who) {
        auto result = std::move(i->second);
        records_.erase(std::next(i).base());
        return result;
      }
    return std::nullopt;
  }

private:
  std::mutex mtx_;
  std::deque<std::pair<caf::actor_id, crash_record>> records_;
};

crash_records& records() {
  static crash_records instance;
  return instance;
}

logged_message logged(const caf::mailbox_element& x) {
  return logged_message{x.copy_content_to_message(), describe_sender(x.sender),
                        x.mid.is_request()};
}

} // namespace

namespace {

std::string describe_now(const caf::strong_actor_ptr& x) {
  auto ptr = caf::actor_cast<caf::abstract_actor*>(x);
  if (x->node() == ptr->home_system().node())
    if (auto member = tree_member_of(ptr);
        member != nullptr && !member->path().empty())
      return member->path();
  auto result = "actor #" + std::to_string(x->id());
  if (x->node() != ptr->home_system().node())
    result += "@" + to_string(x->node());
  return result;
}

} // namespace

std::string describe_sender(const caf::strong_actor_ptr& x) {
  if (!x)
    return {};
  // A crash loop crashes on the same few senders: each thread remembers the
  // last ones, since finding a path takes a lookup by type under a lock
  // and a copy. An actor keeps its path for life, and its id is never
  // reused on its node.
  struct entry {
    caf::actor_id id = 0;
    caf::node_id node;
    std::string text;
  };
  thread_local std::array<entry, 8> cache;
  thread_local size_t next = 0;
  for (auto& e : cache)
    if (e.id == x->id() && e.node == x->node())
      return e.text;
  auto& e = cache[next++ % cache.size()];
  e.id = x->id();
  e.node = x->node();
  e.text = describe_now(x);
  return e.text;
}

void run_crash_dump(const crash_dump& dump, caf::local_actor* self,
                    crash_record& x) noexcept {
  try {
    x.state = dump(self);
    if (x.state.size() > max_rendered_state) {
      x.state.resize(max_rendered_state);
      x.state += "...";
      x.state.shrink_to_fit();
    }
  } catch (const std::exception& e) {
    x.state_error = "the state hook threw: " + std::string{e.what()};
  } catch (...) {
    x.state_error = "the state hook threw something that is not a "
                    "std::exception";
  }
}

caf::message render_state(const crash_dump& dump, caf::local_actor* self,
                          const std::string& path) noexcept {
  try {
    if (!dump)
      return caf::make_message(
        make_error(errc::not_supported, path,
                   "get_state needs a format_state hook in the child's spec"));
    crash_record rec;
    run_crash_dump(dump, self, rec);
    if (!rec.state_error.empty())
      return caf::make_message(
        make_error(errc::unhealthy, path, std::move(rec.state_error)));
    return caf::make_message(std::move(rec.state));
  } catch (...) {
    return caf::make_message(caf::make_error(caf::sec::bad_function_call));
  }
}

void note_crash(caf::local_actor* self, const std::exception_ptr& x,
                crash_testimony testify) noexcept {
  try {
    crash_record rec;
    if (x)
      rec.trace = take_throw_trace(x);
    if (auto e = self->current_mailbox_element())
      rec.message = logged(*e);
    if (testify != nullptr)
      testify(self, rec);
    records().leave(self->id(), std::move(rec));
  } catch (...) {
    // Out of memory while recording: the report goes without forensics
    // rather than a second exception inside CAF's handler.
  }
}

std::optional<crash_record> take_crash_record(caf::actor_id who) {
  return records().take(who);
}

void message_ring::push(const caf::mailbox_element& x) {
  auto& slot = entries_[next_];
  slot.content = x.copy_content_to_message();
  slot.sender = caf::actor_cast<caf::actor_addr>(x.sender);
  slot.request = x.mid.is_request();
  next_ = (next_ + 1) % entries_.size();
  if (size_ < entries_.size())
    ++size_;
}

void message_ring::unpush() noexcept {
  if (size_ == 0)
    return;
  next_ = (next_ + entries_.size() - 1) % entries_.size();
  entries_[next_] = entry{};
  --size_;
}

std::vector<logged_message> message_ring::snapshot() const {
  std::vector<logged_message> result;
  result.reserve(size_);
  auto first = (next_ + entries_.size() - size_) % entries_.size();
  for (size_t i = 0; i < size_; ++i) {
    auto& x = entries_[(first + i) % entries_.size()];
    result.push_back(logged_message{
      x.content, describe_sender(caf::actor_cast<caf::strong_actor_ptr>(x.sender)),
      x.request});
  }
  return result;
}

} // namespace trellis::detail
