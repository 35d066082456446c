#pragma once

// Which shards a command goes to, and how their answers make one reply.
// Plain functions of the command, so that the tests can check them.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "resp.hpp"

namespace kvstore {

/// Returns the shard of `key` among `shards`: FNV-1a, the same in every run,
/// since with `--data-dir` a shard's keys outlive the process.
size_t shard_of(const std::string& key, size_t shards);

/// The share of a command that one shard executes.
struct shard_part {
  /// The shard.
  size_t shard = 0;
  /// The command for that shard, e.g. `MGET a c` of `MGET a b c`.
  std::vector<std::string> args;
  /// For `route::each_key_values`: where the shard's values go in the reply.
  std::vector<uint32_t> positions;
};

/// A command, routed.
struct plan {
  /// The table entry; null for an unknown or empty command.
  const command* cmd = nullptr;
  /// The reply, when no shard is needed: local commands and errors.
  std::optional<resp::reply> answer;
  /// The shard parts otherwise, at most one per shard.
  std::vector<shard_part> parts;
  /// Close the connection after the reply (QUIT).
  bool close_after = false;
};

/// Routes `args` (which it consumes) over `shards` shards. Local commands
/// that need no server state are answered here; `INFO` and `SCAN` get
/// parts for every shard and are finished by the connection (see
/// `combine`). An MGET of more keys than a reply of `max_reply` bytes has
/// room for is answered `resp::too_large` here, before any shard builds
/// its part.
plan route_command(std::vector<std::string> args, size_t shards,
                   size_t max_reply);

/// Combines the shards' answers to `p`'s parts, in the order of the parts,
/// into the reply. An error answer of any part is the reply, and so is
/// `resp::too_large` when the parts together hold more than `max_reply`
/// bytes (each shard bounds its own part only). `INFO` gives the keyspace
/// section only; the connection adds its own.
resp::reply combine(const plan& p, std::vector<resp::reply> answers,
                    size_t max_reply);

} // namespace kvstore
