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
  /// What the request parser accepts.
  resp::limits limits;
  /// Crashes per second of the chaos worker, for INFO.
  double chaos_rate = 0;
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
