#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace trellis::detail {

/// What a supervisor keeps per child for its checkpoints: the child's
/// incarnations, counted, so that each checkpoint knows its own, and the
/// latest, shared with the checkpoints so that a superseded incarnation (a
/// hung one, say) cannot save over its replacement.
struct checkpoint_state {
  uint64_t incarnations = 0;
  /// Made by the first checkpoint, since most children have none.
  std::shared_ptr<std::atomic<uint64_t>> latest;

  /// Counts a new incarnation, which supersedes every older one; returns
  /// its number.
  uint64_t next_incarnation() {
    auto n = ++incarnations;
    if (latest)
      latest->store(n, std::memory_order_release);
    return n;
  }
};

} // namespace trellis::detail
