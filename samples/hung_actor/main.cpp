// hung_actor: the failure detector. A pricing service whose worker gets
// stuck inside a handler (an endless loop, as a bug or a blocking call would
// cause). CAF cannot preempt it, and a crash handler never sees it: nothing
// exits. A health check notices that it stopped answering, the supervisor
// kills it, forgets it, and starts a replacement that serves the next
// orders, while a subscriber prints the tree's lifecycle events.
//
//   root (one_for_one)
//   ├── quotes     worker: answers price requests
//   └── pricing    worker, detached, health-checked every 50 ms (100 ms
//                  timeout, 2 misses make it hung)

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <caf/all.hpp>

#include "stop_on_signal.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace {

using hang_atom = caf::atom_constant<caf::atom("hang")>;

// Prices orders; on `hang_atom` it loops until `release` is set, like a
// handler stuck on a lock or an unbounded retry.
caf::behavior pricing(caf::event_based_actor*,
                      std::shared_ptr<std::atomic<bool>> release) {
  return {
    [](int amount) { return amount * 2; },
    [release](hang_atom) {
      while (!release->load())
        std::this_thread::sleep_for(1ms);
    },
  };
}

caf::behavior quotes(caf::event_based_actor*) {
  return {[](int amount) { return amount + 1; }};
}

// Prints every lifecycle event of the tree (spawned in its group).
caf::behavior event_printer(caf::event_based_actor* self) {
  return {[self](const trellis::lifecycle_event& ev) {
    std::cout << "  event: " << trellis::to_string(ev.kind) << " " << ev.path;
    if (ev.reason)
      std::cout << " (" << self->system().render(ev.reason) << ")";
    std::cout << '\n';
  }};
}

int ask(caf::scoped_actor& self, caf::actor_system& sys, const caf::actor& root,
        const std::string& path, int x) {
  int result = -1;
  auto hdl = trellis::lookup(sys, root, path);
  if (!hdl)
    return result;
  self->request(*hdl, 1s, x).receive([&](int y) { result = y; },
                                      [](caf::error&) {});
  return result;
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
  trellis::set_log_level(trellis::log_level::warn);

  auto release = std::make_shared<std::atomic<bool>>(false);
  auto tree = trellis::supervisor("root")
                .intensity(3)
                .period(10s)
                .child(trellis::worker("quotes", quotes))
                .child(trellis::worker("pricing", pricing, release)
                         .detached(true)
                         .health_check(trellis::health_check{50ms, 100ms, 2}));
  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "hung_actor: start failed: " << sys.render(root.error())
              << '\n';
    return 1;
  }
  auto events = trellis::lifecycle_events(sys, *root);
  // In the group as the spawn returns: a join of its own would come
  // whenever it first runs, and miss what happened before.
  auto printer = sys.spawn_in_group(*events, event_printer);
  caf::scoped_actor self{sys};
  std::cout << "hung_actor: started; pricing 21 -> "
            << ask(self, sys, *root, "root/pricing", 21) << '\n';

  std::cout << "\n1. pricing gets stuck in a handler:\n";
  auto stuck = trellis::lookup(sys, *root, "root/pricing");
  self->send(*stuck, hang_atom::value);
  // Wait until the supervisor replaced it (the detector needs 2 missed
  // checks, about 0.2 s; a loaded machine gets 20 s).
  bool replaced = false;
  for (int i = 0; i < 2000 && !replaced; ++i) {
    auto now = trellis::lookup(sys, *root, "root/pricing");
    replaced = now && *now != *stuck;
    if (!replaced)
      std::this_thread::sleep_for(10ms);
  }
  auto priced = ask(self, sys, *root, "root/pricing", 21);
  auto quoted = ask(self, sys, *root, "root/quotes", 41);
  std::cout << "   the replacement prices 21 -> " << priced
            << ", quotes was never disturbed: 41 -> " << quoted << '\n';
  bool ok = replaced && priced == 42 && quoted == 42;
  if (auto snap = trellis::snapshot(sys, *root))
    std::cout << trellis::to_text(*snap);

  // The stuck incarnation still holds its own thread (it is detached, so no
  // scheduler thread is lost). Let it go, so that it reads the kill and the
  // process can exit.
  release->store(true);
  // Stop the printer first, so that the last lines are ours.
  caf::anon_send_exit(printer, caf::exit_reason::user_shutdown);
  trellis::await_exit(sys, printer);
  samples::linger(argc, argv, "hung_actor", stop);
  if (stop.requested())
    return samples::stopped_by_signal("hung_actor", sys, *root, stop);
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, *root);
  if (!reason)
    reason = trellis::await_exit(sys, *root);
  std::cout << "\nhung_actor: tree stopped: " << sys.render(reason) << '\n';
  if (!ok || reason != caf::exit_reason::user_shutdown) {
    std::cout << "hung_actor: FAILED (the hung worker was not replaced)\n";
    return 1;
  }
  std::cout << "hung_actor: done\n";
  return 0;
}
