#include "trellis/tree_snapshot.hpp"

#include <chrono>
#include <cstdio>

#include <caf/actor.hpp>

#include "json.hpp"

namespace trellis {

namespace {

using detail::append_json_number;
using detail::append_json_string;

caf::actor_id actor_id(const tree_snapshot& x) {
  return x.actor ? x.actor.id() : caf::invalid_actor_id;
}

std::string seconds(caf::timespan x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f",
                std::chrono::duration<double>(x).count());
  return buf;
}

void append_text(std::string& out, const tree_snapshot& x, size_t depth) {
  out.append(depth * 2, ' ');
  out += x.id;
  out += "  path=" + x.path;
  out += " type=" + to_string(x.type);
  out += " restart=" + to_string(x.restart_type);
  out += " state=" + to_string(x.state);
  out += " actor=" + std::to_string(actor_id(x));
  out += " restarts=" + std::to_string(x.restart_count);
  out += " uptime=" + seconds(x.uptime) + "s";
  if (!x.node.empty())
    out += " node=" + x.node;
  if (x.restart_due_in > caf::timespan{0})
    out += " restart_due_in=" + seconds(x.restart_due_in) + "s";
  if (!x.paused_for.empty())
    out += " paused_for=" + x.paused_for;
  if (!x.last_exit_reason.empty()) {
    out += " last_exit=";
    append_json_string(out, x.last_exit_reason);
  }
  out += '\n';
  for (auto& child : x.children)
    append_text(out, child, depth + 1);
}

void append_json(std::string& out, const tree_snapshot& x) {
  auto field = [&](const char* name) {
    if (out.back() != '{')
      out += ',';
    out += '"';
    out += name;
    out += "\":";
  };
  out += '{';
  field("path");
  append_json_string(out, x.path);
  field("id");
  append_json_string(out, x.id);
  field("type");
  append_json_string(out, to_string(x.type));
  field("restart");
  append_json_string(out, to_string(x.restart_type));
  field("state");
  append_json_string(out, to_string(x.state));
  field("actor_id");
  out += std::to_string(actor_id(x));
  field("restart_count");
  out += std::to_string(x.restart_count);
  field("last_exit_reason");
  append_json_string(out, x.last_exit_reason);
  field("uptime_ms");
  out += std::to_string(
    std::chrono::duration_cast<std::chrono::milliseconds>(x.uptime).count());
  field("restart_due_in_ms");
  out += std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                          x.restart_due_in)
                          .count());
  field("intensity");
  out += std::to_string(x.intensity);
  field("restarts_left");
  out += std::to_string(x.restarts_left);
  field("node");
  append_json_string(out, x.node);
  field("needed_for_readiness");
  out += x.needed_for_readiness ? "true" : "false";
  field("missed_health_checks");
  out += std::to_string(x.missed_health_checks);
  field("health_checked");
  out += x.health_checked ? "true" : "false";
  field("suspicion");
  append_json_number(out, x.suspicion);
  field("paused_for");
  append_json_string(out, x.paused_for);
  field("children");
  out += '[';
  for (size_t i = 0; i < x.children.size(); ++i) {
    if (i > 0)
      out += ',';
    append_json(out, x.children[i]);
  }
  out += "]}";
}

} // namespace

std::string to_text(const tree_snapshot& x) {
  std::string result;
  append_text(result, x, 0);
  return result;
}

std::string to_json(const tree_snapshot& x) {
  std::string result;
  append_json(result, x);
  return result;
}

const tree_snapshot* find(const tree_snapshot& x, const std::string& path) {
  if (x.path == path)
    return &x;
  // Only descend into the child whose path is a prefix of `path`.
  for (auto& child : x.children)
    if (path.compare(0, child.path.size(), child.path) == 0
        && (path.size() == child.path.size()
            || path[child.path.size()] == '/'))
      return find(child, path);
  return nullptr;
}

} // namespace trellis
