// tree_demo: a small order service built as a supervision tree. Orders flow
// while the demo breaks the service on purpose, and it prints how the tree
// heals each time.
//
//   root (one_for_one, at most 5 restarts in 10 s)
//   ├── gateway            worker: prices orders, throws on a poison order
//   ├── storage (rest_for_one, at most 2 restarts in 10 s)
//   │   ├── journal        worker: appends orders
//   │   └── indexer        worker: depends on the journal, so restarts with it
//   └── sessions (dynamic: one child per customer, started on demand)
//       └── session#N      worker: a customer's session, named at start
//
// It prints a snapshot of the whole tree (paths, states, actor ids, restart
// counts, last exit reasons, uptimes) after each repair.
//
// With `--observer PORT` (0 picks a port), it also serves the tree live in a
// browser (docs/observer.md) and, after the scripted part, keeps the tree
// serving orders, a poison one every ten seconds (well within the root's
// budget, so the page shows a tree that heals), until Enter, SIGINT or
// SIGTERM. A signal at any point stops the tree in order, and it exits 0.

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "trellis/all.hpp"
#include "trellis/observer/observer.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int poison = -1;

// Whether everything the demo shows happened; main's exit code.
bool all_ok = true;

// Throws on a poison order: the exception ends this incarnation only, the
// caller gets the crash reason as its error, and root starts a new gateway.
caf::behavior gateway(caf::event_based_actor*) {
  return {[](int amount) -> int {
    if (amount == poison)
      throw std::invalid_argument("poison order");
    return amount * 2;
  }};
}

caf::behavior journal(caf::stateful_actor<std::vector<int>>* self) {
  return {[self](int amount) {
    self->state.push_back(amount);
    return static_cast<int>(self->state.size());
  }};
}

