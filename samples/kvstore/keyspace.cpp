#include "keyspace.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "command.hpp"

namespace kvstore {

void put_u64(std::string& out, uint64_t x) {
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>((x >> (8 * i)) & 0xFF);
}

bool get_u64(const char*& pos, const char* last, uint64_t& x) {
  if (last - pos < 8)
    return false;
  x = 0;
  for (int i = 0; i < 8; ++i)
    x |= uint64_t{static_cast<unsigned char>(pos[i])} << (8 * i);
  pos += 8;
  return true;
}

millis now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

// -- journal records ----------------------------------------------------------

namespace {

// Records: 'S' key value expire_at, 'D' key, 'F'. Strings are a 32-bit
// length and the bytes; numbers are little endian.
constexpr char set_record = 'S';
constexpr char del_record = 'D';
constexpr char flush_record = 'F';

void put_string(std::string& out, std::string_view x) {
  auto n = static_cast<uint32_t>(x.size());
  for (int i = 0; i < 4; ++i)
    out += static_cast<char>((n >> (8 * i)) & 0xFF);
  out += x;
}

class record_reader {
public:
  record_reader(const char* first, const char* last)
    : pos_(first), last_(last) {
    // nop
  }

  bool at_end() const {
    return pos_ == last_;
  }

  bool byte(char& x) {
    if (pos_ == last_)
      return false;
    x = *pos_++;
    return true;
  }

  bool u64(uint64_t& x) {
    return get_u64(pos_, last_, x);
  }

  bool string(std::string& x) {
    if (last_ - pos_ < 4)
      return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i)
      n |= uint32_t{static_cast<unsigned char>(pos_[i])} << (8 * i);
    pos_ += 4;
    if (static_cast<uint64_t>(last_ - pos_) < n)
      return false;
    x.assign(pos_, n);
    pos_ += n;
    return true;
  }

private:
  const char* pos_;
  const char* last_;
};

void journal_set(std::string* journal, std::string_view key,
                 std::string_view value, millis expire_at) {
  if (!journal)
    return;
  *journal += set_record;
  put_string(*journal, key);
  put_string(*journal, value);
  put_u64(*journal, static_cast<uint64_t>(expire_at));
}

bool expired(millis expire_at, millis now) {
  return expire_at != 0 && expire_at <= now;
}

resp::reply not_an_integer() {
  return resp::error("ERR value is not an integer or out of range");
}

} // namespace

void keyspace::dump(std::string& out, millis now) const {
  for (auto& e : map_)
    if (!expired(e.expire_at, now))
      journal_set(&out, e.key(), e.value(), e.expire_at);
}

bool keyspace::replay(const char* first, const char* last, millis now) {
  record_reader in{first, last};
  while (!in.at_end()) {
    char tag = 0;
    std::string key;
    in.byte(tag);
    switch (tag) {
      case set_record: {
        std::string value;
        uint64_t expire_at = 0;
        if (!in.string(key) || !in.string(value) || !in.u64(expire_at))
          return false;
        auto when = static_cast<millis>(expire_at);
        if (expired(when, now))
          remove(key, now, nullptr);
        else
          store(key, value, when, nullptr);
        break;
      }
      case del_record:
        if (!in.string(key))
          return false;
        remove(key, now, nullptr);
        break;
      case flush_record:
        map_.clear();
        volatile_ = 0;
        break;
      default:
        return false;
    }
  }
  return true;
}

// -- the map ------------------------------------------------------------------

key_entry* keyspace::find(const std::string& key, millis now) {
  auto e = map_.find(key);
  if (e && expired(e->expire_at, now)) {
    // Lazy expiry, as in Redis. Not journaled: replaying the key's last
    // record finds it expired as well.
    --volatile_;
    map_.erase(e);
    return nullptr;
  }
  return e;
}

void keyspace::store(const std::string& key, std::string_view value,
                     millis expire_at, std::string* journal,
                     key_entry* found) {
  journal_set(journal, key, value, expire_at);
  // A key just found is not looked up (and hashed) again.
  auto& e = found ? *found : map_.insert(key);
  volatile_ += (expire_at != 0) - (e.expire_at != 0);
  e.value(value);
  e.expire_at = expire_at;
}

