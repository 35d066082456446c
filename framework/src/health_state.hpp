#pragma once

#include <cstdint>
#include <memory>

#include "trellis/phi_accrual.hpp"

namespace trellis::detail {

/// What the health monitor keeps per child: checks missed in a row by the
/// current incarnation, which check timer is current (0: none), and, for a
/// child with checks, the suspicion learned from its answers.
struct health_state {
  int missed = 0;
  uint64_t token = 0;
  std::unique_ptr<phi_accrual> suspicion;
};

} // namespace trellis::detail
