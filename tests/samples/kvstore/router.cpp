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

  std::string operator()(std::vector<std::string> args) {
    auto p = kvstore::route_command(std::move(args), shards.size());
    if (p.answer)
      return resp::encode(*p.answer);
    std::vector<resp::reply> answers;
    for (auto& part : p.parts)
      answers.push_back(shards[part.shard].execute(part.args, 1000));
    return resp::encode(kvstore::combine(p, std::move(answers)));
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
  auto quit = kvstore::route_command({"QUIT"}, 4);
  CHECK(quit.close_after);
  CHECK(c({"LPUSH", "l", "x"})
        == "-ERR unknown command 'LPUSH', with args beginning with: 'l' 'x' \r\n");
  CHECK(c({"PING", "a", "b"}) == "-ERR wrong number of arguments for 'ping' command\r\n");
  CHECK(c({"GET"}) == "-ERR wrong number of arguments for 'get' command\r\n");
}
