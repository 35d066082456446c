#include <chrono>

#include <catch2/catch.hpp>

#include "restart_budget.hpp"

using trellis::detail::restart_budget;
using namespace std::chrono_literals;

TEST_CASE("a restart budget allows exactly intensity restarts per period",
          "[restart_budget]") {
  restart_budget budget{3, std::chrono::seconds(10)};
  restart_budget::time_point t0{};
  SECTION("intensity restarts within the period are fine") {
    CHECK(budget.add_restart(t0));
    CHECK(budget.add_restart(t0 + 1s));
    CHECK(budget.add_restart(t0 + 2s));
    SECTION("one more within the period exceeds it") {
      CHECK_FALSE(budget.add_restart(t0 + 3s));
    }
    SECTION("restarts that left the period no longer count") {
      CHECK(budget.add_restart(t0 + 10s + 1ns));
      CHECK(budget.add_restart(t0 + 11s + 1ns));
      CHECK_FALSE(budget.add_restart(t0 + 11s + 2ns));
    }
    SECTION("a restart exactly one period ago still counts, as in OTP") {
      CHECK_FALSE(budget.add_restart(t0 + 10s));
    }
  }
}

TEST_CASE("a restart budget with intensity zero allows no restart",
          "[restart_budget]") {
  restart_budget budget{0, std::chrono::seconds(1)};
  CHECK_FALSE(budget.add_restart(restart_budget::time_point{}));
}

TEST_CASE("a restart budget reports the restarts left", "[restart_budget]") {
  restart_budget budget{2, std::chrono::seconds(5)};
  restart_budget::time_point t0{};
  CHECK(budget.remaining(t0) == 2);
  budget.add_restart(t0);
  CHECK(budget.remaining(t0 + 1s) == 1);
  CHECK(budget.remaining(t0 + 6s) == 2);
}

TEST_CASE("a restart budget with a huge intensity keeps only one period",
          "[restart_budget]") {
  // 100,000 restarts spread over far more than the period: the budget never
  // runs out, because old restarts keep leaving the window.
  restart_budget budget{100'000'000, std::chrono::milliseconds(1)};
  restart_budget::time_point t{};
  for (int i = 0; i < 100'000; ++i) {
    t += std::chrono::microseconds(100);
    REQUIRE(budget.add_restart(t));
  }
  CHECK(budget.remaining(t) >= 100'000'000 - 11);
}
