#pragma once

// The commands kvstore knows: how many arguments each takes and which shards
// serve it. Connections route by this table; shards execute by it.

#include <cstdint>
#include <string>
#include <vector>

#include "resp.hpp"

namespace kvstore {

/// Which shards serve a command, and how their answers combine.
enum class route : uint8_t {
  /// The connection answers by itself (PING, ECHO, QUIT, ...).
  local,
  /// The shard of the first key (GET, SET, INCR, ...).
  one_key,
  /// The shard of each key, its keys in one part each; integer answers add
  /// up (DEL, EXISTS).
  each_key_sum,
  /// As `each_key_sum`, but the answers are values put back in key order
  /// (MGET).
  each_key_values,
  /// The shard of each key of key-value pairs; all must answer OK (MSET).
  each_pair,
  /// Every shard; integer answers add up (DBSIZE).
  all_sum,
  /// Every shard; array answers are concatenated (KEYS).
  all_concat,
  /// Every shard; all must answer OK (FLUSHALL).
  all_ok,
  /// Every shard, then a reply of the connection's own (SCAN, INFO).
  all_special,
};

/// One entry of the command table.
struct command {
  /// The name, lower case, as Redis prints it in errors.
  const char* name;
  /// Redis' arity: the exact number of arguments including the name, or
  /// at least -arity when negative.
  int arity;
  /// Which shards serve it.
  kvstore::route route;
};

/// Returns the table entry for `name` (any case), or null for an unknown
/// command.
const command* find_command(const std::string& name);

/// Returns whether `n` arguments (the name included) fit `cmd`'s arity.
bool arity_ok(const command& cmd, size_t n);

/// `ERR wrong number of arguments for '<name>' command`.
resp::reply wrong_arity(const command& cmd);

/// `ERR unknown command '<name>', with args beginning with: ...`, as Redis
/// words it.
resp::reply unknown_command(const std::vector<std::string>& args);

/// Returns `x` in upper case (ASCII).
std::string upper(std::string x);

} // namespace kvstore
