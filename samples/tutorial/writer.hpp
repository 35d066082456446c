#pragma once

// Step 3: the writer, which keeps the latest value of every key and
// checkpoints its table after each write, so that its next incarnation
// resumes where this one was.

#include <atomic>
#include <memory>

#include "trellis/child_spec.hpp"

namespace tutorial {

/// The writer's disk. `sync` stands for an fsync; while `stalled` is set
/// it never returns, as a disk that stopped answering (step 4 sets it).
struct disk {
  std::atomic<bool> stalled{false};

  void sync() const;
};

/// The writer, `root/writer`: answers a line "key=value..." with
/// "stored key=value... (N keys)", and `(caf::get_atom, key)` with the
/// key's value, or an empty string.
trellis::child_spec writer(std::shared_ptr<disk> d);

} // namespace tutorial
