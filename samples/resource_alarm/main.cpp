// resource_alarm: the monitor. An indexer that takes 2 ms per document is
// fed twice as fast as it can work. A resource monitor in the same tree
// probes its mailbox every 20 ms: past 100 waiting documents it raises an
// alarm and has the supervisor replace the indexer at once; new documents
// go to the replacement, while the old incarnation finishes what was
// already queued for it (CAF cannot take a mailbox away) and then dies. Once
// the backlog is gone the alarm clears. It also watches the process'
// resident memory.
//
//   root (one_for_one)
//   ├── indexer    worker: 2 ms per document
//   └── monitor    resource monitor: backlog > 100 (clear at 10) restarts
//                  the indexer; resident memory > 4 GiB alarms

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <caf/all.hpp>

#include "stop_on_signal.hpp"
#include "trellis/all.hpp"
#include "trellis/actors/process_stats.hpp"
#include "trellis/actors/resource_monitor.hpp"

using namespace std::chrono_literals;

namespace {

caf::behavior indexer(caf::event_based_actor*) {
  return {[](int doc) {
    std::this_thread::sleep_for(2ms);
    return doc;
  }};
}

// What the sample exists to show, counted by the printer.
struct seen {
  std::atomic<int> alarms{0};
  std::atomic<int> restarts{0};
  std::atomic<int> clears{0};
};

// Prints alarms and restarts from the tree's lifecycle events (spawned in
// their group).
caf::behavior event_printer(caf::event_based_actor*,
                            std::shared_ptr<seen> counts) {
  return {[counts](const trellis::lifecycle_event& ev) {
    using kind = trellis::lifecycle_kind;
    if (ev.kind == trellis::alarm_set || ev.kind == trellis::alarm_cleared)
      std::cout << "  event: " << trellis::to_string(ev.kind) << " " << ev.id
                << " on " << ev.path << ": " << ev.detail << '\n';
    else if (ev.kind == kind::child_restarted)
      std::cout << "  event: child_restarted " << ev.path << '\n';
    if (ev.id == "backlog" && ev.kind == trellis::alarm_set)
      ++counts->alarms;
    if (ev.id == "backlog" && ev.kind == trellis::alarm_cleared)
      ++counts->clears;
    if (ev.path == "root/indexer" && ev.kind == kind::child_restarted)
      ++counts->restarts;
  }};
}

} // namespace

int main(int argc, char** argv) {
  // SIGINT and SIGTERM: the scenario (seconds) ends, then the tree stops in
  // order and the sample exits 0. With --linger the tree keeps running after
  // the scenario until one comes (as the signal tests need).
  trellis::stop_signal stop;
  // Each line appears as it happens, also through a pipe.
  std::cout << std::unitbuf;
  caf::actor_system_config cfg;
  trellis::configure(cfg);
  caf::actor_system sys{cfg};
  trellis::set_log_level(trellis::log_level::error);

  auto tree
    = trellis::supervisor("root")
        .intensity(5)
        .period(10s)
        .child(trellis::worker("indexer", indexer))
        .child(trellis::resource_monitor(
          "monitor",
          trellis::resource_monitor_config{}
            .interval(20ms)
            .add(trellis::threshold("backlog", trellis::metric::mailbox_depth,
                                    100, 10)
                   .target("root/indexer")
                   .restart_target())
            .add(trellis::threshold("memory",
                                    trellis::metric::resident_bytes,
                                    4.0 * (1 << 30), 3.0 * (1 << 30)))));
  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "resource_alarm: start failed: " << sys.render(root.error())
              << '\n';
    return 1;
  }
  auto counts = std::make_shared<seen>();
  // In the group as the spawn returns: a join of its own would come
  // whenever it first runs, and miss what happened before.
  auto printer = sys.spawn_in_group(*trellis::lifecycle_events(sys, *root),
                                    event_printer, counts);
  trellis::process_sampler sampler;
  if (auto stats = sampler.sample())
    std::cout << "resource_alarm: started; process: " << stats->threads
              << " threads, " << stats->open_fds << " open fds, "
              << stats->resident_bytes / (1 << 20) << " MiB resident\n";

  std::cout << "\n1. 800 documents arrive, one every 0.5 ms:\n";
  // And on until the alarm rose, at most 20 s: a loaded machine slows the
  // feed too, which then takes longer to outrun the indexer.
  auto feed_end = std::chrono::steady_clock::now() + 20s;
  for (int doc = 0; (doc < 800 || counts->alarms == 0)
                    && std::chrono::steady_clock::now() < feed_end;
       ++doc) {
    // The current incarnation: the alarm has the indexer replaced.
    if (auto hdl = trellis::lookup(sys, *root, "root/indexer"))
      caf::anon_send(*hdl, doc);
    std::this_thread::sleep_for(500us);
  }
  std::cout << "\n2. the feed stops; the backlog drains:\n";
  // About 1 s; at most 20 s on a loaded machine.
  for (int i = 0; i < 2000 && counts->clears == 0; ++i)
    std::this_thread::sleep_for(10ms);

  if (auto snap = trellis::snapshot(sys, *root))
    std::cout << '\n' << trellis::to_text(*snap);
  // Stop the printer first, so that the last lines are ours.
  caf::anon_send_exit(printer, caf::exit_reason::user_shutdown);
  trellis::await_exit(sys, printer);
  samples::linger(argc, argv, "resource_alarm", stop);
  if (stop.requested())
    return samples::stopped_by_signal("resource_alarm", sys, *root, stop);
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, *root);
  if (!reason)
    reason = trellis::await_exit(sys, *root);
  std::cout << "\nresource_alarm: tree stopped: " << sys.render(reason) << '\n';
  if (counts->alarms == 0 || counts->restarts == 0 || counts->clears == 0
      || reason != caf::exit_reason::user_shutdown) {
    std::cout << "resource_alarm: FAILED (" << counts->alarms << " alarms, "
              << counts->restarts << " restarts, " << counts->clears
              << " clears)\n";
    return 1;
  }
  std::cout << "resource_alarm: done\n";
  return 0;
}
