#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "keyspace.hpp"
#include "router.hpp"

namespace resp = kvstore::resp;

namespace {

// Shards without actors: routes a command, executes its parts on the
// keyspaces and combines the answers, as a connection and its shards do.
struct cluster {
  std::vector<kvstore::keyspace> shards = std::vector<kvstore::keyspace>(4);
  size_t max_reply = resp::default_max_reply;

  std::string operator()(std::vector<std::string> args) {
    auto p = kvstore::route_command(std::move(args), shards.size(), max_reply);
    if (p.answer)
      return resp::encode(*p.answer);
    std::vector<resp::reply> answers;
    for (auto& part : p.parts)
      answers.push_back(shards[part.shard].execute(part.args, 1000));
    return resp::encode(kvstore::combine(p, std::move(answers), max_reply));
  }
};

} // namespace

TEST_CASE("keys spread over the shards, the same in every run",
          "[kvstore][router]") {
  std::vector<int> per_shard(4);
  for (int i = 0; i < 1000; ++i)
    ++per_shard[kvstore::shard_of("key:" + std::to_string(i), 4)];
  for (auto n : per_shard)
    CHECK(n > 150);
  CHECK(kvstore::shard_of("foo", 4) == kvstore::shard_of("foo", 4));
  CHECK(kvstore::shard_of("foo", 1) == 0);
}

TEST_CASE("commands over many keys gather their shards' answers",
          "[kvstore][router]") {
  cluster c;
  std::vector<std::string> mset{"MSET"};
  std::vector<std::string> mget{"MGET"};
  std::string expected = "*21\r\n";
  for (int i = 0; i < 20; ++i) {
    auto k = "k" + std::to_string(i);
    mset.insert(mset.end(), {k, "v" + std::to_string(i)});
    mget.push_back(k);
    expected += "$" + std::to_string(("v" + std::to_string(i)).size()) + "\r\nv"
                + std::to_string(i) + "\r\n";
  }
  mget.push_back("missing");
  expected += "$-1\r\n";
  CHECK(c(mset) == "+OK\r\n");
  CHECK(c(mget) == expected);
  CHECK(c({"DBSIZE"}) == ":20\r\n");
  CHECK(c({"EXISTS", "k1", "k2", "k1", "nope"}) == ":3\r\n");
  CHECK(c({"DEL", "k1", "k2", "k3", "nope"}) == ":3\r\n");
  CHECK(c({"KEYS", "k1*"}).rfind("*10\r\n", 0) == 0); // k10 .. k19
  auto scan = c({"SCAN", "0", "MATCH", "k1?", "COUNT", "100"});
  CHECK(scan.rfind("*2\r\n$1\r\n0\r\n*10\r\n", 0) == 0);
  CHECK(c({"SCAN", "17"}) == "*2\r\n$1\r\n0\r\n*0\r\n");
  CHECK(c({"SCAN", "x"}) == "-ERR invalid cursor\r\n");
  CHECK(c({"FLUSHALL"}) == "+OK\r\n");
  CHECK(c({"DBSIZE"}) == ":0\r\n");
  auto info = c({"INFO"});
  CHECK(info.find("db0:keys=0,expires=0") != std::string::npos);
}

TEST_CASE("the connection answers some commands by itself",
          "[kvstore][router]") {
  cluster c;
  CHECK(c({"PING"}) == "+PONG\r\n");
  CHECK(c({"ping", "hi"}) == "$2\r\nhi\r\n");
  CHECK(c({"ECHO", "x y"}) == "$3\r\nx y\r\n");
  CHECK(c({"CONFIG", "GET", "save"}) == "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  CHECK(c({"CONFIG", "GET", "appendonly"})
        == "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  CHECK(c({"CONFIG", "GET", "maxmemory"}) == "*0\r\n");
  CHECK(c({"CONFIG", "SET", "x", "y"}).rfind("-ERR unknown subcommand", 0) == 0);
  CHECK(c({"COMMAND", "DOCS"}) == "*0\r\n");
  CHECK(c({"SELECT", "0"}) == "+OK\r\n");
  CHECK(c({"SELECT", "1"}) == "-ERR DB index is out of range\r\n");
  auto quit = kvstore::route_command({"QUIT"}, 4, resp::default_max_reply);
  CHECK(quit.close_after);
  CHECK(c({"LPUSH", "l", "x"})
        == "-ERR unknown command 'LPUSH', with args beginning with: 'l' 'x' \r\n");
  CHECK(c({"PING", "a", "b"}) == "-ERR wrong number of arguments for 'ping' command\r\n");
  CHECK(c({"GET"}) == "-ERR wrong number of arguments for 'get' command\r\n");
}

TEST_CASE("CONFIG GET names each parameter once, however many patterns "
          "match it",
          "[kvstore][router]") {
  cluster c;
  const std::string both = "*4\r\n$4\r\nsave\r\n$0\r\n\r\n"
                           "$10\r\nappendonly\r\n$2\r\nno\r\n";
  CHECK(c({"CONFIG", "GET", "*"}) == both);
  CHECK(c({"CONFIG", "GET", "appendonly", "*", "s*"}) == both);
  std::vector<std::string> stars{"CONFIG", "GET"};
  stars.insert(stars.end(), 100'000, "*");
  CHECK(c(stars) == both);
  // Patterns longer than any parameter's name are not tried.
  CHECK(c({"CONFIG", "GET", std::string(300, '*')}) == "*0\r\n");
}

TEST_CASE("the shards' parts of a reply together stay within the reply "
          "limit",
          "[kvstore][router]") {
  cluster c;
  constexpr size_t limit = 1 << 20;
  c.max_reply = limit;
  for (auto& shard : c.shards)
    shard.max_reply(limit);
  // A key on each shard, each value 40 % of the limit: every part fits,
  // the whole does not.
  std::vector<std::string> keys(4);
  for (int i = 0; keys[0].empty() || keys[1].empty() || keys[2].empty()
                  || keys[3].empty();
       ++i) {
    auto k = "key" + std::to_string(i);
    auto& slot = keys[kvstore::shard_of(k, 4)];
    if (slot.empty())
      slot = k;
  }
  std::vector<std::string> mset{"MSET"};
  for (auto& k : keys)
    mset.insert(mset.end(), {k, std::string(limit * 4 / 10, 'v')});
  REQUIRE(c(mset) == "+OK\r\n");
  CHECK(c({"MGET", keys[0], keys[1]}).rfind("*2\r\n", 0) == 0);
  std::vector<std::string> mget{"MGET"};
  mget.insert(mget.end(), keys.begin(), keys.end());
  CHECK(c(mget).rfind("-ERR reply too large: it would hold more than 1048576 "
                      "bytes",
                      0)
        == 0);
  CHECK(c({"KEYS", "*"}).rfind("*4\r\n", 0) == 0);
  SECTION("an MGET of more keys than the limit has room for goes to no "
          "shard") {
    std::vector<std::string> many{"MGET"};
    many.insert(many.end(), limit / resp::held_bytes(0), "k");
    auto p = kvstore::route_command(many, 4, limit);
    REQUIRE(p.answer);
    CHECK(resp::encode(*p.answer) == resp::encode(resp::too_large(limit)));
    CHECK(p.parts.empty());
    many.pop_back();
    CHECK(kvstore::route_command(many, 4, limit).parts.size() == 1);
  }
}
