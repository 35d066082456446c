#pragma once

// JSON strings for the renderings of snapshots and of the observer's events.

#include <string>

namespace trellis::detail {

/// Appends `x` to `out` as a quoted JSON string.
void append_json_string(std::string& out, const std::string& x);

} // namespace trellis::detail
