#pragma once

// JSON strings for the renderings of snapshots and of the observer's events.

#include <string>

namespace trellis::detail {

/// Appends `x` to `out` as a quoted JSON string.
void append_json_string(std::string& out, const std::string& x);

/// Appends `x` to `out` as a JSON number, with up to 4 significant digits;
/// `0` for what JSON cannot hold (NaN, infinities).
void append_json_number(std::string& out, double x);

} // namespace trellis::detail
