#include "dependency_board.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "report.hpp"
#include "system_guard.hpp"
#include "tell.hpp"
#include "trellis/errc.hpp"

namespace trellis::detail {

namespace {

using timer_atom = caf::atom_constant<caf::atom("tr_dtimer")>;

caf::behavior board_timers(caf::event_based_actor* self,
                           std::weak_ptr<dependency_board> board) {
  return {
    [self, board](timer_atom, const std::string& dependency,
                  uint64_t incident, uint64_t epoch) {
      if (auto b = board.lock())
        b->on_timer(dependency, incident, epoch, self->clock().now());
    },
  };
}

long long millis(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

std::string pretty(caf::timespan x) {
  auto ms = millis(x);
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s"
                        : std::to_string(ms) + "ms";
}

} // namespace

dependency_board::dependency_board(caf::actor_system& sys)
  : sys_(sys), rng_(std::random_device{}()) {
  // nop
}

dependency_board::dependency_state& dependency_board::entry(const std::string& name) {
  auto i = deps_.find(name);
  if (i == deps_.end())
    i = deps_.emplace(name, dependency_state{dependency_policy{name}}).first;
  return i->second;
}

void dependency_board::declare(dependency_policy x) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto name = x.name();
  entry(name).policy = std::move(x);
}

std::pair<uint64_t, std::string>
dependency_board::child_failed(const std::vector<std::string>& deps,
                               const std::string& path, bool start,
                               time_point now) {
  std::lock_guard<std::mutex> lock{mtx_};
  std::pair<uint64_t, std::string> result{0, {}};
  if (stopped_)
    return result;
  for (auto& name : deps) {
    auto& d = entry(name);
    if (d.state == phase::quiet) {
      // Failures within the window, a crash once per child; at most
      // `children` of them, since the last one opens the incident and starts
      // the count over.
      auto horizon = now - d.policy.within();
      d.recent.erase(std::remove_if(d.recent.begin(), d.recent.end(),
                                    [&](auto& x) {
                                      return x.second < horizon
                                             || (!start && x.first == path);
                                    }),
                     d.recent.end());
      d.recent.emplace_back(path, now);
      if (d.recent.size() >= d.policy.children())
        open(d, path,
             std::to_string(d.recent.size()) + " failures within "
               + pretty(d.policy.within()),
             now);
    } else {
      ++d.failures;
      // The dependency still fails: a canary's trial is over.
      if (d.state == phase::canary_asked || d.state == phase::settling)
        wait_again(d, true, now);
    }
    if (d.state != phase::quiet && result.first == 0)
      result = {d.incident, name};
  }
  return result;
}

std::pair<uint64_t, std::string>
dependency_board::open_incident(const std::vector<std::string>& deps) {
  std::lock_guard<std::mutex> lock{mtx_};
  for (auto& name : deps)
    if (auto i = deps_.find(name);
        i != deps_.end() && i->second.state != phase::quiet)
      return {i->second.incident, name};
  return {0, {}};
}

bool dependency_board::pause(const std::string& dependency, uint64_t incident,
                             const caf::actor& sup, const std::string& id,
                             const std::string& path,
                             const std::shared_ptr<event_feed>& feed) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto i = deps_.find(dependency);
  if (stopped_ || i == deps_.end() || i->second.state == phase::quiet
      || i->second.incident != incident)
    return false;
  auto& d = i->second;
  auto addr = sup.address();
  auto same = [&](const paused_child& x) {
    return x.supervisor == addr && x.id == id;
  };
  if (std::none_of(d.paused.begin(), d.paused.end(), same))
    d.paused.push_back(paused_child{addr, id, path});
  listen(d, listener{feed, {}}, path);
  return true;
}

dependency_board::dependency_state*
dependency_board::with_incident(uint64_t incident) {
  for (auto& [name, d] : deps_)
    if (d.state != phase::quiet && d.incident == incident)
      return &d;
  return nullptr;
}

