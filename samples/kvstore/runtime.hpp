#pragma once

// What the server's parts share: its settings, counters for INFO, and the
// handles of the shards, which exist only once the tree is up.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/timespan.hpp>

#include "resp.hpp"

namespace kvstore {

/// Counters for INFO; updated from any thread.
struct server_stats {
  std::atomic<uint64_t> connections_received{0};
  std::atomic<int64_t> connected_clients{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<uint64_t> commands_processed{0};
  std::atomic<uint64_t> shard_retries{0};
  std::atomic<uint64_t> chaos_connections{0};
  std::atomic<uint64_t> chaos_shards{0};
  /// Clients closed because their replies piled up unread.
  std::atomic<uint64_t> output_limit_disconnects{0};
  /// Reply bytes written for clients and not yet sent, all clients.
  std::atomic<uint64_t> output_bytes{0};
  /// Clients closed because their partial requests took too much or waited
  /// too long.
  std::atomic<uint64_t> input_limit_disconnects{0};
  /// Bytes held for requests still arriving, all clients.
  std::atomic<uint64_t> input_bytes{0};
  /// Argument bytes of commands read and not yet answered, all clients.
  std::atomic<uint64_t> queued_bytes{0};
};

/// How many reply bytes may wait for clients that do not read them, as
/// Redis' `client-output-buffer-limit` bounds them. Below `pause`, a
/// client's commands are read and executed; above, they wait until its
/// replies drain, and a client that stays above for `stall_timeout` is
/// disconnected (Redis' soft limit). A client past `per_client` (one huge
/// reply), or holding more than `per_client / 8` when all clients together
/// pass `total`, is disconnected at once (Redis' hard limit).
///
/// A single reply is never built past `per_client`: it is answered
/// `resp::too_large` instead (see `keyspace::max_reply`).
struct output_limits {
  uint64_t per_client = resp::default_max_reply;
  uint64_t total = 256u << 20;
  uint64_t pause = 1u << 20;
  std::chrono::seconds stall_timeout{10};
};

/// How much of requests still arriving the server holds for its clients.
/// One request is bounded by `resp::limits` (64 MiB); what all clients'
/// partial requests hold together is bounded by `total`: the client whose
/// request would take it past is answered an error and closed. A client
/// that holds a partial request and sends nothing more for `timeout` is
/// closed too (Redis' `timeout`, for partial requests only; 0: never), so
/// that clients that stop halfway cannot keep that memory for good.
/// Commands read and not yet answered are bounded by `total` too, apart:
/// past it, clients with commands under way stop reading until theirs are
/// answered.
struct input_limits {
  uint64_t total = 128u << 20;
  std::chrono::seconds timeout{10};
};

/// Shared by main, the listener, the connections and the chaos worker.
struct runtime {
  /// The address to listen on.
  std::string host = "127.0.0.1";
  /// The port: as asked, then (once the listener is up) as bound, so that a
  /// restarted listener binds the same one.
  std::atomic<uint16_t> port{6379};
  /// The number of shards.
  size_t shards = 4;
  /// Most clients at once (`--max-clients`, fitted to the descriptor
  /// limit): the `connections` supervisor's `max_children`.
  size_t max_clients = 10000;
  /// What the request parser accepts.
  resp::limits limits;
  /// What replies may hold.
  output_limits output;
  /// What partial requests may hold.
  input_limits input;
  /// How long a shard may take to answer a batch. A batch past it gets
  /// `-ERR shard N unavailable: ...` for each of its commands, which may or
  /// may not have been executed.
  caf::timespan shard_timeout = std::chrono::seconds(10);
  /// How often a batch that a shard's incarnation dropped unexecuted (it
  /// died with the batch in its mailbox) is sent again, after 1, 2, 4, ...
  /// ms, at most 100 ms apart: 100 times is about 10 s. Then its commands
  /// get `-ERR shard N unavailable: ...`.
  int shard_attempts = 100;
  /// Crashes per second of the chaos worker, for INFO.
  double chaos_rate = 0;
  /// The allocator the server was linked with, for INFO.
  std::string mem_allocator = "libc";
  /// When the server started, for INFO.
  std::chrono::steady_clock::time_point started
    = std::chrono::steady_clock::now();
  /// The counters.
  server_stats stats;

  /// Publishes the shards' stable handles, once the tree is up.
  void shard_handles(std::vector<caf::actor> xs) {
    std::lock_guard<std::mutex> guard{mtx_};
    shards_ = std::move(xs);
  }

  /// Returns the shards' stable handles, or none before the tree is up.
  std::vector<caf::actor> shard_handles() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return shards_;
  }

private:
  mutable std::mutex mtx_;
  std::vector<caf::actor> shards_;
};

} // namespace kvstore
