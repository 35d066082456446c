#pragma once

// Marks the branches of the restart path that a supervisor takes only for a
// feature or a failure. Without them GCC lays such blocks out between the
// common steps, and a restart's code spreads over more instruction-cache
// lines than it runs (measured: docs/benchmarks.md, round two).
#if defined(__GNUC__)
#  define TRELLIS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define TRELLIS_UNLIKELY(x) (x)
#endif