void dependency_board::unpause(uint64_t incident, const caf::actor_addr& sup,
                               const std::string& id) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto d = with_incident(incident);
  if (d == nullptr)
    return;
  auto& paused = d->paused;
  paused.erase(std::remove_if(paused.begin(), paused.end(),
                              [&](const paused_child& x) {
                                return x.supervisor == sup && x.id == id;
                              }),
               paused.end());
}

bool dependency_board::canary_answered(uint64_t incident, uint64_t epoch,
                                       bool paused, time_point now) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto d = stopped_ ? nullptr : with_incident(incident);
  if (d == nullptr || d->state != phase::canary_asked || d->epoch != epoch)
    return false; // A stale request: the child stays paused.
  if (!paused) {
    // Stopped or started otherwise meanwhile: ask the next one.
    ask_canary(*d, now);
    return false;
  }
  d->state = phase::settling;
  ++d->epoch;
  arm(*d, d->rules.settle());
  return true;
}

void dependency_board::forget(const caf::actor_addr& sup) {
  std::lock_guard<std::mutex> lock{mtx_};
  for (auto& [name, d] : deps_) {
    if (d.state == phase::quiet)
      continue;
    d.paused.erase(std::remove_if(d.paused.begin(), d.paused.end(),
                                  [&](const paused_child& x) {
                                    return x.supervisor == sup;
                                  }),
                   d.paused.end());
    if (d.state == phase::canary_asked && d.canary.supervisor == sup)
      ask_canary(d, sys_.clock().now());
  }
}

void dependency_board::report(const std::string& dependency,
                              dependency_status x, const std::string& reporter,
                              const std::string& why, const caf::group& events,
                              time_point now) {
  std::lock_guard<std::mutex> lock{mtx_};
  if (stopped_)
    return;
  auto& d = entry(dependency);
  if (x == dependency_status::down) {
    d.down[reporter] = why;
    if (events)
      listen(d, listener{nullptr, events}, reporter);
    if (d.state == phase::quiet)
      open(d, reporter,
           "reported down by " + reporter + (why.empty() ? "" : ": " + why),
           now);
    else if (d.state != phase::waiting)
      wait_again(d, false, now);
    return;
  }
  if (d.down.erase(reporter) == 0)
    return; // It never said down: nothing it says up can close.
  if (d.state != phase::quiet && d.down.empty())
    close(d, "reported_up", now);
}

std::string dependency_board::dependency_of(uint64_t incident) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto d = with_incident(incident);
  return d != nullptr ? d->policy.name() : std::string{};
}

std::vector<incident_info> dependency_board::incidents(time_point now) {
  std::lock_guard<std::mutex> lock{mtx_};
  std::vector<incident_info> result;
  for (auto& [name, d] : deps_) {
    if (d.state == phase::quiet)
      continue;
    incident_info x;
    x.id = d.incident;
    x.dependency = name;
    x.state = d.state == phase::waiting ? "waiting" : "probing";
    x.cause = d.cause;
    x.opened_at = d.opened_at;
    x.failures = d.failures;
    x.paused = d.paused.size();
    x.probes = d.probes;
    for (auto& [who, why] : d.down) {
      if (!x.reported_down_by.empty())
        x.reported_down_by += ", ";
      x.reported_down_by += who;
    }
    if (d.state == phase::waiting && d.down.empty())
      x.next_probe_in = std::max(caf::timespan{0}, d.probe_due - now);
    result.push_back(std::move(x));
  }
  std::sort(result.begin(), result.end(),
            [](auto& x, auto& y) { return x.id < y.id; });
  return result;
}

void dependency_board::on_timer(const std::string& dependency,
                                uint64_t incident, uint64_t epoch,
                                time_point now) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto i = deps_.find(dependency);
  if (stopped_ || i == deps_.end())
    return;
  auto& d = i->second;
  if (d.incident != incident || d.epoch != epoch)
    return; // Stale: the phase changed since it was armed.
  if (d.state == phase::waiting && d.down.empty())
    ask_canary(d, now);
  else if (d.state == phase::settling)
    close(d, "canary_ran", now);
}

