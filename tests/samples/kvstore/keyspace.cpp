#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "keyspace.hpp"

using kvstore::keyspace;
namespace resp = kvstore::resp;

namespace {

constexpr kvstore::millis t0 = 1'700'000'000'000;

std::string run(keyspace& ks, std::vector<std::string> args,
                kvstore::millis now = t0, std::string* journal = nullptr) {
  return resp::encode(ks.execute(args, now, journal));
}

} // namespace

TEST_CASE("a keyspace executes Redis' string commands", "[kvstore][keyspace]") {
  keyspace ks;
  CHECK(run(ks, {"GET", "a"}) == "$-1\r\n");
  CHECK(run(ks, {"SET", "a", "1"}) == "+OK\r\n");
  CHECK(run(ks, {"get", "a"}) == "$1\r\n1\r\n");
  CHECK(run(ks, {"INCR", "a"}) == ":2\r\n");
  CHECK(run(ks, {"DECRBY", "a", "5"}) == ":-3\r\n");
  CHECK(run(ks, {"INCRBY", "n", "10"}) == ":10\r\n");
  CHECK(run(ks, {"DECR", "m"}) == ":-1\r\n");
  CHECK(run(ks, {"EXISTS", "a", "a", "zz"}) == ":2\r\n");
  CHECK(run(ks, {"MSET", "x", "1", "y", "2"}) == "+OK\r\n");
  CHECK(run(ks, {"MGET", "x", "nope", "y"}) == "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
  CHECK(run(ks, {"DBSIZE"}) == ":5\r\n");
  CHECK(run(ks, {"DEL", "x", "y", "nope"}) == ":2\r\n");
  // a and m match, n does not, x and y are gone; in either order.
  auto keys = run(ks, {"KEYS", "[a-m]"});
  CHECK((keys == "*2\r\n$1\r\na\r\n$1\r\nm\r\n"
         || keys == "*2\r\n$1\r\nm\r\n$1\r\na\r\n"));
  CHECK(run(ks, {"FLUSHALL"}) == "+OK\r\n");
  CHECK(run(ks, {"DBSIZE"}) == ":0\r\n");
  SECTION("errors read as Redis' errors") {
    CHECK(run(ks, {"SET", "s", "abc"}) == "+OK\r\n");
    CHECK(run(ks, {"INCR", "s"}) == "-ERR value is not an integer or out of range\r\n");
    CHECK(run(ks, {"INCRBY", "n", "x"}) == "-ERR value is not an integer or out of range\r\n");
    CHECK(run(ks, {"SET", "big", "9223372036854775807"}) == "+OK\r\n");
    CHECK(run(ks, {"INCR", "big"}) == "-ERR increment or decrement would overflow\r\n");
    CHECK(run(ks, {"GET", "a", "b"}) == "-ERR wrong number of arguments for 'get' command\r\n");
    CHECK(run(ks, {"MSET", "a", "1", "b"}) == "-ERR wrong number of arguments for 'mset' command\r\n");
    CHECK(run(ks, {"SET", "a", "1", "BOGUS"}) == "-ERR syntax error\r\n");
    CHECK(run(ks, {"SET", "a", "1", "EX"}) == "-ERR syntax error\r\n");
    CHECK(run(ks, {"SET", "a", "1", "EX", "0"}) == "-ERR invalid expire time in 'set' command\r\n");
    CHECK(run(ks, {"SET", "a", "1", "PX", "-5"}) == "-ERR invalid expire time in 'set' command\r\n");
    CHECK(run(ks, {"SET", "a", "1", "EX", "ten"}) == "-ERR value is not an integer or out of range\r\n");
    CHECK(run(ks, {"SET", "a", "1", "EX", "1", "PX", "1"}) == "-ERR syntax error\r\n");
    CHECK(run(ks, {"NOSUCH", "x"}).rfind("-ERR unknown command 'NOSUCH'", 0) == 0);
  }
}

TEST_CASE("a reply that would pass the reply limit is an error, never "
          "built whole",
          "[kvstore][keyspace]") {
  constexpr size_t limit = 1 << 20;
  const std::string too_large = "-ERR reply too large: it would hold more "
                                "than 1048576 bytes, the client output limit "
                                "(--client-output-limit)\r\n";
  keyspace ks;
  ks.max_reply(limit);
  CHECK(ks.max_reply() == limit);
  std::string value(100 * 1024, 'v');
  REQUIRE(run(ks, {"SET", "big", value}) == "+OK\r\n");
  SECTION("MGET of one key, many times") {
    std::vector<std::string> mget{"MGET"};
    mget.insert(mget.end(), 9, "big");
    CHECK(run(ks, mget).rfind("*9\r\n", 0) == 0);
    mget.insert(mget.end(), 1000, "big");
    CHECK(run(ks, mget) == too_large);
  }
  SECTION("MGET of many missing keys: each element holds memory") {
    std::vector<std::string> mget{"MGET"};
    for (size_t i = 0; i < limit / resp::held_bytes(0) + 1; ++i)
      mget.push_back("missing");
    CHECK(run(ks, mget) == too_large);
  }
  SECTION("KEYS over a large keyspace") {
    for (int i = 0; i < 10; ++i)
      REQUIRE(run(ks, {"SET", std::string(50 * 1024, 'a' + i), "v"})
              == "+OK\r\n");
    CHECK(run(ks, {"KEYS", "a*"}).rfind("*1\r\n", 0) == 0);
    for (int i = 0; i < 20; ++i)
      REQUIRE(run(ks, {"SET", std::string(50 * 1024, 'z') + std::to_string(i),
                       "v"})
              == "+OK\r\n");
    CHECK(run(ks, {"KEYS", "*"}) == too_large);
  }
  SECTION("GET of a value larger than the limit") {
    ks.max_reply(value.size());
    CHECK(run(ks, {"GET", "big"})
          == resp::encode(resp::too_large(value.size())));
    CHECK(run(ks, {"GET", "nope"}) == "$-1\r\n");
  }
}

TEST_CASE("keys expire by SET's EX and PX", "[kvstore][keyspace]") {
  keyspace ks;
  CHECK(run(ks, {"SET", "s", "v", "EX", "10"}) == "+OK\r\n");
  CHECK(run(ks, {"SET", "p", "v", "px", "1500"}) == "+OK\r\n");
  CHECK(run(ks, {"SET", "forever", "v"}) == "+OK\r\n");
  CHECK(run(ks, {"TTL", "s"}) == ":10\r\n");
  CHECK(run(ks, {"PTTL", "p"}) == ":1500\r\n");
  CHECK(run(ks, {"TTL", "forever"}) == ":-1\r\n");
  CHECK(run(ks, {"TTL", "missing"}) == ":-2\r\n");
  CHECK(ks.volatile_keys() == 2);
  CHECK(run(ks, {"GET", "p"}, t0 + 1499) == "$1\r\nv\r\n");
  CHECK(run(ks, {"GET", "p"}, t0 + 1500) == "$-1\r\n");
  CHECK(run(ks, {"EXISTS", "s"}, t0 + 10'000) == ":0\r\n");
  CHECK(run(ks, {"DBSIZE"}, t0 + 10'000) == ":1\r\n");
  CHECK(ks.volatile_keys() == 0);
  SECTION("NX, XX and KEEPTTL") {
    CHECK(run(ks, {"SET", "k", "1", "NX"}) == "+OK\r\n");
    CHECK(run(ks, {"SET", "k", "2", "NX"}) == "$-1\r\n");
    CHECK(run(ks, {"SET", "new", "2", "XX"}) == "$-1\r\n");
    CHECK(run(ks, {"SET", "k", "3", "XX", "EX", "5"}) == "+OK\r\n");
    CHECK(run(ks, {"SET", "k", "4", "KEEPTTL"}) == "+OK\r\n");
    CHECK(run(ks, {"TTL", "k"}) == ":5\r\n");
    CHECK(run(ks, {"INCR", "k"}) == ":5\r\n");
    CHECK(run(ks, {"TTL", "k"}) == ":5\r\n");
    CHECK(run(ks, {"SET", "k", "4"}) == "+OK\r\n");
    CHECK(run(ks, {"TTL", "k"}) == ":-1\r\n");
  }
}

TEST_CASE("replaying a keyspace's journal rebuilds it", "[kvstore][keyspace]") {
  keyspace ks;
  std::string journal;
  run(ks, {"MSET", "a", "1", "b", "2", "c", "3"}, t0, &journal);
  run(ks, {"SET", "t", "x", "PX", "100"}, t0, &journal);
  run(ks, {"INCR", "a"}, t0, &journal);
  run(ks, {"DEL", "b"}, t0, &journal);
  run(ks, {"GET", "c"}, t0, &journal);
  std::string before_flush = journal;
  run(ks, {"FLUSHALL"}, t0, &journal);
  run(ks, {"SET", "after", "flush"}, t0, &journal);
  SECTION("records say what keys became") {
    keyspace copy;
    REQUIRE(copy.replay(before_flush.data(), before_flush.data() + before_flush.size(), t0));
    CHECK(run(copy, {"MGET", "a", "b", "c", "t"})
          == "*4\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n$1\r\nx\r\n");
    CHECK(run(copy, {"PTTL", "t"}) == ":100\r\n");
  }
  SECTION("expired keys stay expired") {
    keyspace copy;
    REQUIRE(copy.replay(before_flush.data(), before_flush.data() + before_flush.size(), t0 + 100));
    CHECK(run(copy, {"DBSIZE"}, t0 + 100) == ":2\r\n");
  }
  SECTION("replaying twice does no harm") {
    keyspace copy;
    for (int i = 0; i < 2; ++i)
      REQUIRE(copy.replay(journal.data(), journal.data() + journal.size(), t0));
    CHECK(run(copy, {"KEYS", "*"}) == "*1\r\n$5\r\nafter\r\n");
  }
  SECTION("a dump is a journal that sets every key") {
    std::string dump;
    run(ks, {"SET", "v", "1", "EX", "60"}, t0);
    ks.dump(dump, t0);
    keyspace copy;
    REQUIRE(copy.replay(dump.data(), dump.data() + dump.size(), t0));
    CHECK(run(copy, {"MGET", "after", "v"}) == "*2\r\n$5\r\nflush\r\n$1\r\n1\r\n");
    CHECK(run(copy, {"TTL", "v"}) == ":60\r\n");
  }
  SECTION("a torn or foreign journal is refused") {
    keyspace copy;
    CHECK_FALSE(copy.replay(journal.data(), journal.data() + journal.size() - 3, t0));
    std::string junk = "Zjunk";
    CHECK_FALSE(copy.replay(junk.data(), junk.data() + junk.size(), t0));
  }
}

TEST_CASE("a key table holds what a std::map would", "[kvstore][keyspace]") {
  // Random inserts, value changes across the 48 bytes held inline,
  // erasures (each moves the last entry) and sweeps, on few keys, so that
  // probe chains collide and wrap.
  kvstore::key_table table;
  std::map<std::string, std::string> expected;
  std::mt19937 gen{27};
  auto random_key = [&] {
    auto n = gen() % 300;
    return std::string(1 + gen() % 3 * 20, 'k') + std::to_string(n);
  };
  auto check = [&] {
    REQUIRE(table.size() == expected.size());
    for (auto& e : table)
      REQUIRE(expected.at(std::string{e.key()}) == e.value());
  };
  for (int i = 0; i < 20000; ++i) {
    auto key = random_key();
    CAPTURE(i, key);
    switch (gen() % 4) {
      case 0:
      case 1: {
        auto value = std::string(gen() % 70, static_cast<char>('a' + i % 26));
        table.insert(key).value(value);
        expected[key] = value;
        break;
      }
      case 2:
        if (auto e = table.find(key)) {
          REQUIRE(expected.count(key) == 1);
          table.erase(e);
          expected.erase(key);
        } else {
          REQUIRE(expected.count(key) == 0);
        }
        break;
      default:
        if (auto e = table.find(key))
          REQUIRE(expected.at(key) == e->value());
        else
          REQUIRE(expected.count(key) == 0);
    }
    if (i % 5000 == 4999) {
      check();
      auto odd = [](std::string_view x) { return x.size() % 2 == 1; };
      table.erase_if([&](const kvstore::key_entry& e) { return odd(e.value()); });
      for (auto j = expected.begin(); j != expected.end();)
        j = odd(j->second) ? expected.erase(j) : std::next(j);
    }
  }
  check();
  table.clear();
  CHECK(table.size() == 0);
  CHECK(table.find("k1") == nullptr);
  table.insert("k1").value("v");
  CHECK(table.find("k1")->value() == "v");
}

TEST_CASE("KEYS patterns match as in Redis", "[kvstore][keyspace]") {
  using kvstore::glob_match;
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("key:*", "key:12"));
  CHECK_FALSE(glob_match("key:*", "kex:12"));
  CHECK(glob_match("h?llo", "hello"));
  CHECK_FALSE(glob_match("h?llo", "hllo"));
  CHECK(glob_match("h[ae]llo", "hallo"));
  CHECK_FALSE(glob_match("h[ae]llo", "hillo"));
  CHECK(glob_match("h[^e]llo", "hallo"));
  CHECK_FALSE(glob_match("h[^e]llo", "hello"));
  CHECK(glob_match("h[a-c]llo", "hbllo"));
  CHECK(glob_match("a\\*b", "a*b"));
  CHECK_FALSE(glob_match("a\\*b", "axb"));
  CHECK(glob_match("*a*b*c", "xxaxxbxxc"));
  // Many stars against a long miss ends quickly.
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
  CHECK(glob_match("a*a", "aa"));
  CHECK_FALSE(glob_match("a*a", "a"));
  CHECK(glob_match("**", ""));
  CHECK(glob_match("", ""));
  CHECK_FALSE(glob_match("", "a"));
}

namespace {

// Redis' own way: on a miss, go back to the last star. Exact, and slow only
// for long patterns; the reference for the linear matcher.
bool backtracking_match(const std::string& pat, size_t p, const std::string& s,
                        size_t t) {
  for (; p < pat.size(); ++p) {
    if (pat[p] == '*') {
      for (size_t i = t; i <= s.size(); ++i)
        if (backtracking_match(pat, p + 1, s, i))
          return true;
      return false;
    }
    if (t == s.size() || (pat[p] != '?' && pat[p] != s[t]))
      return false;
    ++t;
  }
  return t == s.size();
}

} // namespace

TEST_CASE("KEYS patterns match like backtracking, in linear time",
          "[kvstore][keyspace]") {
  using kvstore::glob_match;
  std::mt19937 gen{20};
  const char alphabet[] = "ab*?";
  for (int i = 0; i < 20000; ++i) {
    std::string pat;
    std::string text;
    auto plen = gen() % 8;
    auto tlen = gen() % 10;
    for (size_t j = 0; j < plen; ++j)
      pat += alphabet[gen() % 4];
    for (size_t j = 0; j < tlen; ++j)
      text += alphabet[gen() % 2];
    CAPTURE(pat, text);
    REQUIRE(glob_match(pat, text) == backtracking_match(pat, 0, text, 0));
  }
  // The pattern of the report: 300 KB against a long key, once a 10 s
  // stall of its shard. Literal and with `?`.
  std::string key(300000, 'a');
  CHECK_FALSE(glob_match("*" + std::string(300000, 'a') + "b", key));
  CHECK_FALSE(glob_match("*" + std::string(3000, '?') + "b", key));
  CHECK(glob_match("*" + std::string(3000, '?'), key));
}
