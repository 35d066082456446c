#include "health.hpp"

#include <chrono>

#include "trellis/health_check.hpp"

using namespace std::chrono_literals;

namespace tutorial {

// [watched]
trellis::child_spec watched(trellis::child_spec spec) {
  // Detached: a stuck handler then blocks a thread of its own, not one of
  // CAF's shared scheduler threads (two on a two-core machine).
  spec.detached(true).health_check(trellis::health_check{100ms, 250ms, 3});
  return spec;
}
// [watched]

} // namespace tutorial