void dependency_board::stop() {
  caf::actor timers;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    stopped_ = true;
    deps_.clear();
    timers = std::move(timers_);
  }
  if (timers)
    caf::anon_send_exit(timers, caf::exit_reason::user_shutdown);
}

void dependency_board::open(dependency_state& d, std::string opened_by,
                            std::string cause, time_point now) {
  if (++next_incident_ == 0)
    ++next_incident_;
  d.incident = next_incident_;
  d.rules = d.policy;
  d.state = phase::waiting;
  d.opened_by = std::move(opened_by);
  d.cause = std::move(cause);
  d.opened_at = caf::make_timestamp();
  d.opened_steady = now;
  d.failures = d.recent.size();
  d.recent.clear();
  d.probes = 0;
  d.paused.clear();
  d.wait = d.rules.probe_after();
  ++d.epoch;
  if (d.down.empty())
    arm(d, d.wait);
  d.probe_due = now + d.wait;
  tell(d, lifecycle_kind::incident_opened, d.opened_by,
       "incident=" + std::to_string(d.incident) + " cause=\"" + d.cause
         + "\"");
}

void dependency_board::close(dependency_state& d, const char* outcome,
                             time_point now) {
  // The children restart in the order they failed, each at a random point
  // of its own slot of `resume_over`: spread out, yet none waits longer
  // than the spread.
  auto n = d.paused.size();
  auto spread = d.rules.resume_over();
  std::uniform_real_distribution<double> unit{0.0, 1.0};
  for (size_t i = 0; i < n; ++i) {
    auto& x = d.paused[i];
    auto slot = (static_cast<double>(i) + unit(rng_)) / static_cast<double>(n);
    auto delay = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double, std::nano>(
        slot * static_cast<double>(spread.count())));
    if (auto sup = caf::actor_cast<caf::actor>(x.supervisor))
      caf::anon_send(sup, dependency_resume_atom::value, d.incident, x.id,
                     delay);
  }
  tell(d, lifecycle_kind::incident_closed, d.opened_by,
       "incident=" + std::to_string(d.incident) + " outcome=" + outcome
         + " failures=" + std::to_string(d.failures)
         + " paused=" + std::to_string(n)
         + " duration_ms=" + std::to_string(millis(now - d.opened_steady))
         + " resume_over_ms=" + std::to_string(millis(spread)));
  d.state = phase::quiet;
  d.paused.clear();
  d.paused.shrink_to_fit();
  d.listeners.clear();
  d.canary = paused_child{};
  ++d.epoch;
}

void dependency_board::wait_again(dependency_state& d, bool longer, time_point now) {
  if (d.state == phase::canary_asked)
    // Not restarted yet: it stays paused, first in line.
    d.paused.insert(d.paused.begin(), std::move(d.canary));
  d.canary = paused_child{};
  d.state = phase::waiting;
  if (longer)
    d.wait = std::min(d.wait * 2, d.rules.max_probe_after());
  ++d.epoch;
  d.probe_due = now + d.wait;
  if (d.down.empty())
    arm(d, d.wait);
}

void dependency_board::ask_canary(dependency_state& d, time_point now) {
  while (!d.paused.empty()) {
    auto x = std::move(d.paused.front());
    d.paused.erase(d.paused.begin());
    auto sup = caf::actor_cast<caf::actor>(x.supervisor);
    if (!sup)
      continue;
    d.state = phase::canary_asked;
    ++d.epoch;
    ++d.probes;
    caf::anon_send(sup, dependency_canary_atom::value, d.incident, d.epoch,
                   x.id);
    d.canary = std::move(x);
    return;
  }
  close(d, "nothing_paused", now);
}

void dependency_board::arm(dependency_state& d, caf::timespan after) {
  if (auto t = timers())
    caf::delayed_anon_send(t, after, timer_atom::value, d.policy.name(),
                           d.incident, d.epoch);
}

