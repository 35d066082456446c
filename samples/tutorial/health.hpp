#pragma once

// Step 4: a health check, so that a child stuck in a handler is noticed
// and replaced. Nothing else would notice it: it never exits.

#include "trellis/child_spec.hpp"

namespace tutorial {

/// Returns `spec` on a thread of its own and checked every 100 ms; three
/// missed answers in a row (250 ms each) make it hung.
trellis::child_spec watched(trellis::child_spec spec);

} // namespace tutorial
