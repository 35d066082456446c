#pragma once

// Step 2: a pool of parsers under a dynamic supervisor, and the dispatcher
// that fills it, hands each line to one of its parsers, and refills it
// after the pool's supervisor was restarted.

#include <cstddef>

#include "trellis/supervisor_spec.hpp"

namespace tutorial {

/// The pool, `root/pool` (rest_for_one): `parsers`, a dynamic supervisor of
/// `parser#N` children, and `dispatch`, which starts `size` of them and
/// forwards each line to one.
trellis::supervisor_spec parser_pool(size_t size);

} // namespace tutorial
