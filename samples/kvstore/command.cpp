#include "command.hpp"

#include <algorithm>
#include <cctype>
#include <strings.h>

namespace kvstore {

namespace {

constexpr command table[] = {
  // Answered by the connection.
  {"ping", -1, route::local},
  {"echo", 2, route::local},
  {"quit", -1, route::local},
  {"config", -2, route::local},
  {"command", -1, route::local},
  {"select", 2, route::local},
  // One key, one shard.
  {"get", 2, route::one_key},
  {"set", -3, route::one_key},
  {"incr", 2, route::one_key},
  {"decr", 2, route::one_key},
  {"incrby", 3, route::one_key},
  {"decrby", 3, route::one_key},
  {"ttl", 2, route::one_key},
  {"pttl", 2, route::one_key},
  // Many keys, each to its shard.
  {"del", -2, route::each_key_sum},
  {"unlink", -2, route::each_key_sum},
  {"exists", -2, route::each_key_sum},
  {"mget", -2, route::each_key_values},
  {"mset", -3, route::each_pair},
  // The whole keyspace.
  {"dbsize", 1, route::all_sum},
  {"keys", 2, route::all_concat},
  {"flushall", -1, route::all_ok},
  {"flushdb", -1, route::all_ok},
  {"scan", -2, route::all_special},
  {"info", -1, route::all_special},
};

} // namespace

const command* find_command(const std::string& name) {
  // Names of another length are skipped without a call.
  for (auto& cmd : table)
    if (std::char_traits<char>::length(cmd.name) == name.size()
        && strcasecmp(cmd.name, name.c_str()) == 0)
      return &cmd;
  return nullptr;
}

bool arity_ok(const command& cmd, size_t n) {
  auto arity = static_cast<size_t>(cmd.arity < 0 ? -cmd.arity : cmd.arity);
  return cmd.arity < 0 ? n >= arity : n == arity;
}

resp::reply wrong_arity(const command& cmd) {
  return resp::error(std::string{"ERR wrong number of arguments for '"}
                     + cmd.name + "' command");
}

resp::reply unknown_command(const std::vector<std::string>& args) {
  auto text = "ERR unknown command '" + args.front().substr(0, 128)
              + "', with args beginning with: ";
  for (size_t i = 1; i < args.size() && text.size() < 256; ++i)
    text += "'" + args[i].substr(0, 128) + "' ";
  return resp::error(std::move(text));
}

std::string upper(std::string x) {
  std::transform(x.begin(), x.end(), x.begin(), [](unsigned char c) {
    return static_cast<char>(std::toupper(c));
  });
  return x;
}

} // namespace kvstore
