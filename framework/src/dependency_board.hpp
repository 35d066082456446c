#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>

#include "trellis/dependency.hpp"
#include "trellis/detail/event_feed.hpp"
#include "trellis/incident.hpp"
#include "trellis/lifecycle_event.hpp"

namespace trellis::detail {

/// `(dependency_canary_atom, incident, epoch, child id)`: restart the paused
/// child now as the incident's canary (see `canary_answered`).
using dependency_canary_atom = caf::atom_constant<caf::atom("tr_canary")>;

/// `(dependency_resume_atom, incident, child id, delay)`: the incident
/// closed; restart the paused child after `delay`.
using dependency_resume_atom = caf::atom_constant<caf::atom("tr_dresume")>;

/// The node's dependencies and their incidents (see `dependency_policy`):
/// shared by every supervisor of an actor system, which asks it while it
/// decides about an exit, so it locks rather than runs as an actor (an
/// answer by message would come after the storm it is meant to stop). Its
/// timers, canaries and settle times, run on a hidden actor of its own.
class dependency_board : public std::enable_shared_from_this<dependency_board> {
public:
  using time_point = caf::actor_clock::time_point;

  explicit dependency_board(caf::actor_system& sys);

  /// Sets the policy of `x.name()` for its next incident.
  void declare(dependency_policy x);

  /// A child at `path` that depends on `deps` failed at `now` (its start,
  /// if `start`); counts it. A crash counts once per child within the
  /// window, a failed start every time: a child that cannot even start is
  /// the clearest sign, and OTP retries a failed start at once, so that one
  /// child alone could spend its supervisor's intensity before a second
  /// child's crash arrives. Returns the open incident of one of them (the
  /// first) and its dependency, or `{0, ""}`.
  std::pair<uint64_t, std::string>
  child_failed(const std::vector<std::string>& deps, const std::string& path,
               bool start, time_point now);

  /// Returns how long a child that depends on `deps` waits before its
  /// failed restart is retried: the shortest first canary wait among them.
  caf::timespan retry_pause(const std::vector<std::string>& deps);

  /// Returns an open incident of one of `deps` (the first), or `{0, ""}`.
  std::pair<uint64_t, std::string>
  open_incident(const std::vector<std::string>& deps);

  /// Pauses child `id` at `path` of supervisor `sup`, whose tree publishes
  /// on `feed`, until `incident` of `dependency` closes. Returns false if
  /// that incident closed meanwhile: restart it after all.
  bool pause(const std::string& dependency, uint64_t incident,
             const caf::actor& sup, const std::string& id,
             const std::string& path, const std::shared_ptr<event_feed>& feed);

  /// Child `id` of `sup` paused for `incident` will not restart on its
  /// close (it was stopped, removed or started otherwise).
  void unpause(uint64_t incident, const caf::actor_addr& sup,
               const std::string& id);

  /// The supervisor asked for a canary by `(dependency_canary_atom,
  /// incident, epoch, id)` answers whether the child is still `paused`.
  /// Returns whether to restart it now as the canary: false for a stale
  /// request (the child stays paused) or a child no longer paused (the
  /// board asks for another).
  bool canary_answered(uint64_t incident, uint64_t epoch, bool paused,
                       time_point now);

  /// The canary of `incident` asked with `epoch` runs: it must now run for
  /// the policy's `settle` with no failure of a dependent.
  void canary_started(uint64_t incident, uint64_t epoch);

  /// Supervisor `sup` exits: its paused children go with it.
  void forget(const caf::actor_addr& sup);

  /// A reporter says `dependency` is down or up (see `report_dependency`).
  void report(const std::string& dependency, dependency_status x,
              const std::string& reporter, const std::string& why,
              const caf::group& events, time_point now);

  /// Returns the dependency of open incident `incident`, or an empty name.
  std::string dependency_of(uint64_t incident);

  /// Returns the open incidents, oldest first.
  std::vector<incident_info> incidents(time_point now);

  /// A timer of `incident` of `dependency` is due (on the board's actor).
  void on_timer(const std::string& dependency, uint64_t incident,
                uint64_t epoch, time_point now);

  /// Drops every incident and stops the timers: the system goes.
  void stop();

private:
  /// Where an incident's events go: a tree's feed, or a reporter's group.
  struct listener {
    std::shared_ptr<event_feed> feed;
    caf::group group;
  };