void dependency_board::listen(dependency_state& d, listener x,
                              const std::string& path) {
  auto same = [&](const listener& y) {
    return x.feed ? y.feed == x.feed : y.group.get() == x.group.get();
  };
  if (std::any_of(d.listeners.begin(), d.listeners.end(), same))
    return;
  d.listeners.push_back(std::move(x));
  if (d.state != phase::quiet)
    tell(d, lifecycle_kind::incident_opened, path,
         "incident=" + std::to_string(d.incident) + " cause=\"" + d.cause
           + "\"",
         &d.listeners.back());
}

void dependency_board::tell(const dependency_state& d, lifecycle_kind kind,
                            const std::string& path, std::string detail,
                            const listener* only) {
  auto ev = lifecycle_event::about(kind, path, d.policy.name())
              .with_detail(std::move(detail));
  // Written once per incident; published once per tree.
  if (only == nullptr)
    if (auto level = report::level_of(kind); report::wants(level))
      report::event(sys_, ev, level, {});
  auto publish = [&](const listener& x) {
    auto to = x.feed ? listened(x.feed.get()) : x.group;
    if (to)
      caf::anon_send(to, ev);
  };
  if (only != nullptr)
    publish(*only);
  else
    for (auto& x : d.listeners)
      publish(x);
}

caf::actor dependency_board::timers() {
  if (!timers_ && !stopped_)
    timers_ = sys_.spawn<caf::hidden>(board_timers, weak_from_this());
  return timers_;
}

} // namespace trellis::detail

namespace trellis {

const char* dependency_policy::problem() const noexcept {
  using std::chrono::hours;
  auto positive_within = [](caf::timespan x, caf::timespan max) {
    return x > caf::timespan{0} && x <= max;
  };
  if (name_.empty())
    return "has no name";
  if (children_ == 0)
    return "needs at least 1 child to open an incident";
  if (!positive_within(within_, hours(24)))
    return "needs a window (within) above zero and at most a day";
  if (!positive_within(probe_after_, hours(24))
      || !positive_within(max_probe_after_, hours(24)))
    return "needs probe waits above zero and at most a day";
  if (probe_after_ > max_probe_after_)
    return "waits longer for its first canary than its longest wait";
  if (!positive_within(settle_, hours(24)))
    return "needs a settle time above zero and at most a day";
  if (resume_over_ < caf::timespan{0} || resume_over_ > hours(1))
    return "needs a resume spread of zero up to an hour";
  return nullptr;
}

std::string to_string(dependency_status x) {
  return x == dependency_status::down ? "down" : "up";
}

caf::error declare_dependency(caf::actor_system& sys, dependency_policy x) {
  if (auto what = x.problem())
    return make_error(errc::invalid_spec, "dependency_policy",
                      "dependency '" + x.name() + "' " + what);
  auto guard = detail::system_guard::of(sys);
  if (!guard)
    return make_error(errc::invalid_spec, "dependency_policy",
                      "the actor system's config was not given to "
                      "trellis::configure");
  guard->dependencies()->declare(std::move(x));
  return caf::none;
}

caf::error report_dependency(caf::actor_system& sys, const std::string& name,
                             dependency_status x, const std::string& reporter,
                             const std::string& why, const caf::group& events) {
  if (name.empty() || reporter.empty())
    return make_error(errc::invalid_spec, "report_dependency",
                      "a report needs a dependency and a reporter");
  auto guard = detail::system_guard::of(sys);
  if (!guard)
    return make_error(errc::invalid_spec, "report_dependency",
                      "the actor system's config was not given to "
                      "trellis::configure");
  guard->dependencies()->report(name, x, reporter, why, events,
                                sys.clock().now());
  return caf::none;
}

std::vector<incident_info> open_incidents(const caf::actor_system& sys) {
  auto guard = detail::system_guard::of(sys);
  if (!guard)
    return {};
  auto& mut = const_cast<caf::actor_system&>(sys);
  return guard->dependencies()->incidents(mut.clock().now());
}

} // namespace trellis
