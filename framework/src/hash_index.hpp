#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <new>
#include <utility>
#include <vector>

namespace trellis::detail {

/// An index from hashes to iterators into a container that owns the keys:
/// open addressing with linear probing in one array of 16-byte slots. At
/// 100,000 children a node-based map follows three or four pointers across
/// megabytes per insert or erase (a cache miss each, the largest share of a
/// start's bookkeeping); here an operation touches one or two neighbouring
/// cache lines, and the entries take less memory.
///
/// The index stores no keys: `find` asks the caller whether an iterator's
/// key is the one sought, and only for entries whose hash matches. Every
/// operation but `find` works from hashes alone. Not thread-safe.
template <class Iterator>
class hash_index {
public:
  explicit hash_index(std::pmr::memory_resource* memory)
    : slots_(memory) {
    // nop
  }

  hash_index(const hash_index&) = delete;
  hash_index& operator=(const hash_index&) = delete;

  /// Adds `x` under `hash`. Its key must not be present yet.
  void insert(uint64_t hash, Iterator x) {
    if ((size_ + 1) * 2 > slots_.size())
      rehash(slots_.empty() ? min_capacity : slots_.size() * 2);
    place(tag_of(hash), x);
    ++size_;
  }

  /// Returns the entry under `hash` for which `is_key(entry)` holds, or
  /// `nullptr`.
  template <class Predicate>
  const Iterator* find(uint64_t hash, Predicate is_key) const {
    if (size_ == 0)
      return nullptr;
    auto tag = tag_of(hash);
    for (auto i = home(tag); slots_[i].tag != 0; i = next(i))
      if (slots_[i].tag == tag && is_key(slots_[i].value))
        return &slots_[i].value;
    return nullptr;
  }

  /// Removes `x`, present under `hash`; does nothing if it is not.
  void erase(uint64_t hash, Iterator x) {
    if (size_ == 0)
      return;
    auto tag = tag_of(hash);
    auto i = home(tag);
    for (; slots_[i].tag != 0; i = next(i))
      if (slots_[i].tag == tag && slots_[i].value == x)
        break;
    if (slots_[i].tag == 0)
      return;
    // Backward shift: move up every later entry of the run that may sit at
    // the hole, so that no tombstones are needed.
    for (auto j = next(i); slots_[j].tag != 0; j = next(j)) {
      auto k = home(slots_[j].tag);
      // Entry j stays if its home lies cyclically in (i, j].
      auto stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = slot{};
    --size_;
    // Give back what a crowd of children that has gone left behind, in few
    // steps: each allocates, and a large allocation has malloc sort its
    // free lists first. Best effort: an erase does not fail for want of
    // memory (a failed rehash leaves the index as it was).
    if (!keep_capacity_ && slots_.size() > min_capacity
        && size_ * 16 < slots_.size()) {
      try {
        rehash(std::max(min_capacity, fitting(size_ * 4)));
      } catch (const std::bad_alloc&) {
        // Keep the larger array.
      }
    }
  }

  /// Calls `f` with every entry, in no particular order. `f` must not
  /// change the index.
  template <class F>
  void for_each(F f) const {
    if (size_ == 0)
      return;
    for (auto& x : slots_)
      if (x.tag != 0)
        f(x.value);
  }

  /// Erases no longer give memory back: the whole index goes soon (its
  /// supervisor stops every child), and shrinking on the way would rehash
  /// it again and again as the children exit.
  void keep_capacity() noexcept {
    keep_capacity_ = true;
  }

  /// Removes all entries and gives back their memory.
  void clear() noexcept {
    slots_.clear();
    slots_.shrink_to_fit();
    size_ = 0;
    shift_ = 64;
  }

  size_t size() const noexcept {
    return size_;
  }

  /// Returns the number of slots (twice the entries at most).
  size_t capacity() const noexcept {
    return slots_.size();
  }

private:
  static constexpr size_t min_capacity = 16;

  struct slot {
    /// The entry's hash with its lowest bit set; 0 marks a free slot.
    uint64_t tag = 0;
    Iterator value{};
  };

  static uint64_t tag_of(uint64_t hash) noexcept {
    return hash | 1;
  }

  /// Fibonacci hashing: the top bits of the product, well mixed even for
  /// aligned pointers, whose low bits are zero.
  size_t home(uint64_t tag) const noexcept {
    return static_cast<size_t>((tag * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  size_t next(size_t i) const noexcept {
    return (i + 1) & (slots_.size() - 1);
  }

  /// Returns the least power of two not below `n`.
  static size_t fitting(size_t n) noexcept {
    size_t result = 1;
    while (result < n)
      result *= 2;
    return result;
  }

  void place(uint64_t tag, Iterator x) {
    auto i = home(tag);
    while (slots_[i].tag != 0)
      i = next(i);
    slots_[i] = slot{tag, x};
  }

  /// Moves every entry into `n` slots, `n` a power of two; changes nothing
  /// if the new slots cannot be allocated.
  void rehash(size_t n) {
    std::pmr::vector<slot> old(n, slots_.get_allocator());
    old.swap(slots_);
    shift_ = 64;
    for (auto k = n; k > 1; k /= 2)
      --shift_;
    for (auto& x : old)
      if (x.tag != 0)
        place(x.tag, x.value);
  }

  std::pmr::vector<slot> slots_;
  size_t size_ = 0;
  bool keep_capacity_ = false;
  /// 64 minus log2 of the slot count.
  unsigned shift_ = 64;
};

} // namespace trellis::detail
