#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "trellis/dead_letter.hpp"

namespace trellis::detail {

/// Tells messages apart across incarnations: their type and a hash of their
/// serialized content. Messages CAF can neither serialize nor print differ
/// by type only.
struct message_fingerprint {
  uint32_t type_token = 0;
  uint64_t hash = 0;

  friend bool operator==(const message_fingerprint& x,
                         const message_fingerprint& y) noexcept {
    return x.type_token == y.type_token && x.hash == y.hash;
  }
};

message_fingerprint fingerprint_of(caf::actor_system& sys,
                                   const caf::type_erased_tuple& msg);

/// One child's poison-message quarantine, shared by the supervisor and the
/// child's incarnations (see `child_spec::quarantine_after`). The child
/// notes the message it crashed on; the supervisor counts crashes in a row
/// on the same message and quarantines it; later incarnations set its
/// copies aside. The happy path costs one relaxed atomic load per message.
class quarantine {
public:
  /// At most this many messages stay quarantined per child; the oldest
  /// leaves first.
  static constexpr size_t max_letters = 1000;

  explicit quarantine(std::string path) : path_(std::move(path)) {
    // nop
  }

  /// Returns the child's path.
  const std::string& path() const noexcept {
    return path_;
  }

  // -- the child's side -------------------------------------------------------

  /// Returns whether any message is quarantined.
  bool armed() const noexcept {
    return armed_.load(std::memory_order_acquire);
  }

  /// Returns whether `msg` is quarantined, counting it as diverted if so.
  bool divert(caf::actor_system& sys, const caf::type_erased_tuple& msg);

  /// Records the message the child is crashing on.
  void note_crash(caf::actor_system& sys, const caf::type_erased_tuple& msg);

  // -- the supervisor's side --------------------------------------------------

  /// Takes the child's last crash, if it recorded one since the last call,
  /// and counts it against `limit` crashes in a row on the same message.
  /// Returns the new dead letter once the limit is reached.
  std::optional<dead_letter> count_exit(const caf::error& reason,
                                        size_t limit);

  /// Returns copies of the quarantined messages.
  std::vector<dead_letter> letters() const;

private:
  struct entry {
    message_fingerprint fingerprint;
    dead_letter letter;
  };

  struct crash {
    message_fingerprint fingerprint;
    caf::message content;
  };

  mutable std::mutex mtx_;
  std::atomic<bool> armed_{false};
  std::string path_;
  std::vector<entry> entries_;
  std::optional<crash> last_crash_;
  // Crashes in a row on the same message, and which message.
  std::optional<message_fingerprint> streak_;
  size_t streak_length_ = 0;
};

} // namespace trellis::detail