bool keyspace::remove(const std::string& key, millis now,
                      std::string* journal) {
  auto e = find(key, now);
  if (!e)
    return false;
  if (journal) {
    *journal += del_record;
    put_string(*journal, key);
  }
  volatile_ -= e->expire_at != 0;
  map_.erase(e);
  return true;
}

void keyspace::purge(millis now) {
  if (volatile_ == 0)
    return;
  map_.erase_if([this, now](const key_entry& e) {
    if (!expired(e.expire_at, now))
      return false;
    --volatile_;
    return true;
  });
}

// -- commands -----------------------------------------------------------------

void keyspace::prefetch(
  const std::vector<std::vector<std::string>>& commands) const {
  // The first key of each command; a hint, whatever the command.
  for (auto& args : commands)
    if (args.size() > 1)
      map_.prefetch_slot(args[1]);
  for (auto& args : commands)
    if (args.size() > 1)
      map_.prefetch_entry(args[1]);
}

resp::reply keyspace::execute(const std::vector<std::string>& args,
                              millis now, std::string* journal) {
  auto cmd = args.empty() ? nullptr : find_command(args[0]);
  if (!cmd || cmd->route == route::local)
    return args.empty() ? resp::error("ERR empty command")
                        : unknown_command(args);
  if (!arity_ok(*cmd, args.size()))
    return wrong_arity(*cmd);
  auto is = [cmd](const char* name) { return std::strcmp(cmd->name, name) == 0; };
  if (is("get")) {
    auto e = find(args[1], now);
    if (e && resp::held_bytes(e->value().size()) > max_reply_)
      return resp::too_large(max_reply_);
    return e ? resp::bulk(std::string{e->value()}) : resp::null();
  }
  if (is("set"))
    return set(args, now, journal);
  if (is("incr") || is("decr"))
    return add(args[1], nullptr, is("incr") ? 1 : -1, now, journal);
  if (is("incrby") || is("decrby"))
    return add(args[1], &args[2], is("incrby") ? 1 : -1, now, journal);
  if (is("ttl") || is("pttl"))
    return ttl(args[1], now, is("ttl") ? 1000 : 1);
  if (is("del") || is("unlink") || is("exists")) {
    int64_t n = 0;
    for (size_t i = 1; i < args.size(); ++i)
      n += is("exists") ? find(args[i], now) != nullptr
                        : remove(args[i], now, journal);
    return resp::integer(n);
  }
  // Replies that grow with the arguments or the keys stop once they pass
  // the limit: the whole reply would never be sent anyway.
  auto held = resp::held_bytes(0);
  auto fits = [this, &held](size_t text_size) {
    held += resp::held_bytes(text_size);
    return held <= max_reply_;
  };
  if (is("mget")) {
    std::vector<resp::reply> values;
    values.reserve(std::min(args.size() - 1,
                            max_reply_ / resp::held_bytes(0)));
    for (size_t i = 1; i < args.size(); ++i) {
      auto e = find(args[i], now);
      if (!fits(e ? e->value().size() : 0))
        return resp::too_large(max_reply_);
      values.emplace_back(e ? resp::bulk(std::string{e->value()})
                            : resp::null());
    }
    return resp::array(std::move(values));
  }
  if (is("mset")) {
    if (args.size() % 2 != 1)
      return wrong_arity(*cmd);
    for (size_t i = 1; i < args.size(); i += 2)
      store(args[i], args[i + 1], 0, journal);
    return resp::ok();
  }
  if (is("dbsize")) {
    purge(now);
    return resp::integer(static_cast<int64_t>(map_.size()));
  }
  if (is("keys")) {
    std::vector<resp::reply> keys;
    glob_pattern pattern{args[1]};
    for (auto& e : map_) {
      if (expired(e.expire_at, now) || !pattern.matches(e.key()))
        continue;
      if (!fits(e.key().size()))
        return resp::too_large(max_reply_);
      keys.emplace_back(resp::bulk(std::string{e.key()}));
    }
    return resp::array(std::move(keys));
  }
  if (is("flushall") || is("flushdb")) {
    map_.clear();
    volatile_ = 0;
    if (journal)
      *journal += flush_record;
    return resp::ok();
  }
  if (is("info")) {
    // The shard's part of INFO: keys and keys with an expiry.
    purge(now);
    return resp::array({resp::integer(static_cast<int64_t>(map_.size())),
                        resp::integer(static_cast<int64_t>(volatile_))});
  }
  return unknown_command(args);
}

