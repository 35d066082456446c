// The prediction models on synthetic series, on a clock of their own: the
// figures asserted here are the ones docs/detection.md documents.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include "synthetic_clock.hpp"
#include "trellis/actors/rate_anomaly.hpp"
#include "trellis/actors/trend_forecast.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// The times, in seconds, at which `predicts` started (positive) and
/// stopped (negative) predicting level `x` within `horizon` over `series`,
/// one value a second.
std::vector<double> predictions(const std::vector<double>& series, double x,
                                caf::timespan horizon,
                                trend_params params = {}) {
  trend_forecast f{params};
  std::vector<double> result;
  auto on = false;
  for (size_t i = 0; i < series.size(); ++i) {
    f.add(at_second(static_cast<double>(i)), series[i]);
    auto now = predicts(f, x, horizon, on) && series[i] < x;
    if (now != on)
      result.push_back(now ? static_cast<double>(i) : -static_cast<double>(i));
    on = now;
  }
  return result;
}

/// A level of 100 with Gaussian noise of deviation 20, plus `shape(t)`.
template <class F>
std::vector<double> noisy(size_t seconds, uint32_t seed, F shape) {
  std::mt19937 rng{seed};
  std::normal_distribution<double> noise{0, 20};
  std::vector<double> result;
  for (size_t t = 0; t < seconds; ++t)
    result.push_back(100 + shape(static_cast<double>(t)) + noise(rng));
  return result;
}

} // namespace

TEST_CASE("a trend forecast learns a straight line's level and slope",
          "[prediction][trend]") {
  trend_forecast f;
  CHECK_FALSE(f.time_to_reach(10));
  for (int t = 0; t < 600; ++t)
    f.add(at_second(t), 5 + 0.25 * t);
  CHECK(f.slope() == Approx(0.25).epsilon(0.02));
  CHECK(f.level() == Approx(5 + 0.25 * 599).epsilon(0.01));
  auto eta = f.time_to_reach(5 + 0.25 * 599 + 25);
  REQUIRE(eta);
  CHECK(std::chrono::duration<double>(*eta).count() == Approx(100).epsilon(0.1));
  CHECK(f.time_to_reach(0) == caf::timespan{0});
  // Falling: never reached from below.
  for (int t = 600; t < 1200; ++t)
    f.add(at_second(t), 155 - 0.25 * (t - 600));
  CHECK(f.slope() < 0);
  CHECK_FALSE(f.time_to_reach(1000));
}

TEST_CASE("a leak is predicted before it crosses the level, within the "
          "horizon",
          "[prediction][trend]") {
  // Flat for 600 s, then 0.5 a second: crosses 200 at 800 s.
  std::vector<double> leads;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    auto series = noisy(1000, seed, [](double t) {
      return t < 600 ? 0.0 : (t - 600) * 0.5;
    });
    auto seen = predictions(series, 200, 60s);
    INFO("seed " << seed);
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.front() >= 600); // Nothing while it was flat.
    leads.push_back(800 - seen.front());
  }
  std::sort(leads.begin(), leads.end());
  // docs/detection.md: about 45 s of warning with a 60 s horizon, every
  // time ahead of the crossing.
  CHECK(leads.front() > 10);
  CHECK(leads[leads.size() / 2] >= 30);
  CHECK(leads.back() <= 90);
}

TEST_CASE("noise and a step below the level raise no prediction",
          "[prediction][trend]") {
  SECTION("20 hours of noise, the level at 5 deviations") {
    auto series = noisy(20 * 3600, 7, [](double) { return 0.0; });
    CHECK(predictions(series, 200, 60s).empty());
  }
  SECTION("a step of 2.5 deviations that stays below the level") {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      auto series = noisy(3000, seed, [](double t) {
        return t < 600 ? 0.0 : 50.0;
      });
      INFO("seed " << seed);
      CHECK(predictions(series, 200, 60s).empty());
    }
  }
}

