#include "trellis/actors/resource_monitor.hpp"

#include <chrono>
#include <memory>
#include <map>
#include <set>

#include <caf/all.hpp>

#include "trellis/atoms.hpp"
#include "trellis/errc.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/log.hpp"
#include "trellis/actors/process_stats.hpp"
#include "tree_seat.hpp"

namespace trellis {

namespace {

using tick_atom = caf::atom_constant<caf::atom("tr_rmtick")>;

struct monitor_state {
  resource_monitor_config config;
  std::vector<alarm> alarms; // One per threshold, same order.
  process_sampler sampler;
  detail::tree_seat seat;
  /// Targets with a probe on its way: one at a time, so that probes do not
  /// pile up in a backlogged mailbox.
  std::set<std::string> probing;
  /// The last problem logged per target, to log each change once.
  std::map<std::string, std::string> problems;
  static inline const char* name = "trellis.resource_monitor";
};

using monitor_actor = caf::stateful_actor<monitor_state>;

void report(monitor_actor* self, const alarm& x, const threshold& t) {
  auto& seat = self->state.seat;
  seat.tell(self->system(),
            x.active ? alarm_set : alarm_cleared,
            x.active ? log_level::warn : log_level::info,
            x.target.empty() ? seat.path : x.target, x.name, describe(x));
  if (t.on_change())
    t.on_change()(x);
}

/// Asks the target's supervisor to replace it now. An exit message would
/// wait behind the very backlog that raised the alarm.
void restart(monitor_actor* self, const alarm& x, const caf::actor& target) {
  auto parent = x.target.substr(0, x.target.rfind('/'));
  auto reason = make_error(errc::unhealthy, x.target,
                           "alarm " + x.name + ": " + describe(x));
  auto timeout = self->state.config.probe_timeout();
  self
    ->request(self->state.seat.supervisor, timeout, lookup_atom::value, parent)
    .then(
      [=](caf::actor& sup) {
        self->request(sup, timeout, unhealthy_atom::value, target, reason)
          .then([](caf::ok_atom) {},
                [](caf::error&) {
                  // Gone or replaced meanwhile: nothing left to restart.
                });
      },
      [](caf::error&) {});
}

/// Logs a problem with `target` when it differs from the last one; an empty
/// `what` means the target is fine again.
void note_problem(monitor_actor* self, const std::string& target,
                  const std::string& what) {
  auto& last = self->state.problems[target];
  if (last == what)
    return;
  last = what;
  if (!what.empty())
    detail::report::monitor_problem(self->state.seat.path, target, what);
}

/// Applies a new value to threshold `i`; `target` is the watched actor.
void update(monitor_actor* self, size_t i, double value,
            const caf::actor& target = {}) {
  auto& x = self->state.alarms[i];
  auto& t = self->state.config.thresholds()[i];
  x.value = value;
  if (!x.active && value >= x.raise_at) {
    x.active = true;
    report(self, x, t);
    if (t.restarts_target() && target)
      restart(self, x, target);
  } else if (x.active && value <= x.clear_at) {
    x.active = false;
    report(self, x, t);
  }
}

/// Applies `value` to every threshold on metric `what` of `target`.
void update_all(monitor_actor* self, metric what, const std::string& target,
                double value, const caf::actor& hdl = {}) {
  for (size_t i = 0; i < self->state.alarms.size(); ++i)
    if (self->state.alarms[i].what == what
        && self->state.alarms[i].target == target)
      update(self, i, value, hdl);
}

void probe(monitor_actor* self, const std::string& target,
           const caf::actor& hdl) {
  // The probe waits its turn: its round trip is the queueing delay, and the
  // depth it reports is what queued up behind it meanwhile.
  auto sent = std::chrono::steady_clock::now();
  auto rtt = [=] {
    auto ms = std::chrono::duration<double, std::milli>(
      std::chrono::steady_clock::now() - sent);
    update_all(self, metric::probe_rtt_ms, target, ms.count(), hdl);
  };
  if (!self->state.probing.insert(target).second)
    return;
  self->request(hdl, self->state.config.probe_timeout(),
                mailbox_probe_atom::value)
    .then(
      [=](uint64_t depth) {
        self->state.probing.erase(target);
        note_problem(self, target, "");
        rtt();
        update_all(self, metric::mailbox_depth, target,
                   static_cast<double>(depth), hdl);
      },
      [=](caf::error& err) {
        self->state.probing.erase(target);
        if (err == caf::sec::request_timeout)
          rtt();
        else if (err != caf::sec::request_receiver_down)
          note_problem(self, target,
                       "probe failed: " + self->system().render(err));
      });
}

void sample(monitor_actor* self) {
  if (auto stats = self->state.sampler.sample()) {
    update_all(self, metric::cpu_percent, "", stats->cpu_percent);
    update_all(self, metric::resident_bytes, "",
               static_cast<double>(stats->resident_bytes));
    update_all(self, metric::threads, "", static_cast<double>(stats->threads));
    update_all(self, metric::open_fds, "", static_cast<double>(stats->open_fds));
  } else {
    detail::report::monitor_failed(self->system(), self->state.seat.path,
                                   stats.error());
  }
  std::set<std::string> targets;
  for (auto& x : self->state.alarms)
    if (!x.target.empty())
      targets.insert(x.target);
  for (auto& target : targets)
    self
      ->request(self->state.seat.supervisor, self->state.config.probe_timeout(),
                lookup_atom::value, target)
      .then([=](caf::actor& hdl) { probe(self, target, hdl); },
            [=](caf::error& err) {
              // Restarting: nothing to measure until it is back. Anything
              // else (an unknown path, a stopped child) is worth a line.
              if (!is(err, errc::restarting))
                note_problem(self, target,
                             "lookup failed: " + self->system().render(err));
            });
}

caf::behavior monitor(monitor_actor* self, resource_monitor_config config,
                      detail::tree_seat seat) {
  auto& st = self->state;
  st.config = std::move(config);
  st.seat = std::move(seat);
  for (auto& t : st.config.thresholds())
    st.alarms.push_back(alarm{t.name(), t.what(), t.target(), 0, t.raise_at(),
                              t.clear_at(), false});
  // The first sample after one interval, so that the first CPU rate spans
  // a whole interval.
  self->delayed_send(self, st.config.interval(), tick_atom::value);
  return {
    [self](tick_atom) {
      sample(self);
      self->delayed_send(self, self->state.config.interval(),
                         tick_atom::value);
    },
    [self](caf::get_atom, alarms_atom) { return self->state.alarms; },
  };
}

} // namespace

caf::error resource_monitor_config::validate() const {
  if (interval_ <= caf::timespan{0})
    return make_error(errc::invalid_spec, "interval",
                      "a resource monitor needs a positive interval");
  if (probe_timeout_ <= caf::timespan{0})
    return make_error(errc::invalid_spec, "probe_timeout",
                      "a resource monitor needs a positive probe timeout");
  for (auto& t : thresholds_) {
    if (auto err = t.validate())
      return err;
    // A probe that times out counts as the timeout: a higher level could
    // never be reached.
    auto timeout_ms = std::chrono::duration<double, std::milli>(probe_timeout_);
    if (t.what() == metric::probe_rtt_ms && t.raise_at() > timeout_ms.count())
      return make_error(errc::invalid_spec, "threshold",
                        "'" + t.name()
                          + "' raises above the probe timeout, which caps "
                            "probe_rtt_ms");
  }
  return caf::none;
}

child_spec resource_monitor(std::string id, resource_monitor_config config) {
  return worker(std::move(id),
                [config](child_context& ctx) -> start_result {
                  if (auto err = config.validate())
                    return err;
                  return ctx.spawn(monitor, config,
                                   detail::tree_seat::of(ctx));
                });
}

} // namespace trellis
