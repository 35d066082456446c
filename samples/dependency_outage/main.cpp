// dependency_outage: the same tree twice, riding out a database outage with
// storm control and giving up without it. Every worker polls the database
// every 50 ms and crashes when it does not answer; a worker's start fails
// while the database is down. The database goes away for 2 s.
//
//   guarded   (one_for_one, at most 5 restarts in 10 s)     with storm control
//   ├── writers   (5 in 10 s)  w0 .. w19   .depends_on("db")
//   └── readers   (5 in 10 s)  r0 .. r19   .depends_on("db")
//   unguarded                                                the same, without
//
// Without storm control, 20 crashes at once spend each subtree's budget, the
// subtrees escalate to the root, whose restarts of them fail as well, and
// the root gives up: the service is gone when the database comes back.
// With it, three failures within a second open one incident for "db", the
// failed workers pause (no budget is charged), a canary worker probes the
// database until it is back, and then the 39 others restart spread over a
// second.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "stop_on_signal.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace {

using poll_atom = caf::atom_constant<caf::atom("poll")>;

using database = std::shared_ptr<std::atomic<bool>>;

/// Polls the database every 50 ms; crashes when it is down.
caf::behavior db_user(caf::event_based_actor* self, database up) {
  self->delayed_send(self, 50ms, poll_atom::value);
  return {
    [self, up](poll_atom) {
      if (!*up)
        throw std::runtime_error("database unreachable");
      self->delayed_send(self, 50ms, poll_atom::value);
    },
  };
}

trellis::child_spec worker(std::string id, database up, bool guarded) {
  auto spec = trellis::worker(
    std::move(id), [up](trellis::child_context& ctx) -> trellis::start_result {
      // Connecting fails while the database is down.
      if (!*up)
        return trellis::make_error(trellis::errc::unhealthy,
                                   "database unreachable");
      return ctx.spawn(db_user, up);
    });
  if (guarded)
    spec.depends_on("db");
  return spec;
}

trellis::supervisor_spec service(const std::string& name, database up,
                                 bool guarded) {
  auto root = trellis::supervisor(name).intensity(5).period(10s);
  for (auto group : {"writers", "readers"}) {
    auto sub = trellis::supervisor(group).intensity(5).period(10s);
    for (int i = 0; i < 20; ++i)
      sub.child(worker(std::string{group[0]} + std::to_string(i), up, guarded));
    root.child(sub);
  }
  return root;
}

/// Counts the running workers of a tree; -1 if it does not answer.
int running_workers(caf::actor_system& sys, const caf::actor& root) {
  auto snap = trellis::snapshot(sys, root, 1s);
  if (!snap)
    return -1;
  int n = 0;
  for (auto& sub : snap->children)
    for (auto& w : sub.children)
      n += w.state == trellis::child_state::running ? 1 : 0;
  return n;
}

struct watch {
  int incidents_opened = 0;
  int incidents_closed = 0;
  int given_up_guarded = 0;
  int given_up_unguarded = 0;
  /// The guarded tree's restarts once the incident closed.
  std::vector<caf::timestamp> resumed;
  bool resuming = false;

  void print(const trellis::lifecycle_event& ev) {
    auto guarded = ev.path.rfind("guarded", 0) == 0;
    switch (ev.kind) {
      case trellis::lifecycle_kind::incident_opened:
        ++incidents_opened;
        break;
      case trellis::lifecycle_kind::incident_closed:
        ++incidents_closed;
        resuming = true;
        break;
      case trellis::lifecycle_kind::restart_given_up:
        ++(guarded ? given_up_guarded : given_up_unguarded);
        break;
      case trellis::lifecycle_kind::child_restarted:
        if (guarded && resuming)
          resumed.push_back(ev.time);
        return; // Too many to print.
      default:
        return;
    }
    std::cout << "  " << trellis::to_string(ev.kind) << " " << ev.path
              << (ev.detail.empty() ? "" : " " + ev.detail) << '\n';
  }

  /// Prints the events that arrive within `d`.
  void drain(caf::scoped_actor& self, caf::timespan d) {
    auto until = std::chrono::steady_clock::now() + d;
    for (;;) {
      auto left = until - std::chrono::steady_clock::now();
      if (left <= caf::timespan{0})
        return;
      self->receive([this](const trellis::lifecycle_event& ev) { print(ev); },
                    caf::after(left) >> [] {});
    }
  }
};

} // namespace

