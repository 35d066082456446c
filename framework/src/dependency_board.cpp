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
      // Never let this actor die: every incident's timers run here.
      try {
        if (auto b = board.lock())
          b->on_timer(dependency, incident, epoch, self->clock().now());
      } catch (...) {
        // An allocation failed; the next timer tries again.
      }
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

// -- paused_list --------------------------------------------------------------

std::string dependency_board::paused_list::key(const caf::actor_addr& sup,
                                               const std::string& id) {
  return std::to_string(sup.id()) + '/' + id;
}

bool dependency_board::paused_list::add(paused_child x, bool first) {
  auto k = key(x.supervisor, x.id);
  if (index_.count(k) > 0)
    return false;
  auto i = order_.insert(first ? order_.begin() : order_.end(), std::move(x));
  index_.emplace(std::move(k), i);
  return true;
}

void dependency_board::paused_list::remove(const caf::actor_addr& sup,
                                           const std::string& id) {
  if (auto i = index_.find(key(sup, id)); i != index_.end()) {
    order_.erase(i->second);
    index_.erase(i);
  }
}

void dependency_board::paused_list::remove_all(const caf::actor_addr& sup) {
  for (auto i = order_.begin(); i != order_.end();)
    if (i->supervisor == sup) {
      index_.erase(key(i->supervisor, i->id));
      i = order_.erase(i);
    } else {
      ++i;
    }
}

dependency_board::paused_child dependency_board::paused_list::take_first() {
  auto x = std::move(order_.front());
  index_.erase(key(x.supervisor, x.id));
  order_.pop_front();
  return x;
}

// -- dependency_board ---------------------------------------------------------

dependency_board::dependency_board(caf::actor_system& sys)
  : sys_(sys), rng_(std::random_device{}()) {
  // nop
}

dependency_board::dependency_state&
dependency_board::entry(const std::string& name) {
  auto i = deps_.find(name);
  if (i == deps_.end())
    i = deps_.emplace(name, dependency_state{dependency_policy{name}}).first;
  return i->second;
}

dependency_board::dependency_state*
dependency_board::with_incident(uint64_t incident) {
  for (auto& [name, d] : deps_)
    if (d.state != phase::quiet && d.incident == incident)
      return &d;
  return nullptr;
}

void dependency_board::declare(dependency_policy x) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto name = x.name();
  entry(name).policy = std::move(x);
}

bool dependency_board::enough(const dependency_state& d) {
  auto& xs = d.recent;
  if (xs.size() < d.policy.children())
    return false;
  // One child failing alone, however often, is its supervisor's business.
  if (d.policy.children() == 1)
    return true;
  return std::any_of(xs.begin(), xs.end(), [&](auto& x) {
    return x.first != xs.front().first;
  });
}

std::pair<uint64_t, std::string>
dependency_board::child_failed(const std::vector<std::string>& deps,
                               const std::string& path, bool start,
                               time_point now) {
  std::pair<uint64_t, std::string> result{0, {}};
  {
    std::lock_guard<std::mutex> lock{mtx_};
    if (stopped_)
      return result;
    for (auto& name : deps) {
      auto& d = entry(name);
      if (d.state == phase::quiet) {
        // Failures within the window, a crash once per child. At most
        // `children` of them unless one child fails alone; and that one
        // child's failed starts keep only the last `children`.
        auto horizon = now - d.policy.within();
        d.recent.erase(std::remove_if(d.recent.begin(), d.recent.end(),
                                      [&](auto& x) {
                                        return x.second < horizon
                                               || (!start && x.first == path);
                                      }),
                       d.recent.end());
        if (d.recent.size() >= d.policy.children())
          d.recent.erase(d.recent.begin());
        d.recent.emplace_back(path, now);
        if (enough(d))
          open(d, path,
               std::to_string(d.recent.size()) + " failures within "
                 + pretty(d.policy.within()),
               now);
      } else {
        ++d.failures;
        // The dependency still fails: a canary's trial is over.
        if (d.state != phase::waiting)
          wait_again(d, true, now);
      }
      if (d.state != phase::quiet && result.first == 0)
        result = {d.incident, name};
    }
  }
  flush();
  return result;
}

caf::timespan
dependency_board::retry_pause(const std::vector<std::string>& deps) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto result = caf::timespan::max();
  for (auto& name : deps) {
    auto i = deps_.find(name);
    result = std::min(result, i != deps_.end()
                                ? i->second.policy.probe_after()
                                : dependency_policy{name}.probe_after());
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
  {
    std::lock_guard<std::mutex> lock{mtx_};
    auto i = deps_.find(dependency);
    if (stopped_ || i == deps_.end() || i->second.state == phase::quiet
        || i->second.incident != incident)
      return false;
    auto& d = i->second;
    d.paused.add(paused_child{sup.address(), id, path});
    listen(d, listener{feed, {}}, path);
  }
  flush();
  return true;
}

void dependency_board::unpause(uint64_t incident, const caf::actor_addr& sup,
                               const std::string& id) {
  std::lock_guard<std::mutex> lock{mtx_};
  if (auto d = with_incident(incident))
    d->paused.remove(sup, id);
}

bool dependency_board::canary_answered(uint64_t incident, uint64_t epoch,
                                       bool paused, time_point now) {
  bool go = false;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    auto d = stopped_ ? nullptr : with_incident(incident);
    if (d == nullptr || d->state != phase::canary_asked || d->epoch != epoch)
      return false; // A stale request: the child stays paused.
    if (!paused) {
      // Stopped or started otherwise meanwhile: ask the next one.
      ask_canary(*d, now);
    } else {
      // Settling begins once it runs (see `canary_started`).
      d->state = phase::canary_starting;
      go = true;
    }
  }
  flush();
  return go;
}

