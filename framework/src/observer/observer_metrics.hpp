#pragma once

// The observer's /metrics page, in Prometheus' text format (version 0.0.4).

#include <cstdint>
#include <map>
#include <string>

#include <vector>

#include "observer_hub.hpp"
#include "trellis/incident.hpp"
#include "trellis/tree_snapshot.hpp"

namespace trellis::detail {

/// What one scrape shows.
struct metrics_input {
  /// The tree now; null if the root did not answer.
  const tree_snapshot* tree = nullptr;
  observer_counters counters;
  /// Mailbox depths by path, for the actors that answered the probe.
  std::map<std::string, uint64_t> mailbox_depths;
  /// The node's open incidents.
  std::vector<incident_info> incidents;
  /// Open event streams.
  size_t event_streams = 0;
  /// A series per dynamic child, rather than per template (`series_path`).
  bool per_child_series = false;
};

/// Renders every metric family, each with `# HELP` and `# TYPE`.
std::string render_metrics(const metrics_input& in);

/// Escapes a label value: backslash, double quote and newline.
std::string escape_label_value(const std::string& x);

} // namespace trellis::detail
