#include "router.hpp"

#include <iterator>

#include <strings.h>

#include "keyspace.hpp"

namespace kvstore {

size_t shard_of(const std::string& key, size_t shards) {
  uint64_t h = 14695981039346656037ull;
  for (auto ch : key) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h % shards);
}

namespace {

bool is(const command* cmd, const char* name) {
  return strcasecmp(cmd->name, name) == 0;
}

// CONFIG GET answers what redis-benchmark asks for at start; other
// parameters are unknown and answer an empty list, as in Redis. Each
// parameter is in the reply once, however many patterns match it (as in
// Redis): a million `*` made a reply of four million elements.
resp::reply config(const std::vector<std::string>& args) {
  if (strcasecmp(args[1].c_str(), "get") != 0)
    return resp::error("ERR unknown subcommand '" + args[1].substr(0, 128)
                       + "'. Try CONFIG HELP.");
  if (args.size() < 3)
    return resp::error("ERR wrong number of arguments for 'config|get' "
                       "command");
  static const std::pair<const char*, const char*> known[] = {
    {"save", ""},
    {"appendonly", "no"},
  };
  // Parameter names are short: a longer pattern is not tried, so that
  // compiling it cannot hold the thread that serves every connection.
  constexpr size_t max_pattern = 256;
  constexpr auto count = std::size(known);
  bool matched[count] = {};
  size_t found = 0;
  for (size_t i = 2; i < args.size() && found < count; ++i) {
    if (args[i].size() > max_pattern)
      continue;
    glob_pattern pattern{args[i]};
    for (size_t k = 0; k < count; ++k)
      if (!matched[k] && pattern.matches(known[k].first)) {
        matched[k] = true;
        ++found;
      }
  }
  std::vector<resp::reply> result;
  for (size_t k = 0; k < count; ++k)
    if (matched[k]) {
      result.emplace_back(resp::bulk(known[k].first));
      result.emplace_back(resp::bulk(known[k].second));
    }
  return resp::array(std::move(result));
}

plan answer(plan p, resp::reply r) {
  p.answer = std::move(r);
  return p;
}

plan local(plan p, std::vector<std::string>& args) {
  auto cmd = p.cmd;
  if (is(cmd, "ping")) {
    if (args.size() > 2)
      return answer(std::move(p), wrong_arity(*cmd));
    return answer(std::move(p), args.size() == 2 ? resp::bulk(args[1])
                                                 : resp::simple_string("PONG"));
  }
  if (is(cmd, "echo"))
    return answer(std::move(p), resp::bulk(args[1]));
  if (is(cmd, "quit")) {
    p.close_after = true;
    return answer(std::move(p), resp::ok());
  }
  if (is(cmd, "config"))
    return answer(std::move(p), config(args));
  if (is(cmd, "command")) // redis-cli asks for command docs: there are none
    return answer(std::move(p), resp::array({}));
  // select
  return answer(std::move(p), args[1] == "0"
                                ? resp::ok()
                                : resp::error("ERR DB index is out of range"));
}

// Splits the keys from `first` on (every `step`-th argument, each with the
// `step - 1` arguments after it) by shard, one part per shard in order of
// first appearance.
void split_keys(plan& p, std::vector<std::string>& args, size_t first,
                size_t step, size_t shards) {
  std::vector<int> part_of(shards, -1);
  uint32_t position = 0;
  for (size_t i = first; i < args.size(); i += step, ++position) {
    auto s = shard_of(args[i], shards);
    if (part_of[s] < 0) {
      part_of[s] = static_cast<int>(p.parts.size());
      p.parts.push_back(shard_part{s, {args[0]}, {}});
    }
    auto& part = p.parts[static_cast<size_t>(part_of[s])];
    for (size_t j = 0; j < step; ++j)
      part.args.emplace_back(std::move(args[i + j]));
    part.positions.push_back(position);
  }
}

void every_shard(plan& p, const std::vector<std::string>& args,
                 size_t shards) {
  for (size_t s = 0; s < shards; ++s)
    p.parts.push_back(shard_part{s, args, {}});
}

plan scan(plan p, std::vector<std::string>& args, size_t shards) {
  // One pass over every shard: the first call returns all keys and cursor 0,
  // which SCAN's contract allows.
  int64_t cursor = 0;
  if (!resp::parse_int(args[1], cursor) || cursor < 0)
    return answer(std::move(p), resp::error("ERR invalid cursor"));
  std::string pattern = "*";
  for (size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 == args.size())
      return answer(std::move(p), resp::error("ERR syntax error"));
    if (strcasecmp(args[i].c_str(), "match") == 0)
      pattern = args[i + 1];
    else if (strcasecmp(args[i].c_str(), "count") != 0
             && strcasecmp(args[i].c_str(), "type") != 0)
      return answer(std::move(p), resp::error("ERR syntax error"));
  }
  if (cursor != 0)
    return answer(std::move(p), resp::array({resp::bulk("0"),
                                             resp::array({})}));
  every_shard(p, {"KEYS", pattern}, shards);
  return p;
}

