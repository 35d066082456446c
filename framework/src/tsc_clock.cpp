#include "tsc_clock.hpp"

#include <atomic>
#include <chrono>

#if defined(__x86_64__) && defined(__GNUC__)
#  include <cpuid.h>
#  include <x86intrin.h>
#  define TRELLIS_HAS_TSC 1
#else
#  define TRELLIS_HAS_TSC 0
#endif

namespace trellis::detail {

namespace {

#if TRELLIS_HAS_TSC

__extension__ using int128 = __int128;

enum class phase : int {
  /// No read yet.
  unanchored,
  /// One thread takes the anchor.
  anchoring,
  /// Anchored: waiting for `measure_for_ns` to pass, to take the scale.
  measuring,
  /// One thread computes the scale.
  scaling,
  /// Reads come from the counter.
  counting,
  /// The counter cannot serve: the steady clock for good.
  steady,
};

/// How long the first reads measure the counter's rate against the steady
/// clock: each end of the span is known to within a microsecond, so the
/// scale to within some 40 parts per million.
constexpr int64_t measure_for_ns = 50'000'000;

/// Written once, before `state` says so (release); read after (acquire).
struct calibration {
  std::atomic<phase> state{phase::unanchored};
  uint64_t tsc0 = 0;
  int64_t ns0 = 0;
  /// Nanoseconds per tick, in 32.32 fixed point.
  uint64_t scale = 0;
};

calibration cal;

/// Whether the counter ticks at one rate in every power state (CPUID
/// 0x80000007, EDX bit 8): the kernel's `nonstop_tsc`.
bool invariant_tsc() noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0x80000000, nullptr) < 0x80000007)
    return false;
  if (!__get_cpuid(0x80000007, &a, &b, &c, &d))
    return false;
  return (d & (1u << 8)) != 0;
}

/// Reads both clocks at one moment: the steady clock before and after the
/// counter, again if the two lie more than 2 us apart (the thread was
/// preempted in between). False if they never came close.
bool read_both(uint64_t& tsc, int64_t& ns) noexcept {
  for (int i = 0; i < 3; ++i) {
    auto before = tsc_clock::steady_ns();
    tsc = __rdtsc();
    auto after = tsc_clock::steady_ns();
    if (after - before <= 2'000) {
      ns = before + (after - before) / 2;
      return true;
    }
  }
  return false;
}

void enter(phase x) noexcept {
  cal.state.store(x, std::memory_order_release);
}

bool advance(phase from, phase to) noexcept {
  return cal.state.compare_exchange_strong(from, to,
                                           std::memory_order_acq_rel);
}

/// A read before the counter counts: the steady clock's, and the next step
/// of the calibration if it is due and this thread wins it.
[[gnu::noinline]] int64_t calibrating_read(phase state) noexcept {
  uint64_t tsc = 0;
  int64_t ns = 0;
  if (state == phase::unanchored && advance(state, phase::anchoring)) {
    if (!invariant_tsc()) {
      enter(phase::steady);
    } else if (read_both(tsc, ns)) {
      cal.tsc0 = tsc;
      cal.ns0 = ns;
      enter(phase::measuring);
      return ns;
    } else {
      enter(phase::unanchored); // The next read tries again.
    }
    return tsc_clock::steady_ns();
  }
  auto now = tsc_clock::steady_ns();
  if (state != phase::measuring || now - cal.ns0 < measure_for_ns
      || !advance(state, phase::scaling))
    return now;
  if (!read_both(tsc, ns)) {
    enter(phase::measuring);
    return now;
  }
  // Forward, between 10 MHz and 100 GHz, or the counter is not what it
  // claims.
  auto ticks = static_cast<int64_t>(tsc - cal.tsc0);
  auto per_tick = ticks > 0 ? static_cast<double>(ns - cal.ns0)
                                / static_cast<double>(ticks)
                            : 0.0;
  if (per_tick < 0.01 || per_tick > 100.0) {
    enter(phase::steady);
    return ns;
  }
  cal.scale = static_cast<uint64_t>(per_tick * 4294967296.0 + 0.5);
  enter(phase::counting);
  return ns;
}

#endif

} // namespace

int64_t tsc_clock::steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

int64_t tsc_clock::now_ns() noexcept {
#if TRELLIS_HAS_TSC
  auto state = cal.state.load(std::memory_order_acquire);
  if (state == phase::counting) {
    // A counter read on another core may lag this anchor's by a few
    // ticks: the difference is signed.
    auto ticks = static_cast<int64_t>(__rdtsc() - cal.tsc0);
    auto ns = (static_cast<int128>(ticks) * cal.scale) >> 32;
    return cal.ns0 + static_cast<int64_t>(ns);
  }
  if (state == phase::steady)
    return steady_ns();
  return calibrating_read(state);
#else
  return steady_ns();
#endif
}

bool tsc_clock::counting() noexcept {
#if TRELLIS_HAS_TSC
  return cal.state.load(std::memory_order_acquire) == phase::counting;
#else
  return false;
#endif
}

} // namespace trellis::detail
