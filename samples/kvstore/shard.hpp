#pragma once

// A shard: one part of the keyspace, in an actor that checkpoints every
// change before it acknowledges it, so that its next incarnation starts with
// every acknowledged write.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <caf/atom.hpp>

#include "resp.hpp"
#include "trellis/checkpoint_store.hpp"
#include "trellis/child_spec.hpp"

namespace kvstore {

/// `(exec_atom, batch)` asks a shard to execute commands in order, as one
/// step; it answers `std::vector<resp::reply>`, one per command, once their
/// changes are checkpointed. Once the replies pass 4 MiB, the rest of the
/// batch is left unexecuted and the answer is shorter: the sender sends the
/// rest again once its client has read enough.
///
/// Group commit: the batches that wait in the shard's mailbox when one is
/// executed share its checkpoint save, and all are answered after it. A
/// shard that ends before the save (a crash) answers each batch of the
/// group `sec::request_receiver_down`, as CAF answers the batches left in a
/// dead actor's mailbox: none of it was saved, so none of it took effect,
/// and the sender may send it again.
using exec_atom = caf::atom_constant<caf::atom("kv_exec")>;

/// Commands for one shard, each its arguments (see `route_command`).
using batch = std::vector<std::vector<std::string>>;

/// The child spec of shard `index` of `count`, whose checkpoints live in
/// `store`.
///
/// The shard keeps a journal of the changes since its last snapshot: its
/// child checkpoint holds the journal's tail, saved after every group of
/// batches that changed something, before they are answered; at 8 KiB the
/// tail is sealed into `<path>.journal-K` (K = 0, 1, ...) and starts empty,
/// so that a save copies at most 8 KiB. The snapshot (the whole map, under
/// `<path>.snapshot`) is rewritten once the journal is as large as it (at
/// least 64 KiB), and the segments are erased. All live in `store` and
/// carry a generation, so that a journal or segment older than its
/// snapshot is ignored.
///
/// A health check (every second, 2 s to answer, 3 misses) replaces a shard
/// that stops processing its mailbox, as a stuck command would make it.
///
/// All record the shard count: a shard refuses to start from a store
/// written with another `--shards`, since its keys would be in the wrong
/// shards.
///
/// A command whose reply would hold more than `max_reply` bytes is answered
/// `resp::too_large` (see `keyspace::max_reply`).
trellis::child_spec shard_worker(std::string id, size_t index, size_t count,
                                 std::shared_ptr<trellis::checkpoint_store>
                                   store,
                                 size_t max_reply = resp::default_max_reply);

} // namespace kvstore
