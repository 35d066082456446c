#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include <caf/timespan.hpp>

// What validation checks of any spec's ids and enumerations.

namespace trellis::detail {

/// Returns whether `id` holds a control character (a newline, say): reports
/// print ids as they are, one event a line, so such an id could forge lines.
inline bool has_control_char(const std::string& id) noexcept {
  return std::any_of(id.begin(), id.end(), [](char c) {
    auto x = static_cast<unsigned char>(c);
    return x < 0x20 || x == 0x7f;
  });
}

/// What `errc::invalid_spec` says of such an id.
inline const char* control_char_text() noexcept {
  return "an id must not contain control characters (reports print ids as "
         "they are, one event a line)";
}

/// The longest timeout or delay a spec may give, and a blocking call waits
/// for as given: past it, a deadline (now + the span) may overflow and pass
/// at once. Waiting for ever is spelled otherwise (`shutdown::infinity()`).
constexpr caf::timespan longest_span = std::chrono::hours(24 * 365);

/// Returns whether `x` lies past `last`, the enumeration's last value: an
/// integer cast to it, which every switch on it would skip.
template <class Enum>
bool beyond(Enum x, Enum last) noexcept {
  return static_cast<uint8_t>(x) > static_cast<uint8_t>(last);
}

} // namespace trellis::detail