TEST_CASE("a prediction clears once the trend turns", "[prediction][trend]") {
  // A leak that stops at 170 and recovers to 100, watched with a horizon
  // of two minutes.
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    auto series = noisy(2000, seed, [](double t) {
      if (t < 600)
        return 0.0;
      if (t < 740)
        return (t - 600) * 0.5;
      return std::max(0.0, 70 - (t - 740) * 0.5);
    });
    auto seen = predictions(series, 200, 2min);
    INFO("seed " << seed);
    REQUIRE(seen.size() >= 2);
    CHECK(seen.front() > 600);
    CHECK(seen.back() < 0); // It ends cleared...
    CHECK(-seen.back() < 740 + 120); // ...within two minutes of the turn.
  }
}

TEST_CASE("a fall from above the level predicts nothing",
          "[prediction][trend]") {
  // An alarm that cleared: the smoothed level is still above the threshold
  // while the value falls.
  trend_forecast f;
  for (int t = 0; t < 100; ++t)
    f.add(at_second(t), 300);
  for (int t = 100; t < 400; ++t) {
    f.add(at_second(t), 100);
    INFO("second " << t);
    CHECK_FALSE(predicts(f, 200, 60s, false));
  }
  // NaN is never a prediction.
  CHECK_FALSE(predicts(f, std::nan(""), 60s, false));
}

TEST_CASE("a prediction does not flap at its horizon", "[prediction][trend]") {
  // A noiseless line whose estimate sits just past the horizon and just
  // inside it in turn: hysteresis keeps one verdict.
  trend_forecast f{trend_params{1.0, 1.0, 2}};
  f.add(at_second(0), 0);
  f.add(at_second(1), 1);
  // 59 s from 60 at slope 1: within 60 s.
  CHECK(predicts(f, 60, 60s, false));
  // 119 s away: past the horizon, within twice it.
  CHECK_FALSE(predicts(f, 120, 60s, false));
  CHECK(predicts(f, 120, 60s, true));
  CHECK_FALSE(predicts(f, 122, 60s, true));
}

TEST_CASE("the Poisson tail", "[prediction][rate]") {
  CHECK(poisson_tail(3, 0) == 1);
  CHECK(poisson_tail(0, 1) == 0);
  // P(X >= 1) = 1 - e^-m
  CHECK(poisson_tail(2, 1) == Approx(1 - std::exp(-2.0)));
  // P(X >= 5 | 1) = 1 - sum_{k<5} e^-1 / k!
  CHECK(poisson_tail(1, 5) == Approx(0.0036598468));
  // Far in the tail, and around a large mean (normal-like).
  CHECK(poisson_tail(1, 40) > 0);
  CHECK(poisson_tail(1, 40) < 1e-40);
  CHECK(poisson_tail(10000, 10000) == Approx(0.5).margin(0.01));
  CHECK(poisson_tail(10000, 10400) == Approx(3.3e-5).epsilon(0.2));
}

namespace {

/// Feeds `anomaly` one second at a time for `seconds`, with events at
/// `rate_per_s(t)` drawn as Poisson; returns the times (in seconds) at which
/// the verdict changed, positive when raised and negative when cleared.
template <class F>
std::vector<double> run(rate_anomaly& anomaly, std::mt19937& rng, double from,
                        double seconds, F rate_per_s) {
  std::vector<double> result;
  for (double t = from; t < from + seconds; t += 1) {
    std::poisson_distribution<uint64_t> events{rate_per_s(t)};
    auto n = rate_per_s(t) > 0 ? events(rng) : 0;
    if (anomaly.add(at_second(t), n))
      result.push_back(anomaly.anomalous() ? t : -t);
  }
  return result;
}

} // namespace