resp::reply keyspace::set(const std::vector<std::string>& args, millis now,
                          std::string* journal) {
  bool nx = false;
  bool xx = false;
  bool keep_ttl = false;
  millis expire_at = 0;
  for (size_t i = 3; i < args.size(); ++i) {
    auto opt = upper(args[i]);
    if (opt == "NX" && !xx) {
      nx = true;
    } else if (opt == "XX" && !nx) {
      xx = true;
    } else if (opt == "KEEPTTL" && expire_at == 0) {
      keep_ttl = true;
    } else if ((opt == "EX" || opt == "PX") && !keep_ttl && expire_at == 0
               && i + 1 < args.size()) {
      int64_t n = 0;
      if (!resp::parse_int(args[++i], n))
        return not_an_integer();
      auto unit = opt == "EX" ? 1000 : 1;
      if (n <= 0 || n > (std::numeric_limits<millis>::max() - now) / unit)
        return resp::error("ERR invalid expire time in 'set' command");
      expire_at = now + n * unit;
    } else {
      return resp::error("ERR syntax error");
    }
  }
  auto old = find(args[1], now);
  if ((nx && old) || (xx && !old))
    return resp::null();
  if (keep_ttl && old)
    expire_at = old->expire_at;
  store(args[1], args[2], expire_at, journal, old);
  return resp::ok();
}

resp::reply keyspace::add(const std::string& key, const std::string* by,
                          int64_t sign, millis now, std::string* journal) {
  int64_t delta = 1;
  if (by && !resp::parse_int(*by, delta))
    return not_an_integer();
  int64_t value = 0;
  millis expire_at = 0;
  auto e = find(key, now);
  if (e) {
    if (!resp::parse_int(e->value(), value))
      return not_an_integer();
    expire_at = e->expire_at;
  }
  int64_t result = 0;
  if ((sign < 0 && delta == std::numeric_limits<int64_t>::min())
      || __builtin_add_overflow(value, sign * delta, &result))
    return resp::error("ERR increment or decrement would overflow");
  store(key, std::to_string(result), expire_at, journal, e);
  return resp::integer(result);
}

resp::reply keyspace::ttl(const std::string& key, millis now, millis unit) {
  auto e = find(key, now);
  if (!e)
    return resp::integer(-2);
  if (e->expire_at == 0)
    return resp::integer(-1);
  return resp::integer((e->expire_at - now + unit / 2) / unit);
}

// -- KEYS patterns ------------------------------------------------------------

namespace {

// Matches one pattern element at `p` (not `*`) against `c`; sets `next` to
// the element after it.
bool match_one(const std::string& pat, size_t p, char c, size_t& next) {
  if (pat[p] == '?') {
    next = p + 1;
    return true;
  }
  if (pat[p] == '\\' && p + 1 < pat.size()) {
    next = p + 2;
    return pat[p + 1] == c;
  }
  if (pat[p] != '[') {
    next = p + 1;
    return pat[p] == c;
  }
  ++p;
  auto negate = p < pat.size() && pat[p] == '^';
  if (negate)
    ++p;
  auto matched = false;
  while (p < pat.size() && pat[p] != ']') {
    if (pat[p] == '\\' && p + 1 < pat.size()) {
      matched |= pat[p + 1] == c;
      p += 2;
    } else if (p + 2 < pat.size() && pat[p + 1] == '-' && pat[p + 2] != ']') {
      auto lo = std::min(pat[p], pat[p + 2]);
      auto hi = std::max(pat[p], pat[p + 2]);
      matched |= c >= lo && c <= hi;
      p += 3;
    } else {
      matched |= pat[p] == c;
      ++p;
    }
  }
  next = p < pat.size() ? p + 1 : p; // past ']', or the end of a bad class
  return matched != negate;
}

} // namespace

