#pragma once

/// @file
/// The resource monitor, a worker that raises alarms on process and
/// mailbox metrics. Part of `trellis::actors`.

#include <chrono>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/timespan.hpp>

#include "trellis/actors/alarm.hpp"
#include "trellis/child_spec.hpp"

namespace trellis {

/// `(caf::get_atom, alarms_atom)` asks a resource monitor for the state of
/// all its thresholds as `std::vector<alarm>`.
using alarms_atom = caf::atom_constant<caf::atom("tr_alarms")>;

/// What a resource monitor samples, how often, and its thresholds.
///
/// ~~~
/// trellis::resource_monitor(
///   "monitor",
///   trellis::resource_monitor_config{}
///     .interval(1s)
///     .add(trellis::threshold("memory", trellis::metric::resident_bytes,
///                             2e9, 1.5e9))
///     .add(trellis::threshold("backlog", trellis::metric::mailbox_depth,
///                             10'000, 100)
///            .target("root/db/writer")
///            .restart_target()))
/// ~~~
class resource_monitor_config {
public:
  /// How often to sample (default 1 s).
  template <class Rep, class Period>
  resource_monitor_config& interval(std::chrono::duration<Rep, Period> x) {
    interval_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns how often the monitor samples.
  caf::timespan interval() const noexcept {
    return interval_;
  }

  /// How long a probe of a watched actor may take (default 1 s).
  template <class Rep, class Period>
  resource_monitor_config& probe_timeout(std::chrono::duration<Rep, Period> x) {
    probe_timeout_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns how long a probe of a watched actor may take.
  caf::timespan probe_timeout() const noexcept {
    return probe_timeout_;
  }

  /// Adds a threshold.
  resource_monitor_config& add(threshold x) {
    thresholds_.emplace_back(std::move(x));
    return *this;
  }

  /// Returns the thresholds, in the order they were added.
  const std::vector<threshold>& thresholds() const noexcept {
    return thresholds_;
  }

  /// Checks the interval, the timeout and every threshold.
  caf::error validate() const;

private:
  caf::timespan interval_ = std::chrono::seconds(1);
  caf::timespan probe_timeout_ = std::chrono::seconds(1);
  std::vector<threshold> thresholds_;
};

/// A worker spec for a resource monitor: an actor that samples the process
/// (CPU, resident memory, threads, open file descriptors, from /proc) and
/// watched actors of its tree (mailbox depth, probe round trip) every
/// interval, and raises and clears alarms with hysteresis.
///
/// Watched actors are found by path through the monitor's supervisor on
/// every sample, so the monitor follows them across restarts. Each is sent
/// a `mailbox_probe_atom` (every actor Trellis spawns answers it, see
/// `install_mailbox_probe`), which waits its turn in the mailbox: its round
/// trip is the actor's queueing delay, and the depth it reports is what
/// queued up behind it meanwhile. Under sustained overload that is the
/// backlog; a one-off burst that stops shows in the round trip only. (CAF
/// 0.17 cannot tell the depth from outside without racing the actor, and
/// its urgent messages do not overtake normal ones under the default
/// scheduler settings.) An invalid config fails the monitor's start with
/// `errc::invalid_spec`.
child_spec resource_monitor(std::string id, resource_monitor_config config);

} // namespace trellis
