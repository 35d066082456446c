#include "observer_metrics.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <utility>

namespace trellis::detail {

namespace {

using label = std::pair<const char*, std::string>;

/// Builds one metric family: its header, then its samples.
class family {
public:
  family(std::string& out, const char* name, const char* type,
         const char* help)
    : out_(out), name_(name) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::initializer_list<label> labels, const std::string& value) {
    out_ += name_;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (auto& [key, val] : labels) {
        if (!first)
          out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        out_ += escape_label_value(val);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  void sample(std::initializer_list<label> labels, uint64_t value) {
    sample(labels, std::to_string(value));
  }

private:
  std::string& out_;
  const char* name_;
};

std::string seconds(caf::timespan x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f",
                std::chrono::duration<double>(x).count());
  return buf;
}

template <class F>
void each_node(const tree_snapshot& x, F& f) {
  f(x);
  for (auto& child : x.children)
    each_node(child, f);
}

template <class F>
void each_node_of(const metrics_input& in, F f) {
  if (in.tree)
    each_node(*in.tree, f);
}

} // namespace

std::string escape_label_value(const std::string& x) {
  std::string result;
  result.reserve(x.size());
  for (auto ch : x) {
    switch (ch) {
      case '\\':
        result += "\\\\";
        break;
      case '"':
        result += "\\\"";
        break;
      case '\n':
        result += "\\n";
        break;
      default:
        result += ch;
    }
  }
  return result;
}

std::string render_metrics(const metrics_input& in) {
  std::string out;
  auto& c = in.counters;
  family{out, "trellis_up", "gauge",
         "1 if the root supervisor answered the scrape's snapshot, else 0."}
    .sample({}, in.tree ? 1 : 0);
  {
    family f{out, "trellis_restarts_total", "counter",
             "Restarts of each child since the observer started."};
    for (auto& [path, n] : c.restarts)
      f.sample({{"path", path}}, n);
  }
  {
    family f{out, "trellis_crashes_total", "counter",
             "Abnormal exits of each child, by reason (the error code, "
             "without its context)."};
    for (auto& [key, n] : c.crashes)
      f.sample({{"path", key.first}, {"reason", key.second}}, n);
  }
  {
    family f{out, "trellis_escalations_total", "counter",
             "Times a supervisor exceeded its restart intensity and gave "
             "up, escalating to its parent."};
    for (auto& [path, n] : c.escalations)
      f.sample({{"path", path}}, n);
  }
  {
    family f{out, "trellis_alarms_raised_total", "counter",
             "Alarms raised (alarm_set), by path and alarm."};
    for (auto& [key, n] : c.alarms_raised)
      f.sample({{"path", key.first}, {"alarm", key.second}}, n);
  }
  {
    family f{out, "trellis_alarm_active", "gauge",
             "1 while an alarm is raised and not cleared, else 0 (for a "
             "dynamic template, how many of its children's are)."};
    for (auto& [key, open] : c.alarms_open)
      f.sample({{"path", key.first}, {"alarm", key.second}}, open);
  }
  {
    family f{out, "trellis_lifecycle_events_total", "counter",
             "Lifecycle events seen, by kind."};
    for (auto& [kind, n] : c.events)
      f.sample({{"kind", kind}}, n);
  }
  {
    family f{out, "trellis_children", "gauge",
             "Children of each supervisor, by state."};
    each_node_of(in, [&](const tree_snapshot& x) {
      if (x.type != child_type::supervisor)
        return;
      uint64_t counts[3] = {0, 0, 0};
      for (auto& child : x.children)
        ++counts[static_cast<size_t>(child.state)];
      for (auto st : {child_state::running, child_state::restarting,
                      child_state::stopped})
        f.sample({{"path", x.path}, {"state", to_string(st)}},
                 counts[static_cast<size_t>(st)]);
    });
  }
  {
    family f{out, "trellis_paused_children", "gauge",
             "Children of each supervisor that storm control pauses until "
             "their dependency's incident closes (counted as restarting in "
             "trellis_children too)."};
    each_node_of(in, [&](const tree_snapshot& x) {
      if (x.type != child_type::supervisor)
        return;
      uint64_t n = 0;
      for (auto& child : x.children)
        n += child.paused_for.empty() ? 0 : 1;
      f.sample({{"path", x.path}}, n);
    });
  }
  {
    family f{out, "trellis_incident_open", "gauge",
             "1 for each dependency with an open incident on this node, "
             "with its number."};
    for (auto& x : in.incidents)
      f.sample({{"dependency", x.dependency},
                {"incident", std::to_string(x.id)}},
               1);
  }
  {
    family f{out, "trellis_uptime_seconds", "gauge",
             "How long each running node's current actor has run (not for "
             "dynamic children unless per-child series are on)."};
    each_node_of(in, [&](const tree_snapshot& x) {
      if (x.state == child_state::running
          && (in.per_child_series || series_path(x.path) == x.path))
        f.sample({{"path", x.path}}, seconds(x.uptime));
    });
  }
  {
    family f{out, "trellis_suspicion", "gauge",
             "phi of the accrual failure detector over each running child's "
             "health-check answers, for children with health checks (the "
             "highest per template for dynamic children unless per-child "
             "series are on)."};
    std::map<std::string, double> levels;
    each_node_of(in, [&](const tree_snapshot& x) {
      if (x.state != child_state::running || !x.health_checked)
        return;
      auto& level = levels[in.per_child_series ? x.path : series_path(x.path)];
      level = std::max(level, x.suspicion);
    });
    for (auto& [path, phi] : levels) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.4g", phi);
      f.sample({{"path", path}}, buf);
    }
  }
  {
    family f{out, "trellis_restart_intensity", "gauge",
             "The restart intensity of each supervisor."};
    each_node_of(in, [&](const tree_snapshot& x) {
      if (x.type == child_type::supervisor && x.state == child_state::running)
        f.sample({{"path", x.path}}, x.intensity);
    });
  }
  {
    family f{out, "trellis_restart_budget_remaining", "gauge",
             "Restarts each supervisor still allows within its period; "
             "one more than this escalates."};
    each_node_of(in, [&](const tree_snapshot& x) {
      if (x.type == child_type::supervisor && x.state == child_state::running)
        f.sample({{"path", x.path}}, x.restarts_left);
    });
  }
  {
    family f{out, "trellis_mailbox_depth", "gauge",
             "Messages waiting in each running actor's mailbox; dynamic "
             "children's added up per template (path ending in #*) unless "
             "per-child series are on."};
    std::map<std::string, uint64_t> depths;
    for (auto& [path, n] : in.mailbox_depths)
      depths[in.per_child_series ? path : series_path(path)] += n;
    for (auto& [path, n] : depths)
      f.sample({{"path", path}}, n);
  }
  family{out, "trellis_observer_event_streams", "gauge",
         "Event streams (/api/events) open now."}
    .sample({}, in.event_streams);
  return out;
}

} // namespace trellis::detail
