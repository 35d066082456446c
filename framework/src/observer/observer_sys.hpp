#pragma once

// /api/sys: looking inside a child (trellis/sys.hpp) over HTTP. What the
// query strings of its control endpoints mean, decided before the tree is
// asked, and its answers as JSON.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trellis/child_statistics.hpp"
#include "trellis/traced_message.hpp"

namespace trellis::detail {

/// A query parameter read: its value, or the message of the 400 that
/// refuses it.
template <class T>
struct query_value {
  std::optional<T> value;
  std::string error;
};

/// Reads `on=` of `POST /api/sys/statistics`: `true` or `false`, nothing
/// else (a missing parameter is the empty string).
query_value<bool> read_switch(const std::string& x);

/// Reads `n=` of `POST /api/sys/trace`: decimal digits for 0 (off) up to
/// `max_traced_messages`.
query_value<uint64_t> read_trace_length(const std::string& x);

/// Renders the answer of `GET /api/sys`: the fields of `x` (durations in
/// ns as `..._ns`, `since` as `since_ms` and ISO 8601, both null while it
/// does not collect) and, from the child's spec, `trace` (how many
/// messages it traces, 0 for none) and `has_format_state` (whether
/// `GET /api/sys/state` can answer).
std::string statistics_json(const child_statistics& x, size_t trace,
                            bool has_format_state);

/// Renders the answer of `GET /api/sys/trace`: `path`, `count` and
/// `entries`, newest first (`oldest_first` is as `get_trace` answers), each
/// with `at_ms`, `at`, `took_ns`, `outcome` and the `message` as a crash
/// report's (`append_message_json`): rendered within
/// `max_rendered_message`, escaped.
std::string trace_json(const std::string& path,
                       const std::vector<traced_message>& oldest_first);

/// Renders the answer of `GET /api/sys/state`: `path` and `state`.
std::string state_json(const std::string& path, const std::string& state);

/// Renders the answer of a control endpoint that did `action` to `path`:
/// `{"ok":true,"path":...,"action":...}`, plus `setting` (a JSON member
/// such as `"n":50`) if not empty.
std::string action_json(const std::string& path, const char* action,
                        const std::string& setting = {});

} // namespace trellis::detail