void dependency_board::canary_started(uint64_t incident, uint64_t epoch) {
  std::lock_guard<std::mutex> lock{mtx_};
  auto d = stopped_ ? nullptr : with_incident(incident);
  if (d == nullptr || d->state != phase::canary_starting || d->epoch != epoch)
    return;
  d->state = phase::settling;
  ++d->epoch;
  arm(*d, d->rules.settle());
}

void dependency_board::forget(const caf::actor_addr& sup) {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    for (auto& [name, d] : deps_) {
      if (d.state == phase::quiet)
        continue;
      d.paused.remove_all(sup);
      if ((d.state == phase::canary_asked || d.state == phase::canary_starting)
          && d.canary.supervisor == sup) {
        d.canary = paused_child{};
        ask_canary(d, sys_.clock().now());
      }
    }
  }
  flush();
}

void dependency_board::report(const std::string& dependency,
                              dependency_status x, const std::string& reporter,
                              const std::string& why, const caf::group& events,
                              time_point now) {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    if (stopped_)
      return;
    if (x != dependency_status::down) {
      // Looked up, not made: a word about a name nobody knows costs nothing.
      auto i = deps_.find(dependency);
      if (i == deps_.end())
        return;
      auto& d = i->second;
      auto said_down = d.down.erase(reporter) > 0;
      if (x == dependency_status::withdrawn && said_down
          && d.state != phase::quiet)
        d.withdrawn.insert(reporter);
      else if (x == dependency_status::up && d.withdrawn.erase(reporter) > 0)
        said_down = true;
      if (!said_down)
        return; // It never said down: nothing it says now can close.
      if (d.state != phase::quiet && d.down.empty()) {
        if (x == dependency_status::up)
          close(d, "reported_up", now);
        else if (d.state == phase::waiting)
          wait_again(d, false, now); // Canaries from now on.
      }
    } else {
      auto& d = entry(dependency);
      d.down[reporter] = why;
      if (events)
        listen(d, listener{nullptr, events}, reporter);
      if (d.state == phase::quiet)
        open(d, reporter,
             "reported down by " + reporter + (why.empty() ? "" : ": " + why),
             now);
      else if (d.state != phase::waiting)
        wait_again(d, false, now);
    }
  }
  flush();
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
  {
    std::lock_guard<std::mutex> lock{mtx_};
    auto i = deps_.find(dependency);
    if (stopped_ || i == deps_.end())
      return;
    auto& d = i->second;
    if (d.incident != incident || d.epoch != epoch)
      return; // Stale: the phase changed since it was armed.
    switch (d.state) {
      case phase::waiting:
        if (d.down.empty())
          ask_canary(d, now);
        break;
      case phase::canary_asked:
        // Its supervisor is busy: it stays paused, last in line, and the
        // next one is asked.
        d.paused.add(std::move(d.canary));
        d.canary = paused_child{};
        ask_canary(d, now);
        break;
      case phase::settling:
        close(d, "canary_ran", now);
        break;
      default:
        break;
    }
  }
  flush();
}

void dependency_board::stop() {
  caf::actor timers;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    stopped_ = true;
    deps_.clear();
    outbox_.clear();
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
  d.probe_due = now + d.wait;
  if (d.down.empty())
    arm(d, d.wait);
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
  size_t i = 0;
  for (auto& x : d.paused.order()) {
    auto slot = (static_cast<double>(i++) + unit(rng_))
                / static_cast<double>(n);
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
  d.listeners.clear();
  d.withdrawn.clear();
  d.canary = paused_child{};
  ++d.epoch;
}

void dependency_board::wait_again(dependency_state& d, bool longer,
                                  time_point now) {
  if (d.state == phase::canary_asked)
    // Not restarted yet: it stays paused, first in line.
    d.paused.add(std::move(d.canary), true);
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
    auto x = d.paused.take_first();
    auto sup = caf::actor_cast<caf::actor>(x.supervisor);
    if (!sup)
      continue;
    d.state = phase::canary_asked;
    ++d.epoch;
    ++d.probes;
    caf::anon_send(sup, dependency_canary_atom::value, d.incident, d.epoch,
                   x.id);
    d.canary = std::move(x);
    // A supervisor busy for longer hands the turn to the next child.
    arm(d, d.rules.settle());
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
  // A reporter in a tree may hand in the very group of that tree's feed.
  auto group_of = [](const listener& y) {
    return y.feed ? y.feed->group().get() : y.group.get();
  };
  auto same = [&](const listener& y) { return group_of(y) == group_of(x); };
  if (group_of(x) == nullptr
      || std::any_of(d.listeners.begin(), d.listeners.end(), same))
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
  std::vector<caf::group> to;
  auto add = [&](const listener& x) {
    if (auto g = x.feed ? listened(x.feed.get()) : x.group)
      to.push_back(std::move(g));
  };
  if (only != nullptr)
    add(*only);
  else
    for (auto& x : d.listeners)
      add(x);
  // Written once per incident; published once per tree.
  auto log = only == nullptr;
  outbox_.emplace_back([this, ev = std::move(ev), to = std::move(to), log] {
    if (log)
      if (auto level = report::level_of(ev.kind); report::wants(level))
        report::event(sys_, ev, level, {});
    for (auto& g : to)
      caf::anon_send(g, ev);
  });
}

void dependency_board::flush() {
  std::vector<std::function<void()>> xs;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    xs.swap(outbox_);
  }
  for (auto& f : xs)
    f();
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
  if (children_ == 0 || children_ > 10'000)
    return "needs 1 to 10,000 failures to open an incident";
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
  switch (x) {
    case dependency_status::down:
      return "down";
    case dependency_status::up:
      return "up";
    case dependency_status::withdrawn:
      break;
  }
  return "withdrawn";
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
