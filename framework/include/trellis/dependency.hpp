#pragma once

/// @file
/// `dependency_policy`: storm control for the children that depend on one
/// thing (a database, a remote service), and how its outages are reported.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>
#include <caf/timespan.hpp>

namespace trellis {

/// How a node handles the failures of the children that name one dependency
/// (`child_spec::depends_on`). Once its children failed `children` times
/// within `within` (see `incident_after`), or someone reported it down
/// (`report_dependency`, a circuit breaker with `dependency`), the node
/// opens an *incident*: from then on a failed child that depends on it is
/// not restarted but *paused*, and no supervisor's restart intensity is
/// charged for it. One `incident_opened` event groups the failures; the
/// observer lists the incident and the paused children.
///
/// A dependent child whose restart fails to start is retried after
/// `probe_after`, not at once as OTP would: retries in a row would spend its
/// supervisor's intensity before the others' failures open the incident.
///
/// The incident closes when the dependency is back: every reporter that
/// said it was down says it is up again, or, when nobody says it is down, a
/// *canary* (the oldest paused child, restarted after `probe_after` as its
/// supervisor restarts it) runs for `settle` without a failure of any child
/// that depends on it. A canary that fails too puts the incident back to
/// waiting, for twice as long, up to `max_probe_after`, and the next paused
/// child is the next canary. At the close the paused children restart
/// staggered over `resume_over`, each at a random point of its own slot,
/// in the order they failed; restart limits still apply.
///
/// OTP has no counterpart: each of its supervisors spends its own intensity
/// and a shared outage escalates every supervisor it touches.
class dependency_policy {
public:
  /// The policy of dependency `name`, with the defaults below.
  explicit dependency_policy(std::string name) : name_(std::move(name)) {
    // nop
  }

  /// Returns the dependency's name.
  const std::string& name() const noexcept {
    return name_;
  }

  /// Opens an incident once `children` failures of children that depend on
  /// it came within `within`, from two children at least unless `children`
  /// is 1 (default: 3 within 10 s). A crash counts once per child, a failed
  /// start every time (a child that cannot even start is the clearest
  /// sign); one child failing alone, however often, is its own
  /// supervisor's business.
  template <class Rep, class Period>
  dependency_policy& incident_after(uint32_t children,
                                    std::chrono::duration<Rep, Period> within) {
    children_ = children;
    within_ = std::chrono::duration_cast<caf::timespan>(within);
    return *this;
  }

  /// Returns how many failures open an incident.
  uint32_t children() const noexcept {
    return children_;
  }

  /// Returns the window in which they must fail.
  caf::timespan within() const noexcept {
    return within_;
  }

  /// Waits `first` after an incident opens before a canary restarts, and
  /// twice as long after each canary that failed, up to `max` (default:
  /// 1 s, up to 30 s).
  template <class Rep1, class Period1, class Rep2, class Period2>
  dependency_policy& probe_after(std::chrono::duration<Rep1, Period1> first,
                                 std::chrono::duration<Rep2, Period2> max) {
    probe_after_ = std::chrono::duration_cast<caf::timespan>(first);
    max_probe_after_ = std::chrono::duration_cast<caf::timespan>(max);
    return *this;
  }

  /// Returns the wait before the first canary.
  caf::timespan probe_after() const noexcept {
    return probe_after_;
  }

  /// Returns the longest wait between canaries.
  caf::timespan max_probe_after() const noexcept {
    return max_probe_after_;
  }

  /// How long a canary must run with no failure of a child that depends on
  /// the dependency for the incident to close (default 2 s).
  template <class Rep, class Period>
  dependency_policy& settle(std::chrono::duration<Rep, Period> x) {
    settle_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns how long a canary must run.
  caf::timespan settle() const noexcept {
    return settle_;
  }

  /// Spreads the paused children's restarts over `x` once the incident
  /// closes (default 1 s; zero restarts them all at once).
  template <class Rep, class Period>
  dependency_policy& resume_over(std::chrono::duration<Rep, Period> x) {
    resume_over_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns the time over which paused children restart.
  caf::timespan resume_over() const noexcept {
    return resume_over_;
  }

  /// Returns what is wrong with the policy, or null: an empty name, no
  /// children or more than 10,000, a window, a settle time or probe waits that are not positive
  /// (or past a day), a first probe wait past the longest, or a negative
  /// spread (or past an hour).
  const char* problem() const noexcept;

private:
  std::string name_;
  uint32_t children_ = 3;
  caf::timespan within_ = std::chrono::seconds(10);
  caf::timespan probe_after_ = std::chrono::seconds(1);
  caf::timespan max_probe_after_ = std::chrono::seconds(30);
  caf::timespan settle_ = std::chrono::seconds(2);
  caf::timespan resume_over_ = std::chrono::seconds(1);
};

/// Sets the policy of dependency `x.name()` on this node; a dependency that
/// nobody declared has the defaults. Applies to the next incident, not to
/// one that is open. Returns `errc::invalid_spec` for an invalid policy or a
/// system whose config `trellis::configure` did not see.
caf::error declare_dependency(caf::actor_system& sys, dependency_policy x);

/// What a reporter says of a dependency.
enum class dependency_status : uint8_t {
  /// It is down: an incident opens (or stays open) until the reporter says
  /// `up`, whatever the canaries show.
  down,
  /// It is back. The incident closes once no reporter says it is down. A
  /// reporter that said nothing before is ignored.
  up,
  /// The reporter no longer knows: it takes back its `down` without saying
  /// `up`, and an open incident falls back to canaries (a circuit breaker
  /// that turns half open, or stops, says this: its trial call needs a
  /// caller, and the paused children are its callers).
  withdrawn,
};

/// Returns the enumerator's name.
std::string to_string(dependency_status x);

/// Tells the node that dependency `name` is down or up, as `reporter` (a
/// path or any name, such as `root/db_breaker`) sees it, because of `why`;
/// the incident's events go to `events` too (a tree's event group), besides
/// the trees whose children it pauses. For a connection pool, a health probe of the database, or anything else
/// that knows before the children fail; a circuit breaker with
/// `circuit_breaker_config::dependency` reports through it. Returns
/// `errc::invalid_spec` for an empty name or reporter, or a system that
/// `trellis::configure` did not see.
caf::error report_dependency(caf::actor_system& sys, const std::string& name,
                             dependency_status x, const std::string& reporter,
                             const std::string& why = {},
                             const caf::group& events = {});

} // namespace trellis
