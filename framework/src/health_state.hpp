#pragma once

#include <cstdint>

namespace trellis::detail {

/// What the health monitor keeps per child: checks missed in a row by the
/// current incarnation, and which check timer is current (0: none).
struct health_state {
  int missed = 0;
  uint64_t token = 0;
};

} // namespace trellis::detail
