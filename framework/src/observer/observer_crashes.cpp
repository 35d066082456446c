#include "observer_crashes.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "json.hpp"
#include "trellis/crash_handler.hpp"

namespace trellis::detail {

namespace {

/// Cuts `x` to `n` bytes, not inside a UTF-8 sequence, and marks the cut.
std::string bounded(const std::string& x, size_t n = max_rendered_text) {
  if (x.size() <= n)
    return x;
  while (n > 0 && (static_cast<unsigned char>(x[n]) & 0xC0) == 0x80)
    --n;
  return x.substr(0, n) + "...";
}

void append_text(std::string& out, const std::string& x) {
  append_json_text(out, x);
}

void field(std::string& out, const char* name) {
  append_json_field(out, name);
}

/// Whether `x` is well-formed UTF-8 (no overlong forms, no surrogates).
bool is_utf8(const std::string& x) {
  size_t i = 0;
  while (i < x.size()) {
    auto c = static_cast<unsigned char>(x[i]);
    size_t n; // continuation bytes
    if (c < 0x80)
      n = 0;
    else if (c >= 0xC2 && c < 0xE0)
      n = 1;
    else if (c >= 0xE0 && c < 0xF0)
      n = 2;
    else if (c >= 0xF0 && c < 0xF5)
      n = 3;
    else
      return false;
    if (x.size() - i <= n)
      return false;
    unsigned cp = n == 0 ? c : c & (0x3Fu >> n);
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(x[i + k]);
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000)))
        || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += n + 1;
  }
  return true;
}

} // namespace

void append_json_text(std::string& out, const std::string& x) {
  std::string quoted;
  append_json_string(quoted, x);
  for (auto ch : quoted) {
    switch (ch) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += ch;
    }
  }
}

void append_json_field(std::string& out, const char* name) {
  if (out.back() != '{')
    out += ',';
  out += '"';
  out += name;
  out += "\":";
}

std::string iso_time(caf::timestamp t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  auto millis = std::to_string(1000 + ms % 1000).substr(1);
  return std::string(buf, n) + '.' + millis + 'Z';
}

void append_message_json(std::string& out, const logged_message& x) {
  out += '{';
  field(out, "types");
  append_text(out, type_names(x.content));
  field(out, "content");
  append_text(out, render_bounded(x.content));
  field(out, "sender");
  append_text(out, bounded(x.sender, 1024));
  field(out, "request");
  out += x.request ? "true" : "false";
  out += '}';
}

namespace {

void append_trace(std::string& out, const stack_trace& x) {
  out += '[';
  auto frames = symbolize(x);
  if (frames.size() > max_rendered_frames)
    frames.resize(max_rendered_frames);
  for (size_t i = 0; i < frames.size(); ++i) {
    auto& f = frames[i];
    if (i > 0)
      out += ',';
    char address[24];
    std::snprintf(address, sizeof(address), "0x%llx",
                  static_cast<unsigned long long>(f.address));
    out += "{\"address\":\"";
    out += address;
    out += '"';
    field(out, "function");
    append_text(out, bounded(f.function));
    field(out, "file");
    append_text(out, bounded(f.file, 1024));
    field(out, "line");
    out += std::to_string(f.line);
    field(out, "module");
    append_text(out, bounded(f.module, 1024));
    out += '}';
  }
  out += ']';
}

} // namespace

std::optional<std::string> malformed_path(const std::string& path) {
  if (path.empty())
    return "empty path";
  if (path.size() > max_crashes_path)
    return "path longer than " + std::to_string(max_crashes_path) + " bytes";
  for (auto ch : path)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
      return "control character in path";
  if (!is_utf8(path))
    return "path is not UTF-8";
  if (path.front() == '/' || path.back() == '/'
      || path.find("//") != std::string::npos)
    return "empty segment in path";
  return std::nullopt;
}

crashes_plan plan_crashes(const tree_snapshot& tree, const std::string& path) {
  crashes_plan result;
  auto not_found = [&] {
    result.status = 404;
    result.error = "no child or supervisor " + path;
    result.supervisor = nullptr;
    return result;
  };
  auto node = find(tree, path);
  const tree_snapshot* sup = nullptr;
  if (node != nullptr && node->type == child_type::supervisor) {
    sup = node;
    result.scope = crashes_scope::children;
  } else {
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
      return not_found();
    sup = find(tree, path.substr(0, slash));
    if (sup == nullptr || sup->type != child_type::supervisor)
      return not_found();
    result.scope = crashes_scope::child;
    result.in_tree = node != nullptr;
  }
  if (!sup->node.empty()) {
    result.status = 409;
    result.error = "the supervisor " + sup->path + " runs on " + sup->node
                   + ": ask that node's observer for its crash reports";
    return result;
  }
  // A supervisor that is not running keeps no reports: none to show.
  if (sup->actor)
    result.supervisor = sup;
  else if (!result.in_tree)
    return not_found();
  return result;
}

std::string crash_report_json(const crash_report& x,
                              const std::function<std::string(
                                const caf::error&)>& render) {
  using namespace std::chrono;
  std::string out = "{";
  field(out, "path");
  append_text(out, x.path);
  field(out, "id");
  append_text(out, x.id);
  field(out, "restart_count");
  out += std::to_string(x.restart_count);
  field(out, "time_ms");
  out += std::to_string(
    duration_cast<milliseconds>(x.time.time_since_epoch()).count());
  field(out, "time");
  append_text(out, iso_time(x.time));
  field(out, "reason");
  append_text(out, bounded(render(x.reason)));
  field(out, "exception");
  if (auto details = crash_details_of(x.reason)) {
    out += "{\"type\":";
    append_text(out, bounded(details->type, 1024));
    field(out, "what");
    append_text(out, bounded(details->what));
    out += '}';
  } else {
    out += "null";
  }
  field(out, "message");
  if (x.message)
    append_message_json(out, *x.message);
  else
    out += "null";
  field(out, "last_messages");
  out += '[';
  for (size_t i = 0; i < x.last_messages.size(); ++i) {
    if (i > 0)
      out += ',';
    append_message_json(out, x.last_messages[i]);
  }
  out += ']';
  field(out, "trace");
  if (x.trace)
    append_trace(out, *x.trace);
  else
    out += "null";
  field(out, "state");
  append_text(out, bounded(x.state));
  field(out, "state_error");
  append_text(out, bounded(x.state_error));
  out += '}';
  return out;
}

std::string crashes_json(const std::string& path,
                         const std::string& supervisor, crashes_scope scope,
                         const std::vector<crash_report>& newest_first,
                         const std::function<std::string(const caf::error&)>&
                           render) {
  std::string out = "{";
  field(out, "path");
  append_text(out, path);
  field(out, "supervisor");
  append_text(out, supervisor);
  field(out, "scope");
  out += scope == crashes_scope::child ? "\"child\"" : "\"children\"";
  field(out, "count");
  out += std::to_string(newest_first.size());
  field(out, "reports");
  out += '[';
  for (size_t i = 0; i < newest_first.size(); ++i) {
    if (i > 0)
      out += ',';
    out += crash_report_json(newest_first[i], render);
  }
  out += "]}";
  return out;
}

} // namespace trellis::detail
