#pragma once

/// @file
/// `dead_letter`: a message quarantined because it crashed a child too often.

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

namespace trellis {

/// A message a child was not allowed to handle: it crashed the child too
/// often in a row (see `child_spec::quarantine_after`), so the child's later
/// incarnations set it aside instead of crashing on it again. Listed by
/// `trellis::dead_letters` and announced by a `message_quarantined` event.
///
/// OTP has no equivalent: a message that crashes a gen_server crashes every
/// incarnation it reaches until the restart intensity gives up.
struct dead_letter {
  /// The path of the child it crashed.
  std::string path;
  /// The message itself.
  caf::message content;
  /// The exit reason of the last crash it caused.
  caf::error reason;
  /// How many crashes in a row it caused before it was quarantined.
  uint64_t crashes = 0;
  /// How many copies arrived after it was quarantined and were set aside
  /// (requests among them were answered with `errc::quarantined`).
  uint64_t diverted = 0;
  /// When it was quarantined (system clock).
  caf::timestamp quarantined_at;
};

/// Renders a dead letter on one line.
std::string to_string(const dead_letter& x);

/// Lets CAF print a `dead_letter` (`caf::deep_to_string`) and serialize it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter& x) {
  return f(caf::meta::type_name("trellis.dead_letter"), x.path, x.content,
           x.reason, x.crashes, x.diverted, x.quarantined_at);
}

} // namespace trellis
