#pragma once

// A child that crashes on what it cannot parse: the crash reports that the
// observer's endpoint and page tests show.

#include <string>

#include <caf/all.hpp>

namespace trellis::test {

struct parser_state {
  int parsed = 0;
  std::string last;
};

/// Counts what it parses; throws `std::invalid_argument` on text that
/// starts with "bad".
inline caf::behavior parser(caf::stateful_actor<parser_state>* self) {
  return {
    [self](const std::string& text) -> int32_t {
      if (text.compare(0, 3, "bad") == 0)
        throw std::invalid_argument("cannot parse " + text);
      self->state.last = text;
      return ++self->state.parsed;
    },
  };
}

} // namespace trellis::test
