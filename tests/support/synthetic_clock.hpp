#pragma once

// Readings of a clock of the tests' own, for the models that take the time
// as an argument (trend_forecast, rate_anomaly, phi_accrual).

#include <chrono>

#include <caf/actor_clock.hpp>

namespace trellis::test {

/// The clock's reading `s` seconds after its epoch.
inline caf::actor_clock::time_point at_second(double s) {
  return caf::actor_clock::time_point{}
         + std::chrono::duration_cast<caf::timespan>(
           std::chrono::duration<double>(s));
}

/// The clock's reading `ms` milliseconds after its epoch.
inline caf::actor_clock::time_point at_ms(double ms) {
  return at_second(ms / 1000);
}

} // namespace trellis::test
