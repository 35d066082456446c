#pragma once

// Step 5: enrichment by a flaky dependency, the geo service, behind a
// circuit breaker, so that the pipeline fails fast (and goes on without
// it) while the service is down, and recovers without help once it is
// back.

#include <atomic>
#include <memory>

#include "trellis/child_spec.hpp"

namespace tutorial {

/// Whether the geo service's backend is down (step 5 sets it).
struct outage {
  std::atomic<bool> down{false};
};

/// The geo service, `root/geo`: answers "temp.berlin=21" with
/// "temp.berlin=21 region=eu"; throws while `o->down`. Restarts with
/// backoff.
trellis::child_spec geo(std::shared_ptr<outage> o);

/// The breaker in front of it, `root/geo_breaker`.
trellis::child_spec geo_breaker();

} // namespace tutorial
