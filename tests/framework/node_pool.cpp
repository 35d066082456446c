#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <list>
#include <memory_resource>
#include <set>
#include <vector>

#include "node_pool.hpp"

using trellis::detail::node_pool;

TEST_CASE("a node pool reuses a freed block for the next of its size",
          "[node_pool]") {
  node_pool pool;
  auto a = pool.allocate(48);
  auto b = pool.allocate(48);
  CHECK(a != b);
  pool.deallocate(a, 48);
  // Same size class (rounded up to the alignment granule): the same block.
  CHECK(pool.allocate(40) == a);
  // Another class does not take it.
  pool.deallocate(b, 48);
  auto c = pool.allocate(200);
  CHECK(c != b);
  CHECK(pool.allocate(48) == b);
  // Tiny and empty requests still get blocks of their own.
  auto t1 = pool.allocate(1);
  auto t0 = pool.allocate(0);
  CHECK(t1 != t0);
  pool.deallocate(t1, 1);
  pool.deallocate(t0, 0);
}

TEST_CASE("a node pool's blocks are aligned, distinct and writable",
          "[node_pool]") {
  node_pool pool;
  std::vector<std::pair<void*, size_t>> blocks;
  std::set<void*> seen;
  for (size_t round = 0; round < 3; ++round) {
    for (size_t size = 1; size <= node_pool::max_pooled + 512; size += 37) {
      auto p = pool.allocate(size);
      CHECK(reinterpret_cast<uintptr_t>(p) % alignof(std::max_align_t) == 0);
      CHECK(seen.insert(p).second);
      std::memset(p, 0xAB, size);
      blocks.emplace_back(p, size);
    }
    // Free every other block; the next round reuses them.
    for (size_t i = 0; i < blocks.size(); i += 2) {
      seen.erase(blocks[i].first);
      pool.deallocate(blocks[i].first, blocks[i].second);
    }
    std::vector<std::pair<void*, size_t>> kept;
    for (size_t i = 1; i < blocks.size(); i += 2)
      kept.push_back(blocks[i]);
    blocks = std::move(kept);
  }
  for (auto& [p, size] : blocks)
    pool.deallocate(p, size);
}

TEST_CASE("containers on a node pool behave as usual", "[node_pool]") {
  node_pool pool;
  std::pmr::list<std::pmr::vector<int>> xs{&pool};
  for (int i = 0; i < 1000; ++i) {
    xs.emplace_back(static_cast<size_t>(i % 300), i);
    if (i % 3 == 0)
      xs.pop_front();
  }
  CHECK(xs.size() == 666);
  CHECK(xs.back().size() == 999 % 300);
  CHECK(xs.back().front() == 999);
}
