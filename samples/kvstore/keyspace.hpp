#pragma once

// The keys of one shard and the commands on them. Plain data, no actor: the
// shard actor owns one, and the tests drive it directly.

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "key_table.hpp"
#include "resp.hpp"

namespace kvstore {

/// Returns the current time in `millis`.
millis now_ms();

/// String keys with optional expiry, and the commands on them.
///
/// Every change is also written as a record (set a key, delete a key, delete
/// all) to a journal, so that the shard can checkpoint what changed instead
/// of the whole map. Records say what a key became, never how (INCR becomes
/// "set to 11"), so replaying a record twice does no harm.
class keyspace {
public:
  /// Executes a command that the router sent to this shard (see
  /// `command.hpp`), at time `now`, and appends a record of each change to
  /// `journal` unless it is null.
  resp::reply execute(const std::vector<std::string>& args, millis now,
                      std::string* journal = nullptr);

  /// Starts loading what executing `commands` will look up into the cache:
  /// each lookup misses twice (a slot, an entry), and a batch's misses
  /// overlap when they are all asked for before the first is needed.
  void prefetch(const std::vector<std::vector<std::string>>& commands) const;

  /// Returns the number of keys, expired ones included until they are
  /// removed.
  size_t size() const noexcept {
    return map_.size();
  }

  /// Returns the number of keys with an expiry time.
  size_t volatile_keys() const noexcept {
    return volatile_;
  }

  /// Returns the largest reply, in `resp::held_bytes`, that a command may
  /// build; a larger one is answered `resp::too_large`, and is never built
  /// whole: MGET of one large key a thousand times would be a GiB.
  size_t max_reply() const noexcept {
    return max_reply_;
  }

  /// Sets the largest reply (`--client-output-limit`).
  void max_reply(size_t x) noexcept {
    max_reply_ = x;
  }

  /// Appends a record that sets each key that has not expired at `now`.
  void dump(std::string& out, millis now) const;

  /// Applies the records in [first, last), as `execute` and `dump` wrote
  /// them. Returns false, with the records before the bad one applied, if
  /// they are malformed.
  bool replay(const char* first, const char* last, millis now);

private:
  // Returns the key's entry, or null if it is missing or expired (and then
  // removes it).
  key_entry* find(const std::string& key, millis now);

  // Stores `value` under `key` and journals it; `found` is the key's entry
  // if the caller has it.
  void store(const std::string& key, std::string_view value, millis expire_at,
             std::string* journal, key_entry* found = nullptr);

  // Removes `key` if present (and not expired) and journals it.
  bool remove(const std::string& key, millis now, std::string* journal);

  // Removes every expired key.
  void purge(millis now);

  resp::reply set(const std::vector<std::string>& args, millis now,
                  std::string* journal);
  resp::reply add(const std::string& key, const std::string* by,
                  int64_t sign, millis now, std::string* journal);
  resp::reply ttl(const std::string& key, millis now, millis unit);

  key_table map_;
  size_t volatile_ = 0;
  size_t max_reply_ = resp::default_max_reply;
};

/// Appends `x` in 8 bytes, little endian, as the journal writes numbers.
void put_u64(std::string& out, uint64_t x);

/// Reads 8 bytes, little endian, at `pos` and moves `pos` past them; false
/// if fewer than 8 bytes remain before `last`.
bool get_u64(const char*& pos, const char* last, uint64_t& x);

/// A glob-style pattern of Redis' KEYS, compiled once for every key:
/// `*`, `?`, `[abc]`, `[^a-z]`, and `\` to escape.
///
/// Matching takes time linear in the key for any pattern, never the
/// product of key and pattern that backtracking costs (a pattern of 300 KB
/// used to hold a shard past its timeout): the parts between stars are
/// found leftmost, one after the other, which is exact for globs; a literal
/// part by Knuth-Morris-Pratt, one with `?` or classes by bit-parallel
/// Shift-And, a machine word per 64 elements.
class glob_pattern {
public:
  explicit glob_pattern(const std::string& pattern);

  /// Returns whether `text` matches the whole pattern.
  bool matches(std::string_view text) const;

private:
  // The elements between two stars: a literal, or each element the set of
  // bytes it accepts.
  struct part {
    std::string literal;             // when every element is one byte
    std::vector<uint32_t> failure;   // KMP's, for a literal part
    std::vector<std::bitset<256>> elements; // otherwise
    std::vector<uint64_t> masks;     // Shift-And's, 256 rows of `words`
    size_t words = 0;
    bool is_literal = true;
    size_t size() const {
      return is_literal ? literal.size() : elements.size();
    }
    bool matches_at(std::string_view text, size_t pos) const;
    size_t find(std::string_view text, size_t from) const;
  };

  std::vector<part> parts_;
  bool leading_star_ = false;
  bool trailing_star_ = false;
  bool any_star_ = false;
};

/// Returns whether `text` matches `pattern` (see `glob_pattern`).
bool glob_match(const std::string& pattern, const std::string& text);

} // namespace kvstore
