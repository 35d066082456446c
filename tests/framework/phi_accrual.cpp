// The phi accrual failure detector on synthetic heartbeats, on a clock of
// its own: the figures asserted here are the ones docs/detection.md
// documents.

#include <catch2/catch.hpp>

#include <random>

#include "synthetic_clock.hpp"
#include "trellis/phi_accrual.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

TEST_CASE("phi is zero until it learned an interval, and for the past",
          "[phi_accrual]") {
  phi_accrual detector;
  CHECK(detector.phi(at_ms(10'000)) == 0);
  detector.heartbeat(at_ms(0));
  CHECK(detector.phi(at_ms(10'000)) == 0);
  detector.heartbeat(at_ms(1000));
  CHECK(detector.phi(at_ms(500)) == 0);
  CHECK(detector.phi(at_ms(1000)) == 0);
  CHECK(detector.heartbeats() == 2);
}

TEST_CASE("phi grows while heartbeats stay away", "[phi_accrual]") {
  // Every second, with a deviation of 50 ms.
  std::mt19937 rng{3};
  std::normal_distribution<double> jitter{0, 50};
  phi_accrual detector{100, 10ms};
  double t = 0;
  for (int i = 0; i < 200; ++i) {
    t += 1000 + jitter(rng);
    detector.heartbeat(at_ms(t));
  }
  CHECK(detector.mean() == Approx(1.0).epsilon(0.02));
  CHECK(detector.std_deviation() == Approx(0.05).epsilon(0.3));
  // Half a second early: no suspicion; on time: a coin's; then it climbs.
  CHECK(detector.phi(at_ms(t + 500)) < 0.01);
  CHECK(detector.phi(at_ms(t + 1000)) == Approx(0.3).margin(0.1));
  auto late = detector.phi(at_ms(t + 1200));
  auto later = detector.phi(at_ms(t + 1400));
  CHECK(late > 3);
  CHECK(later > late);
  // A peer gone for long is at the cap, not infinite.
  CHECK(detector.phi(at_ms(t + 60'000)) == phi_accrual::max_phi);
  // A heartbeat ends the suspicion.
  detector.heartbeat(at_ms(t + 1400));
  CHECK(detector.phi(at_ms(t + 1500)) < 0.01);
}

TEST_CASE("a jittery peer raises suspicion later than a steady one",
          "[phi_accrual]") {
  auto train = [](double deviation_ms) {
    std::mt19937 rng{11};
    std::normal_distribution<double> jitter{0, deviation_ms};
    phi_accrual detector{100, 1ms};
    double t = 0;
    for (int i = 0; i < 100; ++i) {
      t += 100 + jitter(rng);
      detector.heartbeat(at_ms(t));
    }
    return std::make_pair(detector, t);
  };
  auto [steady, t1] = train(2);
  auto [jittery, t2] = train(30);
  // 150 ms without a heartbeat: damning for the first, plausible for the
  // second.
  CHECK(steady.phi(at_ms(t1 + 150)) > 8);
  CHECK(jittery.phi(at_ms(t2 + 150)) < 3);
}

TEST_CASE("the floor and the acceptable pause temper suspicion",
          "[phi_accrual]") {
  auto metronome = [](phi_accrual detector) {
    for (int i = 0; i <= 50; ++i)
      detector.heartbeat(at_ms(i * 100.0));
    return detector;
  };
  // A metronome: the floor of the deviation decides.
  auto tight = metronome(phi_accrual{100, 1ms});
  auto floored = metronome(phi_accrual{100, 50ms});
  CHECK(tight.std_deviation() == Approx(0.001));
  CHECK(tight.phi(at_ms(5000 + 110)) > 8);
  CHECK(floored.phi(at_ms(5000 + 110)) < 1);
  auto paused = metronome(phi_accrual{100, 1ms, 1s});
  CHECK(paused.phi(at_ms(5000 + 1000)) < 0.01);
  CHECK(paused.phi(at_ms(5000 + 1200)) > 8);
}

TEST_CASE("the window forgets old intervals", "[phi_accrual]") {
  phi_accrual detector{10, 1ms};
  double t = 0;
  for (int i = 0; i < 10; ++i)
    detector.heartbeat(at_ms(t += 1000));
  CHECK(detector.mean() == Approx(1.0));
  for (int i = 0; i < 10; ++i)
    detector.heartbeat(at_ms(t += 100));
  CHECK(detector.mean() == Approx(0.1));
  // Many laps: the running sums stay exact.
  for (int i = 0; i < 100'000; ++i)
    detector.heartbeat(at_ms(t += 100));
  CHECK(detector.mean() == Approx(0.1));
  CHECK(detector.std_deviation() == Approx(0.001));
  detector.reset();
  CHECK(detector.heartbeats() == 0);
  CHECK(detector.phi(at_ms(t + 10'000)) == 0);
}