caf::behavior indexer(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

// A customer's session: its name comes from start_child's arguments, and
// it keeps it across restarts.
caf::behavior session(caf::event_based_actor*, std::string customer) {
  return {[customer](int) -> std::string { return "hello " + customer; }};
}

// Returns the current actor at `path`, such as "root/storage/journal".
caf::actor lookup(caf::actor_system& sys, const caf::actor& root,
                  const std::string& path) {
  auto hdl = trellis::lookup(sys, root, path);
  return hdl ? *hdl : caf::actor{};
}

void print_tree(caf::actor_system& sys, const caf::actor& root) {
  if (auto snap = trellis::snapshot(sys, root))
    std::cout << trellis::to_text(*snap);
  else
    std::cout << "  (no snapshot: " << sys.render(snap.error()) << ")\n";
}

// Sends `n` orders to whatever gateway is current and counts the answers.
void serve(caf::scoped_actor& self, caf::actor_system& sys,
           const caf::actor& root, int n, bool with_poison) {
  int ok = 0;
  int failed = 0;
  bool poison_failed = false;
  for (int i = 0; i < n; ++i) {
    auto order = with_poison && i == n / 2 ? poison : i + 1;
    self->request(lookup(sys, root, "root/gateway"), 1s, order)
      .receive([&](int) { ++ok; },
               [&](caf::error& err) {
                 ++failed;
                 poison_failed = poison_failed || order == poison;
                 std::cout << "  order " << order
                           << " failed: " << sys.render(err) << '\n';
               });
  }
  std::cout << "  served " << ok << " orders, " << failed << " failed\n";
  // The poison order fails; without one, nothing does (an order sent while
  // the gateway restarts may fail too, and the demo shows it).
  if (with_poison ? !poison_failed : failed != 0)
    all_ok = false;
}

// Waits until the child at `path` runs as a different actor than `old`.
void await_restart(caf::actor_system& sys, const caf::actor& root,
                   const std::string& path, const caf::actor& old) {
  for (int i = 0; i < 1000; ++i) {
    auto now = lookup(sys, root, path);
    if (now && now != old)
      return;
    std::this_thread::sleep_for(2ms);
  }
  std::cout << "  (gave up waiting for a restart: the tree did not heal)\n";
  all_ok = false;
}

// Keeps orders flowing, a poison one every ten seconds, until Enter (or
// the end of input) or a stop signal, so that the observer's page has
// something to show.
void serve_until_enter(caf::scoped_actor& self, caf::actor_system& sys,
                       const caf::actor& root, const trellis::observer& obs,
                       trellis::stop_signal& stop) {
  std::cout << "\ntree_demo: observer at " << obs.url()
            << " (press Enter to stop)\n"
            << std::flush;
  // Detached, and shared with it: a signal may end the wait while nothing
  // is typed.
  auto enter = std::make_shared<std::atomic<bool>>(false);
  std::thread{[enter] {
    std::string line;
    std::getline(std::cin, line);
    *enter = true;
  }}.detach();
  for (int round = 0; !*enter && !stop.requested(); ++round) {
    serve(self, sys, root, 10, round % 5 == 4);
    for (int i = 0; i < 20 && !*enter; ++i)
      if (stop.wait_for(100ms))
        break;
  }
}

// A stop signal came: the tree stops in order, and that is success.
int stopped_by_signal(caf::actor_system& sys, const caf::actor& root,
                      const trellis::stop_signal& stop) {
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, root);
  if (!reason)
    reason = trellis::await_exit(sys, root);
  std::cout << "\ntree_demo: signal " << stop.signal_number()
            << ", tree stopped: " << sys.render(reason)
            << "\ntree_demo: done\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::optional<uint16_t> observer_port;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--observer") == 0)
      observer_port = static_cast<uint16_t>(std::stoi(argv[i + 1]));
  // SIGINT and SIGTERM stop the tree in order (before the actor system, so
  // that its threads leave the signals to it).
  trellis::stop_signal stop;
  caf::actor_system_config cfg;
  trellis::configure(cfg);
  caf::actor_system sys{cfg};
  trellis::set_log_level(trellis::log_level::warn); // failures only

  // The tree, in code that reads like the tree.
  auto tree
    = trellis::supervisor("root")
        .strategy(trellis::strategy::one_for_one)
        .intensity(5)
        .period(10s)
        .child(trellis::worker("gateway", gateway))
        .child(trellis::supervisor("storage")
                 .strategy(trellis::strategy::rest_for_one)
                 .intensity(2)
                 .period(10s)
                 .child(trellis::worker("journal", journal))
                 .child(trellis::worker("indexer", indexer)))
        .child(trellis::dynamic_supervisor(
                 "sessions",
                 trellis::worker("session",
                                 [](trellis::child_context& ctx,
                                    const std::string& customer) {
                                   return ctx.spawn(session, customer);
                                 }))
                 .intensity(5)
                 .period(10s)
                 .max_children(1000));

  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "tree_demo: start failed: " << sys.render(root.error()) << '\n';
    return 1;
  }
  caf::scoped_actor self{sys};
  std::cout << "tree_demo: started\n";

  // The observer is optional; it stops before the actor system goes.
  std::optional<trellis::observer> obs;
  if (observer_port) {
    trellis::observer_config ocfg;
    ocfg.port = *observer_port;
    auto started = trellis::start_observer(sys, *root, ocfg);
    if (!started) {
      std::cerr << "tree_demo: observer failed: " << sys.render(started.error())
                << '\n';
      return 1;
    }
    obs = std::move(*started);
    std::cout << "tree_demo: observer at " << obs->url() << '\n';
  }

  // Customers arrive: one session each, started with the customer's name.
  auto sessions = lookup(sys, *root, "root/sessions");
  caf::actor alice;
  for (std::string customer : {"alice", "bob", "carol"}) {
    auto s = trellis::start_child(sys, sessions, caf::make_message(customer));
    if (!s) {
      std::cout << "  session for " << customer
                << " failed: " << sys.render(s.error()) << '\n';
      all_ok = false;
    } else if (customer == "alice")
      alice = *s;
  }
  print_tree(sys, *root);
  if (stop.requested())
    return stopped_by_signal(sys, *root, stop);

  std::cout << "\n1. orders flow, one of them poison:\n";
  auto gw = lookup(sys, *root, "root/gateway");
  serve(self, sys, *root, 100, true);
  await_restart(sys, *root, "root/gateway", gw);
  print_tree(sys, *root);

  std::cout << "\n2. the journal is killed: storage restarts it and the "
               "indexer (rest_for_one), the gateway is untouched:\n";
  auto j = lookup(sys, *root, "root/storage/journal");
  self->send_exit(j, caf::exit_reason::kill);
  await_restart(sys, *root, "root/storage/journal", j);
  serve(self, sys, *root, 100, false);
  print_tree(sys, *root);
  if (stop.requested())
    return stopped_by_signal(sys, *root, stop);

  std::cout << "\n3. the journal keeps dying: storage exceeds its budget of 2 "
               "restarts in 10 s and gives up; root restarts all of storage:\n";
  auto st = lookup(sys, *root, "root/storage");
  for (int i = 0; i < 2; ++i) {
    j = lookup(sys, *root, "root/storage/journal");
    self->send_exit(j, caf::exit_reason::kill);
    await_restart(sys, *root, "root/storage/journal", j);
  }
  await_restart(sys, *root, "root/storage", st);
  serve(self, sys, *root, 100, false);
  print_tree(sys, *root);

  std::cout << "\n4. alice's session crashes and comes back as alice; bob "
               "leaves and his session is terminated:\n";
  self->send_exit(alice, caf::exit_reason::kill);
  await_restart(sys, *root, "root/sessions/session#1", alice);
  self->request(lookup(sys, *root, "root/sessions/session#1"), 1s, 0)
    .receive(
      [](std::string& greeting) {
        std::cout << "  " << greeting << '\n';
        all_ok = all_ok && greeting == "hello alice";
      },
      [&](caf::error& err) {
        std::cout << "  alice's session failed: " << sys.render(err) << '\n';
        all_ok = false;
      });
  if (auto err = trellis::terminate_child(
        sys, sessions, lookup(sys, *root, "root/sessions/session#2"))) {
    std::cout << "  terminate_child failed: " << sys.render(err) << '\n';
    all_ok = false;
  }
  print_tree(sys, *root);

  std::cout << "\nthe storage subtree as JSON:\n";
  if (auto snap = trellis::snapshot(sys, lookup(sys, *root, "root/storage")))
    std::cout << trellis::to_json(*snap) << '\n';

  if (obs) {
    serve_until_enter(self, sys, *root, *obs, stop);
    obs->stop();
  }
  if (stop.requested())
    return stopped_by_signal(sys, *root, stop);

  // Stop the tree explicitly before the actor system goes.
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, *root);
  if (!reason)
    reason = trellis::await_exit(sys, *root);
  std::cout << "\ntree_demo: tree stopped: " << sys.render(reason) << '\n';
  if (!all_ok || reason != caf::exit_reason::user_shutdown) {
    std::cout << "tree_demo: FAILED (see above)\n";
    return 1;
  }
  std::cout << "tree_demo: done\n";
  return 0;
}
