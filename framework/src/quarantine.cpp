#include "trellis/detail/quarantine.hpp"

#include <algorithm>
#include <functional>
#include <string_view>

#include <caf/atom.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/response_promise.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/type_erased_tuple.hpp>

#include "trellis/atoms.hpp"
#include "trellis/errc.hpp"
#include "trellis/fault_injection.hpp"

namespace trellis::detail {

namespace {

uint64_t mix(uint64_t seed, uint64_t x) {
  return seed ^ (x + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2));
}

uint64_t type_hash(const caf::type_erased_tuple& msg, size_t i) {
  auto t = msg.type(i);
  // User types share type number 0; their RTTI tells them apart.
  if (t.second != nullptr)
    return std::hash<std::string_view>{}(t.second->name());
  return t.first;
}

} // namespace

uint64_t types_of(const caf::type_erased_tuple& msg) {
  uint64_t result = msg.size();
  for (size_t i = 0; i < msg.size(); ++i)
    result = mix(result, type_hash(msg, i));
  return result;
}

message_fingerprint fingerprint_of(const caf::type_erased_tuple& msg) {
  std::vector<char> buf;
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr),
                              buf};
  for (size_t i = 0; i < msg.size(); ++i) {
    auto before = buf.size();
    // Types allowed as unsafe serialize to nothing, and actor handles fail
    // without a context: their printed form stands in.
    if (msg.save(i, sink) || buf.size() == before) {
      buf.resize(before);
      auto text = msg.stringify(i);
      buf.insert(buf.end(), text.begin(), text.end());
    }
  }
  return {types_of(msg),
          std::hash<std::string_view>{}(std::string_view{buf.data(),
                                                         buf.size()})};
}

bool quarantine::eligible(const caf::mailbox_element& x) {
  if (x.mid.is_response())
    return false;
  auto& msg = x.content();
  if (msg.empty())
    return true;
  if (msg.match_element<caf::atom_value>(0)) {
    auto head = msg.get_as<caf::atom_value>(0);
    return head != caf::sys_atom::value && head != fault_atom::value
           && head != sys_resume_atom::value
           && head != sys_get_state_atom::value;
  }
  return !msg.match_element<caf::exit_msg>(0)
         && !msg.match_element<caf::down_msg>(0)
         && !msg.match_element<caf::error>(0)
         && !msg.match_element<caf::timeout_msg>(0)
         && !msg.match_element<caf::group_down_msg>(0);
}

bool quarantine::divert(const caf::type_erased_tuple& msg) {
  auto types = types_of(msg);
  {
    // Most messages differ in type from every quarantined one: no hashing.
    std::lock_guard<std::mutex> guard{mtx_};
    if (std::none_of(entries_.begin(), entries_.end(), [&](const entry& e) {
          return e.fingerprint.types == types;
        }))
      return false;
  }
  auto fp = fingerprint_of(msg);
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& e : entries_)
    if (e.fingerprint == fp) {
      ++e.letter.diverted;
      return true;
    }
  return false;
}

bool quarantine::refuse(caf::scheduled_actor* self, caf::mailbox_element& x) {
  if (!divert(x.content()))
    return false;
  if (x.mid.is_request()) {
    // A response promise also serves requests that came forwarded.
    self->current_mailbox_element(&x);
    self->make_response_promise().deliver(
      make_error(errc::quarantined, path_,
                 "the message crashed this child too often in a row"));
    self->current_mailbox_element(nullptr);
  }
  return true;
}

void quarantine::note_crash(const caf::actor_addr& who, caf::message msg) {
  crash x{who, fingerprint_of(msg), std::move(msg)};
  std::lock_guard<std::mutex> guard{mtx_};
  last_crash_ = std::move(x);
}

std::optional<dead_letter> quarantine::count_exit(const caf::actor_addr& who,
                                                  const caf::error& reason,
                                                  size_t limit) {
  std::lock_guard<std::mutex> guard{mtx_};
  std::optional<crash> x;
  if (last_crash_ && last_crash_->who == who)
    x = std::move(last_crash_);
  last_crash_.reset();
  // Only a crash on a message continues a streak; any other exit ends it.
  if (!x || !is(reason, errc::unhandled_exception)) {
    streak_.reset();
    streak_length_ = 0;
    return std::nullopt;
  }
  if (streak_ && *streak_ == x->fingerprint) {
    ++streak_length_;
  } else {
    streak_ = x->fingerprint;
    streak_length_ = 1;
  }
  if (limit == 0 || streak_length_ < limit)
    return std::nullopt;
  streak_.reset();
  streak_length_ = 0;
  dead_letter letter{path_, std::move(x->content), reason, limit, 0,
                     caf::make_timestamp()};
  if (entries_.size() == max_letters)
    entries_.erase(entries_.begin());
  entries_.push_back(entry{x->fingerprint, letter});
  armed_.store(true, std::memory_order_release);
  return letter;
}

std::vector<dead_letter> quarantine::letters() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<dead_letter> result;
  result.reserve(entries_.size());
  for (auto& e : entries_)
    result.push_back(e.letter);
  return result;
}

} // namespace trellis::detail
