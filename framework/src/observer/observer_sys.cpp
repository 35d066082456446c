#include "observer_sys.hpp"

#include <chrono>

#include "observer_crashes.hpp"

namespace trellis::detail {

namespace {

void field(std::string& out, const char* name) {
  append_json_field(out, name);
}

void append_ns(std::string& out, const char* name, caf::timespan x) {
  field(out, name);
  out += std::to_string(x.count());
}

void append_bool(std::string& out, const char* name, bool x) {
  field(out, name);
  out += x ? "true" : "false";
}

/// `<name>_ms` and `<name>` (ISO 8601) of `t`.
void append_time(std::string& out, const std::string& name, caf::timestamp t) {
  using namespace std::chrono;
  auto ms_name = name + "_ms";
  field(out, ms_name.c_str());
  out += std::to_string(
    duration_cast<milliseconds>(t.time_since_epoch()).count());
  field(out, name.c_str());
  append_json_text(out, iso_time(t));
}

} // namespace

query_value<bool> read_switch(const std::string& x) {
  query_value<bool> result;
  if (x == "true")
    result.value = true;
  else if (x == "false")
    result.value = false;
  else
    result.error = "expected on=true or on=false";
  return result;
}

query_value<uint64_t> read_trace_length(const std::string& x) {
  query_value<uint64_t> result;
  auto expected = "expected n=<messages to trace>, 0 (off) to "
                  + std::to_string(max_traced_messages);
  // More digits than the limit has cannot be under it; no overflow either.
  auto digits = std::to_string(max_traced_messages).size();
  if (x.empty() || x.size() > digits
      || x.find_first_not_of("0123456789") != std::string::npos) {
    result.error = expected;
    return result;
  }
  auto n = std::stoull(x);
  if (n > max_traced_messages) {
    result.error = "a child traces at most "
                   + std::to_string(max_traced_messages) + " messages, not "
                   + x;
    return result;
  }
  result.value = n;
  return result;
}

std::string statistics_json(const child_statistics& x, size_t trace,
                            bool has_format_state) {
  std::string out = "{";
  field(out, "path");
  append_json_text(out, x.path);
  append_bool(out, "enabled", x.enabled);
  append_bool(out, "collecting", x.collecting);
  if (x.collecting) {
    append_time(out, "since", x.since);
  } else {
    field(out, "since_ms");
    out += "null";
    field(out, "since");
    out += "null";
  }
  field(out, "messages_handled");
  out += std::to_string(x.messages_handled);
  append_ns(out, "handler_p50_ns", x.handler_p50);
  append_ns(out, "handler_p90_ns", x.handler_p90);
  append_ns(out, "handler_p99_ns", x.handler_p99);
  append_ns(out, "handler_max_ns", x.handler_max);
  append_bool(out, "handling", x.handling);
  append_ns(out, "current_handler_ns", x.current_handler);
  field(out, "mailbox_depth");
  out += std::to_string(x.mailbox_depth);
  append_bool(out, "suspended", x.suspended);
  field(out, "trace");
  out += std::to_string(trace);
  append_bool(out, "has_format_state", has_format_state);
  out += '}';
  return out;
}

std::string trace_json(const std::string& path,
                       const std::vector<traced_message>& oldest_first) {
  std::string out = "{";
  field(out, "path");
  append_json_text(out, path);
  field(out, "count");
  out += std::to_string(oldest_first.size());
  field(out, "entries");
  out += '[';
  for (auto i = oldest_first.rbegin(); i != oldest_first.rend(); ++i) {
    if (i != oldest_first.rbegin())
      out += ',';
    out += '{';
    append_time(out, "at", i->at);
    append_ns(out, "took_ns", i->took);
    field(out, "outcome");
    append_json_text(out, to_string(i->outcome));
    field(out, "message");
    append_message_json(out, i->message);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string state_json(const std::string& path, const std::string& state) {
  std::string out = "{";
  field(out, "path");
  append_json_text(out, path);
  field(out, "state");
  append_json_text(out, state);
  out += '}';
  return out;
}

std::string action_json(const std::string& path, const char* action,
                            const std::string& setting) {
  std::string out = "{\"ok\":true";
  field(out, "path");
  append_json_text(out, path);
  field(out, "action");
  append_json_text(out, action);
  if (!setting.empty())
    out += ',' + setting;
  out += '}';
  return out;
}

} // namespace trellis::detail
