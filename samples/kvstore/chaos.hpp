#pragma once

// The chaos monkey: a worker that crashes connection and shard actors at
// random, at a given rate, to show that the tree contains each crash.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include <caf/atom.hpp>

#include "trellis/child_spec.hpp"

namespace kvstore {

struct runtime;

/// `(chaos_atom)` makes a connection or a shard throw `chaos_crash` inside
/// its handler: a crash like any bug's.
using chaos_atom = caf::atom_constant<caf::atom("kv_chaos")>;

/// What an actor told to crash throws.
struct chaos_crash : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What the chaos monkey does.
struct chaos_options {
  /// Crashes per second; 0 turns chaos off.
  double rate = 0;
  /// Crash connections.
  bool connections = true;
  /// Crash shards.
  bool shards = true;
  /// The seed of its random choices.
  uint64_t seed = 1;
};

/// The chaos worker under `root`: every `1 / rate` seconds it picks
/// connections or shards (at random, if both), then a random running child
/// of `root/connections` or `root/keyspace`, and tells it to crash. It counts
/// the crashes in `rt`'s stats.
trellis::child_spec chaos_worker(std::string id, chaos_options opts,
                                 std::shared_ptr<runtime> rt);

} // namespace kvstore
