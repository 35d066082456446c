#include <catch2/catch.hpp>

#include <cstdint>
#include <list>
#include <map>
#include <memory_resource>
#include <random>
#include <set>
#include <vector>

#include "hash_index.hpp"

using trellis::detail::hash_index;

namespace {

using list = std::list<int>;
using iterator = list::iterator;

/// Keys are the ints in the list; `bits` of their hash are kept, so that a
/// small mask makes long runs of equal hashes and wrapped probe sequences.
struct model {
  explicit model(uint64_t bits) : mask(bits) {
    // nop
  }

  uint64_t hash(int key) const {
    return (static_cast<uint64_t>(key) * 0x2545F4914F6CDD1Dull) & mask;
  }

  void insert(int key) {
    auto i = xs.insert(xs.end(), key);
    index.insert(hash(key), i);
    where.emplace(key, i);
  }

  void erase(int key) {
    auto i = where.at(key);
    index.erase(hash(key), i);
    where.erase(key);
    xs.erase(i);
  }

  const iterator* find(int key) const {
    return index.find(hash(key), [key](iterator i) { return *i == key; });
  }

  /// Checks that every key is found, and nothing else.
  void check(int universe) const {
    for (int key = 0; key < universe; ++key) {
      auto found = find(key);
      if (where.count(key) > 0) {
        REQUIRE(found);
        REQUIRE(**found == key);
      } else {
        REQUIRE_FALSE(found);
      }
    }
    std::set<int> seen;
    index.for_each([&](iterator i) { seen.insert(*i); });
    REQUIRE(seen.size() == where.size());
    REQUIRE(index.size() == where.size());
  }

  uint64_t mask;
  list xs;
  std::map<int, iterator> where;
  hash_index<iterator> index{std::pmr::get_default_resource()};
};

} // namespace

TEST_CASE("a hash index finds what it holds, whatever the collisions",
          "[hash_index]") {
  // All hashes equal, three distinct ones, and full hashes.
  auto mask = GENERATE(uint64_t{0}, uint64_t{3}, ~uint64_t{0});
  model m{mask};
  std::mt19937 rng{42};
  constexpr int universe = 300;
  for (int round = 0; round < 3000; ++round) {
    auto key = static_cast<int>(rng() % universe);
    if (m.where.count(key) > 0)
      m.erase(key);
    else
      m.insert(key);
    if (round % 100 == 0)
      m.check(universe);
  }
  m.check(universe);
}

TEST_CASE("a hash index erases from the middle of a wrapped run",
          "[hash_index]") {
  // Eight equal hashes fill half of the first 16 slots in one run, which
  // starts past the middle and so wraps; erasing each position in turn
  // must keep the rest.
  for (int victim = 0; victim < 8; ++victim) {
    model m{0};
    for (int key = 0; key < 8; ++key)
      m.insert(key);
    REQUIRE(m.index.capacity() == 16);
    m.erase(victim);
    m.check(8);
  }
}

TEST_CASE("a hash index gives back its slots when its entries go",
          "[hash_index]") {
  model m{~uint64_t{0}};
  for (int key = 0; key < 10'000; ++key)
    m.insert(key);
  auto full = m.index.capacity();
  CHECK(full >= 20'000);
  for (int key = 0; key < 9'990; ++key)
    m.erase(key);
  CHECK(m.index.capacity() < full / 100);
  CHECK(m.index.capacity() >= 20);
  m.check(10'000);
  m.index.clear();
  CHECK(m.index.capacity() == 0);
  CHECK_FALSE(m.find(9'995));
}