glob_pattern::glob_pattern(const std::string& pattern) {
  part current;
  auto close = [&] {
    if (current.size() > 0)
      parts_.push_back(std::move(current));
    current = part{};
  };
  for (size_t p = 0; p < pattern.size();) {
    if (pattern[p] == '*') {
      any_star_ = true;
      if (p == 0)
        leading_star_ = true;
      if (p + 1 == pattern.size())
        trailing_star_ = true;
      close();
      ++p;
      continue;
    }
    std::bitset<256> accepts;
    size_t next = p + 1;
    auto c = pattern[p];
    if (c != '?' && c != '[' && c != '\\') {
      accepts.set(static_cast<unsigned char>(c));
    } else {
      // The element's meaning, byte by byte, as the matcher defines it.
      for (int x = 0; x < 256; ++x)
        if (match_one(pattern, p, static_cast<char>(x), next))
          accepts.set(static_cast<size_t>(x));
    }
    if (current.is_literal && accepts.count() != 1) {
      // The part so far becomes elements.
      current.is_literal = false;
      for (auto ch : current.literal)
        current.elements.emplace_back().set(static_cast<unsigned char>(ch));
      current.literal.clear();
    }
    if (current.is_literal) {
      for (size_t x = 0; x < 256; ++x)
        if (accepts.test(x))
          current.literal += static_cast<char>(x);
    } else {
      current.elements.push_back(accepts);
    }
    p = next;
  }
  close();
  for (auto& x : parts_) {
    auto k = x.size();
    if (x.is_literal) {
      // KMP's failure function: the longest proper border of each prefix.
      x.failure.assign(k, 0);
      for (uint32_t i = 1, len = 0; i < k; ++i) {
        while (len > 0 && x.literal[i] != x.literal[len])
          len = x.failure[len - 1];
        if (x.literal[i] == x.literal[len])
          ++len;
        x.failure[i] = len;
      }
    } else {
      x.words = (k + 63) / 64;
      x.masks.assign(256 * x.words, 0);
      for (size_t i = 0; i < k; ++i)
        for (size_t c = 0; c < 256; ++c)
          if (x.elements[i].test(c))
            x.masks[c * x.words + i / 64] |= uint64_t{1} << (i % 64);
    }
  }
}

bool glob_pattern::part::matches_at(std::string_view text,
                                    size_t pos) const {
  if (pos + size() > text.size())
    return false;
  if (is_literal)
    return text.compare(pos, size(), literal) == 0;
  for (size_t i = 0; i < size(); ++i)
    if (!elements[i].test(static_cast<unsigned char>(text[pos + i])))
      return false;
  return true;
}

size_t glob_pattern::part::find(std::string_view text, size_t from) const {
  auto k = size();
  if (is_literal) {
    for (size_t i = from, len = 0; i < text.size(); ++i) {
      while (len > 0 && text[i] != literal[len])
        len = failure[len - 1];
      if (text[i] == literal[len])
        ++len;
      if (len == k)
        return i + 1 - k;
    }
    return std::string_view::npos;
  }
  // Bit i of `state` is set when the part's first i + 1 elements match the
  // text that ends here.
  std::vector<uint64_t> state(words, 0);
  auto top = uint64_t{1} << ((k - 1) % 64);
  for (size_t i = from; i < text.size(); ++i) {
    auto row = &masks[static_cast<unsigned char>(text[i]) * words];
    uint64_t carry = 1;
    for (size_t w = 0; w < words; ++w) {
      auto next_carry = state[w] >> 63;
      state[w] = ((state[w] << 1) | carry) & row[w];
      carry = next_carry;
    }
    if (state[words - 1] & top)
      return i + 1 - k;
  }
  return std::string_view::npos;
}

bool glob_pattern::matches(std::string_view text) const {
  if (!any_star_)
    return parts_.empty() ? text.empty()
                          : parts_[0].size() == text.size()
                              && parts_[0].matches_at(text, 0);
  size_t first = 0;
  size_t last = parts_.size();
  size_t pos = 0;
  if (!leading_star_) {
    if (!parts_[0].matches_at(text, 0))
      return false;
    pos = parts_[0].size();
    first = 1;
  }
  size_t end = text.size();
  if (!trailing_star_ && last > first) {
    auto& x = parts_[last - 1];
    if (x.size() > end - pos || !x.matches_at(text, end - x.size()))
      return false;
    end -= x.size();
    --last;
  }
  // Leftmost is right: a later match of a part leaves less room for the
  // rest, never more.
  for (size_t i = first; i < last; ++i) {
    auto found = parts_[i].find(text, pos);
    if (found == std::string_view::npos || found + parts_[i].size() > end)
      return false;
    pos = found + parts_[i].size();
  }
  return true;
}

bool glob_match(const std::string& pattern, const std::string& text) {
  return glob_pattern{pattern}.matches(text);
}

} // namespace kvstore
