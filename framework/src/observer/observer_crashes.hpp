#pragma once

// GET /api/crashes: which supervisor to ask for the crash reports of a path,
// decided on the tree's snapshot, and the reports as JSON. The observer's
// HTTP thread does both (symbolizing a trace may read debug info: never on
// an actor's thread).

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/timestamp.hpp>

#include "trellis/crash_report.hpp"
#include "trellis/tree_snapshot.hpp"

namespace trellis::detail {

/// The longest `path` the endpoint accepts; the tree's own paths are far
/// shorter.
constexpr size_t max_crashes_path = 1024;

/// At most this many frames of one trace are rendered.
constexpr size_t max_rendered_frames = 128;

/// At most this many bytes of one free-form text (an exception's `what()`,
/// the rendered state, a frame's function name) are rendered.
constexpr size_t max_rendered_text = 4096;

/// Returns why `path` is not a path (empty, too long, an empty segment, a
/// control character, not UTF-8), or none.
std::optional<std::string> malformed_path(const std::string& path);

/// Appends `x` to `out` as a JSON string without `<`, `>` or `&` (as
/// `\u003c` and so on): the observer's JSON carries user data and echoes
/// paths, and no reader that sniffs HTML finds any in it.
void append_json_text(std::string& out, const std::string& x);

/// Appends `"name":` to the JSON object `out` is building, after a comma
/// unless it is the object's first member.
void append_json_field(std::string& out, const char* name);

/// Renders `t` as ISO 8601 in UTC with milliseconds, e.g.
/// `2026-12-03T05:06:57.632Z`.
std::string iso_time(caf::timestamp t);

/// Appends a message a child handled as a JSON object: its `types`, its
/// `content` rendered within `max_rendered_message`, its `sender` and
/// whether it was a `request`; every string escaped as by
/// `append_json_text`. A crash report's messages and a trace's entries
/// (observer_sys.hpp) both use it.
void append_message_json(std::string& out, const logged_message& x);

/// Whose crash reports a request gets.
enum class crashes_scope {
  /// One child's: its supervisor's reports with its path.
  child,
  /// A supervisor's children's: all its reports.
  children,
};

/// Where to find the crash reports of a path, or why not.
struct crashes_plan {
  /// 200 to ask `supervisor`; otherwise the status to answer with `error`.
  int status = 200;
  std::string error;
  /// The supervisor to ask; null when it is not running (no reports).
  const tree_snapshot* supervisor = nullptr;
  crashes_scope scope = crashes_scope::child;
  /// Whether `path` is in the snapshot. A child that is not (a temporary
  /// or dynamic child removed after its crash) is found by its reports
  /// alone: none is 404.
  bool in_tree = true;
};

/// Decides where to ask for the crash reports of `path` (a well-formed
/// one) in `tree`: a supervisor's path means its children's reports, any
/// other its own, kept by its parent.
crashes_plan plan_crashes(const tree_snapshot& tree, const std::string& path);

/// Renders the answer of GET /api/crashes: `path`, `supervisor`, `scope`,
/// `count` and `reports` (newest first, as given), each report with its
/// exception, message, last messages, trace (symbolized now), and state.
/// `render` renders an exit reason. Every string is escaped so that the
/// JSON holds no `<`, `>` or `&`.
std::string crashes_json(const std::string& path,
                         const std::string& supervisor, crashes_scope scope,
                         const std::vector<crash_report>& newest_first,
                         const std::function<std::string(const caf::error&)>&
                           render);

/// Renders one report as a JSON object (see `crashes_json`).
std::string crash_report_json(const crash_report& x,
                              const std::function<std::string(
                                const caf::error&)>& render);

} // namespace trellis::detail
