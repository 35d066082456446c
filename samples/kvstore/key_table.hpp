#pragma once

// The hash table that holds a shard's keys. std::unordered_map cost about a
// sixth of a SET: a lookup missed the cache on the bucket, on the node
// before the key's, on the key's node and on the key itself when it is
// longer than the 15 bytes a std::string holds inline (redis-benchmark's
// keys take 16). Here a lookup reads one slot and one 64-byte entry that
// holds a short key and its value.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace kvstore {

/// Milliseconds since the Unix epoch. Expiry times are absolute, so that they
/// mean the same after a restart.
using millis = int64_t;

/// A key, its value and its expiry time, in one cache line: the key and the
/// value are stored together, inline when they fit in 48 bytes, else in one
/// allocation.
class key_entry {
public:
  /// A key with an empty value.
  explicit key_entry(std::string_view key) {
    store(key, {}, key.size());
  }

  key_entry(key_entry&& other) noexcept {
    take(other);
  }

  key_entry& operator=(key_entry&& other) noexcept {
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }

  key_entry(const key_entry&) = delete;
  key_entry& operator=(const key_entry&) = delete;

  ~key_entry() {
    release();
  }

  std::string_view key() const noexcept {
    return {bytes(), key_size_};
  }

  std::string_view value() const noexcept {
    return {bytes() + key_size_, value_size_};
  }

  /// Replaces the value; `x` must not point into this entry.
  void value(std::string_view x) {
    auto size = key_size_ + x.size();
    if (on_heap() && size > inline_size && size <= heap_.capacity) {
      std::memcpy(heap_.data + key_size_, x.data(), x.size());
      value_size_ = static_cast<uint32_t>(x.size());
      return;
    }
    // Moves to a new place: inline, or a larger allocation.
    auto old = on_heap() ? heap_.data : nullptr;
    store(old ? std::string_view{old, key_size_} : key(), x, size);
    delete[] old;
  }

  /// When the key expires; 0 for never.
  millis expire_at = 0;

private:
  static constexpr size_t inline_size = 48;

  bool on_heap() const noexcept {
    return key_size_ + value_size_ > inline_size;
  }

  const char* bytes() const noexcept {
    return on_heap() ? heap_.data : inline_;
  }

  // Writes the key and the value to new storage for `size` bytes; `key`
  // may point into the old storage.
  void store(std::string_view key, std::string_view value, size_t size) {
    char* dest = nullptr;
    char* heap = nullptr;
    if (size > inline_size) {
      heap = new char[size];
      dest = heap;
    } else {
      // Inline storage overlaps the heap fields: the key may be inline
      // already, or must be copied before the fields change.
      dest = inline_;
    }
    if (!key.empty())
      std::memmove(dest, key.data(), key.size());
    if (!value.empty())
      std::memcpy(dest + key.size(), value.data(), value.size());
    if (heap) {
      heap_.data = heap;
      heap_.capacity = size;
    }
    key_size_ = static_cast<uint32_t>(key.size());
    value_size_ = static_cast<uint32_t>(value.size());
  }

  void take(key_entry& other) noexcept {
    std::memcpy(static_cast<void*>(this), &other, sizeof(key_entry));
    other.key_size_ = 0;
    other.value_size_ = 0;
  }

  void release() noexcept {
    if (on_heap())
      delete[] heap_.data;
  }

  uint32_t key_size_ = 0;
  uint32_t value_size_ = 0;
  union {
    char inline_[inline_size];
    struct {
      char* data;
      size_t capacity;
    } heap_;
  };
};

static_assert(sizeof(key_entry) == 64);

/// A shard's keys: open addressing with linear probing over slots of 8
/// bytes (a 32-bit hash and the entry's index), at most half full, and the
/// entries in one vector in no particular order. A removed entry's place is
/// taken by the last one, so that walking the entries (KEYS, snapshots) is
/// a walk through memory.
///
/// A pointer to an entry holds until the next insert or erase.
class key_table {
public:
  /// Returns the key's entry, or null.
  key_entry* find(std::string_view key) {
    auto pos = find_slot(key, tag_of(key));
    return pos == npos ? nullptr : &entries_[slots_[pos].index - 1];
  }

