// strategies: the three restart strategies side by side. Three supervisors
// run the same three workers; the sample crashes b under each and prints
// which workers were restarted with it.
//
//   root (one_for_one)
//   ├── one_for_one    restarts the child that failed
//   │   ├── a, b, c
//   ├── one_for_all    restarts all children
//   │   ├── a, b, c
//   └── rest_for_one   restarts the failed child and those started after it
//       ├── a, b, c
//
// A worker is restarted when its supervisor runs it as a new actor. The
// sample waits for the tree's lifecycle events, not for time, and reads
// the actors from which_children before and after each crash.

#include <chrono>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "stop_on_signal.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;

// A worker that answers pings and throws on `crash_atom`.
caf::behavior echo(caf::event_based_actor*) {
  return {
    [](int x) { return x; },
    [](crash_atom) { throw std::runtime_error("crashed on purpose"); },
  };
}

trellis::supervisor_spec group(const char* id, trellis::strategy s) {
  return trellis::supervisor(id)
    .strategy(s)
    .intensity(5)
    .period(10s)
    .child(trellis::worker("a", echo))
    .child(trellis::worker("b", echo))
    .child(trellis::worker("c", echo));
}

// The current actor of each child, in start order; invalid while one is
// not running.
std::vector<caf::actor> actors_of(caf::actor_system& sys,
                                  const caf::actor& sup) {
  std::vector<caf::actor> result;
  if (auto children = trellis::which_children(sys, sup))
    for (auto& child : *children)
      result.push_back(child.state == trellis::child_state::running
                         ? child.actor
                         : caf::actor{});
  return result;
}

bool all_running(const std::vector<caf::actor>& xs) {
  for (auto& x : xs)
    if (!x)
      return false;
  return true;
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
  trellis::set_log_level(trellis::log_level::off); // the crashes are planned

  auto tree = trellis::supervisor("root")
                .child(group("one_for_one", trellis::strategy::one_for_one))
                .child(group("one_for_all", trellis::strategy::one_for_all))
                .child(group("rest_for_one", trellis::strategy::rest_for_one));
  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "strategies: start failed: " << sys.render(root.error())
              << '\n';
    return 1;
  }
  caf::scoped_actor self{sys};
  self->join(*trellis::lifecycle_events(sys, *root));
  std::cout << "strategies: started; crashing b under each supervisor\n\n"
            << std::left << std::setw(14) << "strategy" << std::setw(11)
            << "a" << std::setw(11) << "b"
            << "c\n";

  // What each strategy restarts along with b: a, b, c.
  const std::vector<std::pair<std::string, std::vector<bool>>> expected{
    {"one_for_one", {false, true, false}},
    {"one_for_all", {true, true, true}},
    {"rest_for_one", {false, true, true}}};
  bool ok = true;
  for (auto& [name, want] : expected) {
    auto sup = *trellis::lookup(sys, *root, "root/" + name);
    auto before = actors_of(sys, sup);
    self->send(before[1], crash_atom::value);
    // Each event wakes us up; the tree has healed once all three run and b
    // is a new actor.
    auto after = actors_of(sys, sup);
    while (!(all_running(after) && after[1] != before[1])) {
      bool timed_out = false;
      self->receive([](const trellis::lifecycle_event&) {},
                    caf::after(2s) >> [&] { timed_out = true; });
      if (timed_out) {
        std::cout << name << ": the tree did not heal\n";
        ok = false;
        break;
      }
      after = actors_of(sys, sup);
    }
    std::cout << std::setw(14) << name;
    std::vector<bool> got;
    for (size_t i = 0; i < before.size() && i < after.size(); ++i) {
      got.push_back(after[i] != before[i]);
      std::cout << std::setw(i + 1 < before.size() ? 11 : 0)
                << (got.back() ? "restarted" : "-");
    }
    std::cout << '\n';
    if (got != want) {
      std::cout << name << ": not what " << name << " restarts\n";
      ok = false;
    }
  }

  samples::linger(argc, argv, "strategies", stop);
  if (stop.requested())
    return samples::stopped_by_signal("strategies", sys, *root, stop);
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, *root);
  if (!reason)
    reason = trellis::await_exit(sys, *root);
  std::cout << "\nstrategies: tree stopped: " << sys.render(reason) << '\n';
  if (!ok || reason != caf::exit_reason::user_shutdown) {
    std::cout << "strategies: FAILED\n";
    return 1;
  }
  std::cout << "strategies: done\n";
  return 0;
}
