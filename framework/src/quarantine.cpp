#include "trellis/detail/quarantine.hpp"

#include <algorithm>
#include <functional>
#include <string_view>

#include <caf/binary_serializer.hpp>
#include <caf/type_erased_tuple.hpp>

#include "trellis/errc.hpp"

namespace trellis {

std::string to_string(const dead_letter& x) {
  return "dead_letter path=" + x.path + " content=" + caf::to_string(x.content)
         + " crashes=" + std::to_string(x.crashes)
         + " diverted=" + std::to_string(x.diverted)
         + " reason=" + caf::to_string(x.reason);
}

} // namespace trellis

namespace trellis::detail {

message_fingerprint fingerprint_of(caf::actor_system& sys,
                                   const caf::type_erased_tuple& msg) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  std::hash<std::string_view> hash;
  if (auto err = msg.save(sink)) {
    auto text = msg.stringify();
    return {msg.type_token(), hash(text)};
  }
  return {msg.type_token(), hash(std::string_view{buf.data(), buf.size()})};
}

bool quarantine::divert(caf::actor_system& sys,
                        const caf::type_erased_tuple& msg) {
  auto token = msg.type_token();
  {
    // Most messages differ in type from every quarantined one: no hashing.
    std::lock_guard<std::mutex> guard{mtx_};
    if (std::none_of(entries_.begin(), entries_.end(), [&](const entry& e) {
          return e.fingerprint.type_token == token;
        }))
      return false;
  }
  auto fp = fingerprint_of(sys, msg);
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& e : entries_)
    if (e.fingerprint == fp) {
      ++e.letter.diverted;
      return true;
    }
  return false;
}

void quarantine::note_crash(caf::actor_system& sys,
                            const caf::type_erased_tuple& msg) {
  crash x{fingerprint_of(sys, msg), caf::message::copy(msg)};
  std::lock_guard<std::mutex> guard{mtx_};
  last_crash_ = std::move(x);
}

std::optional<dead_letter> quarantine::count_exit(const caf::error& reason,
                                                  size_t limit) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto x = std::move(last_crash_);
  last_crash_.reset();
  // Only a crash in a handler continues a streak; any other exit ends it.
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