  /// Returns the key's entry, a new one with an empty value if it is
  /// missing.
  key_entry& insert(std::string_view key) {
    auto tag = tag_of(key);
    auto pos = find_slot(key, tag);
    if (pos != npos)
      return entries_[slots_[pos].index - 1];
    if ((entries_.size() + 1) * 2 > slots_.size())
      rehash(std::max<size_t>(16, slots_.size() * 2));
    auto& e = entries_.emplace_back(key);
    slots_[free_slot(tag)] = slot{tag, static_cast<uint32_t>(entries_.size())};
    return e;
  }

  /// Starts loading the key's home slot into the cache (see `keyspace::
  /// prefetch`).
  void prefetch_slot(std::string_view key) const noexcept {
    if (!slots_.empty())
      __builtin_prefetch(&slots_[tag_of(key) & mask()]);
  }

  /// Starts loading the entry in the key's home slot into the cache, once
  /// `prefetch_slot` brought the slot in.
  void prefetch_entry(std::string_view key) const noexcept {
    if (slots_.empty())
      return;
    if (auto index = slots_[tag_of(key) & mask()].index)
      __builtin_prefetch(&entries_[index - 1]);
  }

  /// Removes an entry of this table.
  void erase(key_entry* e) {
    auto index = static_cast<size_t>(e - entries_.data());
    remove_slot(slot_of(index));
    auto last = entries_.size() - 1;
    if (index != last) {
      slots_[slot_of(last)].index = static_cast<uint32_t>(index + 1);
      entries_[index] = std::move(entries_[last]);
    }
    entries_.pop_back();
  }

  /// Removes every entry for which `pred` returns true.
  template <class Predicate>
  void erase_if(Predicate pred) {
    // Backwards: the last entry, which takes a removed one's place, has
    // been seen already.
    for (auto i = entries_.size(); i-- > 0;)
      if (pred(entries_[i]))
        erase(&entries_[i]);
  }

  /// Removes every entry and frees the memory.
  void clear() {
    entries_ = std::vector<key_entry>{};
    slots_ = std::vector<slot>{};
  }

  /// Returns the number of keys.
  size_t size() const noexcept {
    return entries_.size();
  }

  /// The entries, in no particular order.
  auto begin() const noexcept {
    return entries_.begin();
  }

  auto end() const noexcept {
    return entries_.end();
  }

private:
  struct slot {
    uint32_t tag = 0;   // the key's hash; its low bits are its home slot
    uint32_t index = 0; // the entry's index + 1; 0 for an empty slot
  };

  static constexpr size_t npos = static_cast<size_t>(-1);

  static uint32_t tag_of(std::string_view key) noexcept {
    auto h = std::hash<std::string_view>{}(key);
    return static_cast<uint32_t>(h ^ (h >> 32));
  }

  size_t mask() const noexcept {
    return slots_.size() - 1;
  }

  size_t find_slot(std::string_view key, uint32_t tag) const {
    if (slots_.empty())
      return npos;
    for (auto pos = tag & mask();; pos = (pos + 1) & mask()) {
      auto& s = slots_[pos];
      if (s.index == 0)
        return npos;
      if (s.tag == tag && entries_[s.index - 1].key() == key)
        return pos;
    }
  }

  // The slot of the entry at `index`, which is in the table.
  size_t slot_of(size_t index) const {
    auto pos = tag_of(entries_[index].key()) & mask();
    while (slots_[pos].index != index + 1)
      pos = (pos + 1) & mask();
    return pos;
  }

  size_t free_slot(uint32_t tag) const {
    auto pos = tag & mask();
    while (slots_[pos].index != 0)
      pos = (pos + 1) & mask();
    return pos;
  }

  // Empties a slot and moves back the slots after it that may (backward
  // shift deletion: no tombstones, probes stay as short as if the key had
  // never been there).
  void remove_slot(size_t hole) {
    for (auto pos = (hole + 1) & mask(); slots_[pos].index != 0;
         pos = (pos + 1) & mask()) {
      auto home = slots_[pos].tag & mask();
      if (((pos - home) & mask()) >= ((pos - hole) & mask())) {
        slots_[hole] = slots_[pos];
        hole = pos;
      }
    }
    slots_[hole] = slot{};
  }

  void rehash(size_t capacity) {
    auto old = std::exchange(slots_, std::vector<slot>(capacity));
    for (auto& s : old)
      if (s.index != 0)
        slots_[free_slot(s.tag)] = s;
  }

  std::vector<slot> slots_; // a power of two
  std::vector<key_entry> entries_;
};

} // namespace kvstore