bool is_ok(const resp::reply& x) {
  return x.kind == resp::reply::simple && x.text == "OK";
}

} // namespace

plan route_command(std::vector<std::string> args, size_t shards,
                   size_t max_reply) {
  plan p;
  if (args.empty())
    return answer(std::move(p), resp::error("ERR empty command"));
  p.cmd = find_command(args[0]);
  if (!p.cmd)
    return answer(std::move(p), unknown_command(args));
  if (!arity_ok(*p.cmd, args.size()))
    return answer(std::move(p), wrong_arity(*p.cmd));
  switch (p.cmd->route) {
    case route::local:
      return local(std::move(p), args);
    case route::one_key: {
      auto s = shard_of(args[1], shards);
      p.parts.push_back(shard_part{s, std::move(args), {}});
      break;
    }
    case route::each_key_values:
      // Its reply holds an element per key at least: each shard would
      // build its part within the limit, and all together past it.
      if (resp::held_bytes(0) * args.size() > max_reply)
        return answer(std::move(p), resp::too_large(max_reply));
      [[fallthrough]];
    case route::each_key_sum:
      split_keys(p, args, 1, 1, shards);
      break;
    case route::each_pair:
      if (args.size() % 2 != 1)
        return answer(std::move(p), wrong_arity(*p.cmd));
      split_keys(p, args, 1, 2, shards);
      break;
    case route::all_sum:
    case route::all_concat:
    case route::all_ok:
      every_shard(p, args, shards);
      break;
    case route::all_special:
      if (is(p.cmd, "scan"))
        return scan(std::move(p), args, shards);
      every_shard(p, {"INFO"}, shards);
      break;
  }
  return p;
}

resp::reply combine(const plan& p, std::vector<resp::reply> answers,
                    size_t max_reply) {
  size_t held = 0;
  for (auto& x : answers) {
    if (x.is_error())
      return std::move(x);
    held += resp::held_bytes(x);
  }
  if (held > max_reply)
    return resp::too_large(max_reply);
  auto sum = [&answers] {
    int64_t n = 0;
    for (auto& x : answers)
      n += x.number;
    return resp::integer(n);
  };
  auto concat = [&answers] {
    std::vector<resp::reply> xs;
    for (auto& x : answers)
      for (auto& y : x.elements)
        xs.emplace_back(std::move(y));
    return resp::array(std::move(xs));
  };
  switch (p.cmd->route) {
    case route::local:
    case route::one_key:
      return std::move(answers.front());
    case route::each_key_sum:
    case route::all_sum:
      return sum();
    case route::each_key_values: {
      size_t n = 0;
      for (auto& part : p.parts)
        n += part.positions.size();
      std::vector<resp::reply> values(n);
      for (size_t i = 0; i < answers.size(); ++i)
        for (size_t j = 0; j < p.parts[i].positions.size()
                           && j < answers[i].elements.size();
             ++j)
          values[p.parts[i].positions[j]] = std::move(answers[i].elements[j]);
      return resp::array(std::move(values));
    }
    case route::each_pair:
    case route::all_ok:
      for (auto& x : answers)
        if (!is_ok(x))
          return resp::error("ERR unexpected answer of a shard");
      return resp::ok();
    case route::all_concat:
      return concat();
    case route::all_special:
      break;
  }
  if (is(p.cmd, "scan"))
    return resp::array({resp::bulk("0"), concat()});
  // INFO: each shard answers [keys, expires, restarts].
  int64_t keys = 0;
  int64_t expires = 0;
  std::string shard_lines;
  for (size_t i = 0; i < answers.size(); ++i) {
    auto& xs = answers[i].elements;
    auto k = xs.size() > 0 ? xs[0].number : 0;
    auto e = xs.size() > 1 ? xs[1].number : 0;
    auto r = xs.size() > 2 ? xs[2].number : 0;
    keys += k;
    expires += e;
    shard_lines += "shard" + std::to_string(p.parts[i].shard)
                   + ":keys=" + std::to_string(k)
                   + ",expires=" + std::to_string(e)
                   + ",restarts=" + std::to_string(r) + "\r\n";
  }
  return resp::bulk("# Keyspace\r\ndb0:keys=" + std::to_string(keys)
                    + ",expires=" + std::to_string(expires)
                    + ",avg_ttl=0\r\n\r\n# Shards\r\n" + shard_lines);
}

} // namespace kvstore
