// The clock that times a child's handlers: whether it reads the time-stamp
// counter or the steady clock, it keeps the steady clock's pace and never
// goes back on one thread.

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "tsc_clock.hpp"

using trellis::detail::tsc_clock;
using namespace std::chrono_literals;

namespace {

/// Reads the clock until it counts from the time-stamp counter, for at
/// most two seconds (it takes its scale 50 ms after its first read);
/// returns whether it does.
bool wait_for_counting() {
  auto deadline = std::chrono::steady_clock::now() + 2s;
  tsc_clock::now_ns();
  while (!tsc_clock::counting() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
    tsc_clock::now_ns();
  }
  return tsc_clock::counting();
}

} // namespace

TEST_CASE("the handler clock keeps the steady clock's pace",
          "[tsc_clock]") {
  if (!wait_for_counting())
    WARN("no invariant time-stamp counter here: the steady clock serves");
  // Both clocks around a 50 ms sleep: the spans agree within a generous
  // margin (the scale is measured to within a few parts per million; a
  // wrong one is off by far more), and the readings stay near the steady
  // clock's, on whose scale the counter is anchored.
  auto s0 = tsc_clock::steady_ns();
  auto t0 = tsc_clock::now_ns();
  std::this_thread::sleep_for(50ms);
  auto t1 = tsc_clock::now_ns();
  auto s1 = tsc_clock::steady_ns();
  auto steady_span = s1 - s0;
  auto span = t1 - t0;
  CHECK(span > 0);
  CHECK(span <= steady_span + steady_span / 100);
  CHECK(span >= steady_span / 2);
  CHECK(t1 - s1 < 1'000'000);
  CHECK(s1 - t1 < 1'000'000);
}

TEST_CASE("the handler clock never goes back on one thread", "[tsc_clock]") {
  wait_for_counting();
  auto last = tsc_clock::now_ns();
  for (int i = 0; i < 1'000'000; ++i) {
    auto now = tsc_clock::now_ns();
    REQUIRE(now >= last);
    last = now;
  }
}