TEST_CASE("a restart rate within its own band raises nothing",
          "[prediction][rate]") {
  // 2 restarts a minute, for 100 simulated hours after learning: 12,000
  // events, each a test at a false alarm chance of 1e-4 (1.2 expected if
  // the tests were independent; overlapping windows make them fewer).
  std::mt19937 rng{42};
  rate_anomaly anomaly;
  auto seen = run(anomaly, rng, 0, 100 * 3600, [](double) { return 2.0 / 60; });
  CHECK(anomaly.learned());
  CHECK(anomaly.baseline_per_minute() == Approx(2).epsilon(0.3));
  CHECK(std::count_if(seen.begin(), seen.end(), [](double t) { return t > 0; })
        <= 3);
}

TEST_CASE("a restart storm leaves the band at once and clears after it",
          "[prediction][rate]") {
  std::mt19937 rng{7};
  rate_anomaly anomaly;
  // Learning at 2 a minute...
  CHECK(run(anomaly, rng, 0, 3600, [](double) { return 2.0 / 60; }).empty());
  auto band = anomaly.band();
  CHECK(band >= 4);
  CHECK(band <= 12);
  // ...then a storm of 1 a second for a minute, then calm again.
  auto seen = run(anomaly, rng, 3600, 900, [](double t) {
    return t < 3660 ? 1.0 : 2.0 / 60;
  });
  REQUIRE(seen.size() >= 2);
  CHECK(seen[0] >= 3600);
  CHECK(seen[0] < 3620); // Raised within 20 s of the storm's start.
  CHECK(seen[1] < 0);
  CHECK(-seen[1] > 3660);
  CHECK(-seen[1] < 3660 + 120); // Cleared once it left the window.
  // The storm did not become the new normal.
  CHECK(anomaly.baseline_per_minute() < 4);
}

TEST_CASE("a new rate that stays becomes the normal in hours",
          "[prediction][rate]") {
  std::mt19937 rng{5};
  rate_anomaly anomaly;
  run(anomaly, rng, 0, 3600, [](double) { return 2.0 / 60; });
  // From 2 to 20 a minute, for good.
  auto seen = run(anomaly, rng, 3600, 12 * 3600,
                  [](double) { return 20.0 / 60; });
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.front() > 0);
  CHECK(seen.front() < 3600 + 60);
  // Cleared for good within 8 hours: the last change clears.
  CHECK(seen.back() < 0);
  CHECK(-seen.back() < 3600 + 8 * 3600);
  CHECK(anomaly.baseline_per_minute() == Approx(20).epsilon(0.25));
}

TEST_CASE("the band of a large baseline is found fast and right",
          "[prediction][rate]") {
  rate_anomaly anomaly{rate_anomaly_params{1min, 1min, 1h, 1e-4, 1e-2, 1}};
  // A million a minute.
  for (int t = 0; t <= 60; ++t)
    anomaly.add(at_second(t), t == 0 ? 0 : 1'000'000 / 60);
  auto band = anomaly.band();
  auto mean = anomaly.expected();
  CHECK(poisson_tail(mean, band + 1) < 1e-4);
  CHECK(poisson_tail(mean, band) >= 1e-4);
}

TEST_CASE("a child that never restarted is not anomalous at its first "
          "restarts",
          "[prediction][rate]") {
  rate_anomaly anomaly{rate_anomaly_params{1min, 10min, 1h, 1e-4, 1e-2, 1}};
  for (int t = 0; t < 3600; ++t)
    CHECK_FALSE(anomaly.add(at_second(t), 0));
  // At the floor of 1 an hour, one restart in a window is within the band;
  // three in one are not.
  CHECK_FALSE(anomaly.add(at_second(3600), 1));
  CHECK_FALSE(anomaly.add(at_second(3601), 1));
  CHECK(anomaly.add(at_second(3602), 1));
  CHECK(anomaly.anomalous());
}

TEST_CASE("no verdict while learning", "[prediction][rate]") {
  rate_anomaly anomaly{rate_anomaly_params{1min, 10min, 1h, 1e-4, 1e-2, 1}};
  for (int t = 0; t < 599; ++t)
    CHECK_FALSE(anomaly.add(at_second(t), t == 300 ? 50 : 0));
  CHECK_FALSE(anomaly.learned());
  CHECK_FALSE(anomaly.anomalous());
}
