#pragma once

// Waiting on a stable handle's own view of its child, for the stable handle
// tests.

#include <thread>

#include "test_support.hpp"

namespace trellis::test {

/// Waits until the stable handle `h` says whether its child is `up`.
inline void await_up(fixture& f, const caf::actor& h, bool up) {
  for (int i = 0; i < 20'000; ++i) {
    bool now = !up;
    f.probe
      ->request(h, patience, caf::get_atom::value, stable_handle_atom::value)
      .receive([&](bool x, uint64_t) { now = x; }, [](caf::error&) {});
    if (now == up)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  FAIL("the stable handle never saw its child " << (up ? "up" : "down"));
}

} // namespace trellis::test
