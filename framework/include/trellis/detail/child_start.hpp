#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "trellis/checkpoint_store.hpp"
#include "trellis/detail/crash_witness.hpp"
#include "trellis/detail/kept_mailbox.hpp"
#include "trellis/detail/quarantine.hpp"
#include "trellis/detail/resume_limiter.hpp"

namespace trellis::detail {

/// What a supervisor hands one start of a child beyond what its factory
/// sees, filled into the `child_context` it builds for the start. A context
/// made outside a tree has the defaults: no checkpoint store, no
/// quarantine, no resumes, no placement, nobody to tell of the start.
struct child_start {
  /// Where the child's checkpoint lives.
  std::shared_ptr<checkpoint_store> store;
  /// Whether the child must start without a checkpoint (a dynamic child's
  /// first start).
  bool fresh = false;
  /// The child's latest incarnation, shared with its checkpoints so that a
  /// superseded incarnation cannot save over its replacement: the
  /// supervisor's, or null until the first checkpoint makes it (and the
  /// supervisor takes it from the context after the start).
  std::shared_ptr<std::atomic<uint64_t>> latest;
  /// Which incarnation this start makes.
  uint64_t incarnation = 0;
  /// The child's poison-message quarantine.
  std::shared_ptr<quarantine> poison;
  /// The child's messages between incarnations, if it keeps its mailbox.
  std::shared_ptr<kept_mailbox> kept;
  /// The child's decider on its own side, if its spec has one.
  std::shared_ptr<resume_limiter> resume;
  /// What the child records for its crash reports beyond the stack and the
  /// message, if its spec asks for more.
  std::shared_ptr<const forensics_spec> forensics;
  /// Where a remote child may run, and the nodes its supervisor lost
  /// recently, to be tried last.
  std::vector<std::string> nodes;
  std::vector<std::string> lost;
  /// Actors spawned through the context send it `(started_atom)` once
  /// initialized, unless they initialize on `host`.
  caf::actor_addr listener;
  /// The supervisor's thread: an event-based child spawned through the
  /// context initializes there, before the factory returns.
  caf::execution_unit* host = nullptr;
};

} // namespace trellis::detail