  struct paused_child {
    caf::actor_addr supervisor;
    std::string id;
    std::string path;
  };

  /// Paused children in the order they failed, found by supervisor and id
  /// in O(1): a dynamic supervisor may pause 100,000 of them.
  class paused_list {
  public:
    using iterator = std::list<paused_child>::iterator;

    bool add(paused_child x, bool first = false);
    void remove(const caf::actor_addr& sup, const std::string& id);
    void remove_all(const caf::actor_addr& sup);
    /// Removes and returns the first one.
    paused_child take_first();
    bool empty() const noexcept {
      return order_.empty();
    }
    size_t size() const noexcept {
      return order_.size();
    }
    const std::list<paused_child>& order() const noexcept {
      return order_;
    }
    void clear() {
      order_.clear();
      index_.clear();
    }

  private:
    static std::string key(const caf::actor_addr& sup, const std::string& id);

    std::list<paused_child> order_;
    std::unordered_map<std::string, iterator> index_;
  };

  enum class phase : uint8_t {
    /// No incident.
    quiet,
    /// Paused children wait for a reporter or the next canary.
    waiting,
    /// A canary was asked for and its supervisor has not answered yet; if
    /// it does not within `settle`, the next paused child is asked.
    canary_asked,
    /// The canary is starting.
    canary_starting,
    /// A canary runs; the incident closes if it runs for `settle`.
    settling,
  };

  struct dependency_state {
    explicit dependency_state(dependency_policy x) : policy(std::move(x)) {
      // nop
    }

    dependency_policy policy;
    /// Failures lately (a crash once per child), at most
    /// `policy.children()`.
    std::vector<std::pair<std::string, time_point>> recent;
    /// Reporters that say it is down, with why.
    std::map<std::string, std::string> down;
    /// Reporters that took their `down` back during the open incident: their
    /// `up` still closes it.
    std::set<std::string> withdrawn;
    // -- the open incident -----------------------------------------------------
    phase state = phase::quiet;
    uint64_t incident = 0;
    /// The policy the incident runs under, fixed when it opened.
    dependency_policy rules{std::string{}};
    std::string opened_by;
    std::string cause;
    caf::timestamp opened_at;
    time_point opened_steady;
    uint64_t failures = 0;
    uint64_t probes = 0;
    paused_list paused;
    paused_child canary;
    std::vector<listener> listeners;
    /// The wait before the next canary, and when it is due.
    caf::timespan wait{0};
    time_point probe_due;
    /// Bumped on every change of phase: an older timer is stale.
    uint64_t epoch = 0;
  };

  dependency_state& entry(const std::string& name);

  void open(dependency_state& d, std::string opened_by, std::string cause,
            time_point now);

  void close(dependency_state& d, const char* outcome, time_point now);

  /// Back to waiting, after `wait` (doubled if `longer`).
  void wait_again(dependency_state& d, bool longer, time_point now);

  /// Asks the oldest paused child's supervisor for a canary, or closes the
  /// incident if none is paused.
  void ask_canary(dependency_state& d, time_point now);

  void arm(dependency_state& d, caf::timespan after);

  /// Adds a listener, and tells it of the open incident (about `path`) if
  /// it is new.
  void listen(dependency_state& d, listener x, const std::string& path);

  /// Whether the failures lately come from enough children to open an
  /// incident.
  static bool enough(const dependency_state& d);

  /// Returns the dependency whose open incident is `incident`, or null.
  dependency_state* with_incident(uint64_t incident);

  /// Queues telling of an event; `flush` tells after the lock is released,
  /// so that no log sink runs under it.
  void tell(const dependency_state& d, lifecycle_kind kind,
            const std::string& path, std::string detail,
            const listener* only = nullptr);

  /// Runs what the locked section queued; call with the lock released.
  void flush();

  /// Returns the board's actor, spawned on first use.
  caf::actor timers();

  caf::actor_system& sys_;
  std::mutex mtx_;
  /// What to tell once the lock is released.
  std::vector<std::function<void()>> outbox_;
  bool stopped_ = false;
  /// The last incident's number; 32 bits, so that a child keeps its pause
  /// in what would be padding (and 0 means none).
  uint32_t next_incident_ = 0;
  std::map<std::string, dependency_state> deps_;
  caf::actor timers_;
  std::minstd_rand rng_;
};

} // namespace trellis::detail
