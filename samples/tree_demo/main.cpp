// tree_demo: a small order service built as a supervision tree. Orders flow
// while the demo breaks the service on purpose, and it prints how the tree
// heals each time.
//
//   root (one_for_one, at most 5 restarts in 10 s)
//   ├── gateway            worker: prices orders, throws on a poison order
//   └── storage (rest_for_one, at most 2 restarts in 10 s)
//       ├── journal        worker: appends orders
//       └── indexer        worker: depends on the journal, so restarts with it

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int poison = -1;

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

std::vector<trellis::child_info> children(caf::scoped_actor& self,
                                          const caf::actor& sup) {
  std::vector<trellis::child_info> result;
  self->request(sup, caf::infinite, trellis::which_children_atom::value)
    .receive([&](std::vector<trellis::child_info>& xs) { result = std::move(xs); },
             [](caf::error&) {});
  return result;
}

// Returns the current actor of the child at `path` below `sup`, e.g.
// {"storage", "journal"}.
caf::actor lookup(caf::scoped_actor& self, caf::actor sup,
                  std::initializer_list<const char*> path) {
  for (auto id : path) {
    caf::actor next;
    for (auto& kid : children(self, sup))
      if (kid.id == id)
        next = kid.actor;
    sup = next;
    if (!sup)
      break;
  }
  return sup;
}

void print_tree(caf::scoped_actor& self, const caf::actor& sup,
                const std::string& indent = "  ") {
  for (auto& kid : children(self, sup)) {
    std::cout << indent << kid.id << " [" << to_string(kid.state) << ", actor #"
              << (kid.actor ? kid.actor.id() : 0)
              << ", restarts: " << kid.restart_count << "]";
    if (!kid.last_exit_reason.empty())
      std::cout << " last exit: " << kid.last_exit_reason;
    std::cout << '\n';
    if (kid.type == trellis::child_type::supervisor && kid.actor)
      print_tree(self, kid.actor, indent + "  ");
  }
}

// Sends `n` orders to whatever gateway is current and counts the answers.
void serve(caf::scoped_actor& self, caf::actor_system& sys,
           const caf::actor& root, int n, bool with_poison) {
  int ok = 0;
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    auto order = with_poison && i == n / 2 ? poison : i + 1;
    self->request(lookup(self, root, {"gateway"}), 1s, order)
      .receive([&](int) { ++ok; },
               [&](caf::error& err) {
                 ++failed;
                 std::cout << "  order " << order
                           << " failed: " << sys.render(err) << '\n';
               });
  }
  std::cout << "  served " << ok << " orders, " << failed << " failed\n";
}

// Waits until the child at `path` runs as a different actor than `old`.
void await_restart(caf::scoped_actor& self, const caf::actor& root,
                   std::initializer_list<const char*> path,
                   const caf::actor& old) {
  for (int i = 0; i < 1000; ++i) {
    auto now = lookup(self, root, path);
    if (now && now != old)
      return;
    std::this_thread::sleep_for(2ms);
  }
  std::cout << "  (gave up waiting for a restart: the tree did not heal)\n";
}

} // namespace

int main() {
  caf::actor_system_config cfg;
  trellis::configure(cfg);
  caf::actor_system sys{cfg};
  trellis::set_log_level(trellis::log_level::warn); // failures only

  // The tree, in code that reads like the tree.
  auto tree = trellis::supervisor("root")
                .strategy(trellis::strategy::one_for_one)
                .intensity(5)
                .period(10s)
                .child(trellis::worker("gateway", gateway))
                .child(trellis::supervisor("storage")
                         .strategy(trellis::strategy::rest_for_one)
                         .intensity(2)
                         .period(10s)
                         .child(trellis::worker("journal", journal))
                         .child(trellis::worker("indexer", indexer)));

  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "tree_demo: start failed: " << sys.render(root.error()) << '\n';
    return 1;
  }
  caf::scoped_actor self{sys};
  std::cout << "tree_demo: started\n";
  print_tree(self, *root);

  std::cout << "\n1. orders flow, one of them poison:\n";
  auto gw = lookup(self, *root, {"gateway"});
  serve(self, sys, *root, 100, true);
  await_restart(self, *root, {"gateway"}, gw);
  print_tree(self, *root);

  std::cout << "\n2. the journal is killed: storage restarts it and the "
               "indexer (rest_for_one), the gateway is untouched:\n";
  auto j = lookup(self, *root, {"storage", "journal"});
  self->send_exit(j, caf::exit_reason::kill);
  await_restart(self, *root, {"storage", "journal"}, j);
  serve(self, sys, *root, 100, false);
  print_tree(self, *root);

  std::cout << "\n3. the journal keeps dying: storage exceeds its budget of 2 "
               "restarts in 10 s and gives up; root restarts all of storage:\n";
  auto st = lookup(self, *root, {"storage"});
  for (int i = 0; i < 2; ++i) {
    j = lookup(self, *root, {"storage", "journal"});
    self->send_exit(j, caf::exit_reason::kill);
    await_restart(self, *root, {"storage", "journal"}, j);
  }
  await_restart(self, *root, {"storage"}, st);
  serve(self, sys, *root, 100, false);
  print_tree(self, *root);

  // Stop the tree explicitly before the actor system goes.
  auto reason = trellis::stop_supervisor(sys, *root);
  std::cout << "\ntree_demo: tree stopped: " << sys.render(reason) << '\n';
  std::cout << "tree_demo: done\n";
  return 0;
}