int main(int argc, char** argv) {
  trellis::stop_signal stop;
  std::cout << std::unitbuf;
  caf::actor_system_config cfg;
  trellis::configure(cfg);
  caf::actor_system sys{cfg};
  trellis::set_log_level(trellis::log_level::off); // the failures are planned

  if (auto err = trellis::declare_dependency(
        sys, trellis::dependency_policy{"db"}
               .incident_after(3, 1s)
               .probe_after(250ms, 1s)
               .settle(500ms)
               .resume_over(1s))) {
    std::cerr << "dependency_outage: " << sys.render(err) << '\n';
    return 1;
  }
  auto up = std::make_shared<std::atomic<bool>>(true);
  auto guarded = trellis::start_supervisor(sys, service("guarded", up, true));
  auto unguarded = trellis::start_supervisor(sys,
                                             service("unguarded", up, false));
  if (!guarded || !unguarded) {
    std::cerr << "dependency_outage: start failed\n";
    return 1;
  }
  caf::scoped_actor self{sys};
  self->join(*trellis::lifecycle_events(sys, *guarded));
  self->join(*trellis::lifecycle_events(sys, *unguarded));
  std::cout << "dependency_outage: started two trees of 40 workers each\n";

  watch w;
  std::cout << "\n1. the database goes down for 2 s:\n";
  up->store(false);
  w.drain(self, 1s);
  auto incidents = trellis::open_incidents(sys);
  for (auto& x : incidents)
    std::cout << "  open incident #" << x.id << " of " << x.dependency << ": "
              << x.cause << ", " << x.paused << " workers paused, "
              << x.probes << " canaries so far\n";
  w.drain(self, 1s);
  std::cout << "  guarded: " << running_workers(sys, *guarded)
            << " workers running; unguarded: "
            << (running_workers(sys, *unguarded) < 0 ? "gone" : "still up")
            << '\n';

  std::cout << "\n2. the database is back:\n";
  up->store(true);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (running_workers(sys, *guarded) < 40
         && std::chrono::steady_clock::now() < deadline)
    w.drain(self, 100ms);
  w.drain(self, 200ms);
  auto guarded_running = running_workers(sys, *guarded);
  std::cout << "  guarded: " << guarded_running << " of 40 workers running";
  std::chrono::milliseconds spread{0};
  if (w.resumed.size() >= 2) {
    std::sort(w.resumed.begin(), w.resumed.end());
    spread = std::chrono::duration_cast<std::chrono::milliseconds>(
      w.resumed.back() - w.resumed.front());
    std::cout << ", the canary first, then " << w.resumed.size()
              << " paused workers restarted over " << spread.count() << " ms";
  }
  std::cout << '\n';
  auto unguarded_reason = trellis::await_exit(sys, *unguarded, 5s);
  std::cout << "  unguarded: tree ended: " << sys.render(unguarded_reason)
            << '\n';

  // Staggered: all at once, the restarts take a few milliseconds.
  bool ok = guarded_running == 40 && w.resumed.size() >= 30
            && spread >= 500ms && w.incidents_opened >= 1
            && w.incidents_closed >= 1 && w.given_up_guarded == 0
            && w.given_up_unguarded > 0
            && trellis::is(unguarded_reason,
                           trellis::errc::reached_max_restart_intensity);
  std::cout << "\nwith storm control: " << w.given_up_guarded
            << " supervisors gave up; without: " << w.given_up_unguarded
            << '\n';

  samples::linger(argc, argv, "dependency_outage", stop);
  if (stop.requested())
    return samples::stopped_by_signal("dependency_outage", sys, *guarded,
                                      stop);
  auto reason = trellis::stop_supervisor(sys, *guarded);
  if (!reason)
    reason = trellis::await_exit(sys, *guarded);
  std::cout << "dependency_outage: tree stopped: " << sys.render(reason)
            << '\n';
  if (!ok || reason != caf::exit_reason::user_shutdown) {
    std::cout << "dependency_outage: FAILED\n";
    return 1;
  }
  std::cout << "dependency_outage: done\n";
  return 0;
}
