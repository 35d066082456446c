#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "trellis/dead_letter.hpp"

namespace trellis::detail {

/// Tells messages apart across incarnations: a hash of their element types
/// and a hash of their content (serialized without an execution context, so
/// that hashing never registers actors; elements that do not serialize
/// count by their printed form).
struct message_fingerprint {
  uint64_t types = 0;
  uint64_t content = 0;

  friend bool operator==(const message_fingerprint& x,
                         const message_fingerprint& y) noexcept {
    return x.types == y.types && x.content == y.content;
  }
};

/// Hashes only the element types of `msg` (cheap: no serialization).
uint64_t types_of(const caf::type_erased_tuple& msg);

message_fingerprint fingerprint_of(const caf::type_erased_tuple& msg);

/// One child's poison-message quarantine, shared by the supervisor and the
/// child's incarnations (see `child_spec::quarantine_after`). The child
/// notes the message it crashes on; the supervisor counts crashes in a row
/// on the same message and quarantines it; later incarnations set its
/// copies aside. Until then, a message costs one atomic load.
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

  /// Returns whether `x` may be quarantined at all: not a response (its
  /// handler waits for it) and not a system message (exit, down, error,
  /// timeout, CAF's `sys` requests, fault injection, a supervisor's wake and
  /// state requests of trellis/sys.hpp).
  static bool eligible(const caf::mailbox_element& x);

  // -- the child's side -------------------------------------------------------

  /// Returns whether any message is quarantined.
  bool armed() const noexcept {
    return armed_.load(std::memory_order_acquire);
  }

  /// Returns whether `msg` is quarantined, counting it as diverted if so.
  bool divert(const caf::type_erased_tuple& msg);

  /// Returns whether `x`, which `self` (an incarnation) is about to handle,
  /// is quarantined: it counts as diverted, and a request gets
  /// `errc::quarantined` as its answer.
  bool refuse(caf::scheduled_actor* self, caf::mailbox_element& x);

  /// Records that incarnation `who` is crashing on `msg`, as it arrived.
  void note_crash(const caf::actor_addr& who, caf::message msg);

  // -- the supervisor's side --------------------------------------------------

  /// Counts the exit of incarnation `who` against `limit` crashes in a row
  /// on the same message: only a crash that `who` noted continues a streak.
  /// Returns the new dead letter once the limit is reached.
  std::optional<dead_letter> count_exit(const caf::actor_addr& who,
                                        const caf::error& reason,
                                        size_t limit);

  /// Returns copies of the quarantined messages.
  std::vector<dead_letter> letters() const;

private:
  struct entry {
    message_fingerprint fingerprint;
    dead_letter letter;
  };

  struct crash {
    caf::actor_addr who;
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
