// tree_demo: a small order service built as a supervision tree, which breaks
// on purpose while it runs and shows how the tree heals.
//
//   root (one_for_one, at most 5 restarts in 10 s)
//   ├── gateway            worker: doubles order amounts, crashes on a poison order
//   └── storage (rest_for_one)
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

// A worker that serves orders and throws on a poison order: the exception
// ends this actor only, and its supervisor starts a fresh one.
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

// Prints a tree by asking each supervisor for its children.
void print_tree(caf::scoped_actor& self, const caf::actor& sup,
                const std::string& indent = "  ") {
  std::vector<trellis::child_info> kids;
  self->request(sup, caf::infinite, trellis::which_children_atom::value)
    .receive([&](std::vector<trellis::child_info>& xs) { kids = std::move(xs); },
             [](caf::error&) {});
  for (auto& kid : kids) {
    std::cout << indent << kid.id << " [" << to_string(kid.type) << ", "
              << to_string(kid.state) << ", actor #"
              << (kid.actor ? kid.actor.id() : 0)
              << ", restarts: " << kid.restart_count << "]\n";
    if (kid.type == trellis::child_type::supervisor && kid.actor)
      print_tree(self, kid.actor, indent + "  ");
  }
}

caf::actor find(caf::scoped_actor& self, const caf::actor& sup,
                const std::string& id) {
  caf::actor result;
  self->request(sup, caf::infinite, trellis::which_children_atom::value)
    .receive(
      [&](std::vector<trellis::child_info>& xs) {
        for (auto& x : xs)
          if (x.id == id)
            result = x.actor;
      },
      [](caf::error&) {});
  return result;
}

} // namespace

int main() {
  caf::actor_system_config cfg;
  trellis::configure(cfg);
  caf::actor_system sys{cfg};
  trellis::set_log_level(trellis::log_level::warn); // show failures only

  // The tree, in code that reads like the tree.
  auto tree = trellis::supervisor("root")
                .strategy(trellis::strategy::one_for_one)
                .intensity(5)
                .period(10s)
                .child(trellis::worker("gateway", gateway))
                .child(trellis::supervisor("storage")
                         .strategy(trellis::strategy::rest_for_one)
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

  // Serve some orders, with a poison one in the middle.
  for (int order : {10, 20, poison, 30}) {
    auto gw = find(self, *root, "gateway");
    self->request(gw, 1s, order)
      .receive(
        [&](int result) {
          std::cout << "tree_demo: order " << order << " -> " << result << '\n';
        },
        [&](caf::error& err) {
          std::cout << "tree_demo: order " << order
                    << " failed: " << sys.render(err) << '\n';
        });
  }
  std::this_thread::sleep_for(100ms);
  std::cout << "tree_demo: after the poison order, gateway was restarted:\n";
  print_tree(self, *root);

  // Kill the journal: rest_for_one restarts it and the indexer after it.
  auto storage = find(self, *root, "storage");
  self->send_exit(find(self, storage, "journal"), caf::exit_reason::kill);
  std::this_thread::sleep_for(100ms);
  std::cout << "tree_demo: after killing the journal, storage restarted it "
               "and the indexer:\n";
  print_tree(self, *root);

  // Stop the tree explicitly before the actor system goes.
  auto reason = trellis::stop_supervisor(sys, *root);
  std::cout << "tree_demo: tree stopped: " << sys.render(reason) << '\n';
  std::cout << "tree_demo: done\n";
  return 0;
}
