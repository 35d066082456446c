// cluster: one supervision tree across three node processes on this
// machine, and failover as it happens. The sample starts three trellis_node
// processes (A, B, C) on loopback, places children on them, then
//   1. kills node A (SIGKILL): its child restarts on its next node at once;
//   2. stops node B (SIGSTOP): nothing closes, but B's heartbeats stop and
//      its connection times out; B's children move on;
//   3. resumes B and makes a remote subtree give up: its escalation crosses
//      the wire and the parent restarts it.
//
//   root (one_for_one, this process)
//   ├── orders   pinger on A, else B, else C
//   ├── billing  pinger on B, else C, else A
//   └── fragile  a supervisor on C, else A (intensity 0)
//       └── leaf pinger, local to fragile's node
//
// Each lifecycle event prints as it arrives, with the node it is about.
// SIGINT or SIGTERM skips the steps left: the tree stops, then the nodes
// (SIGTERM), and the sample exits 0. With --linger the tree keeps running
// after the steps until one comes (as the signal tests need).

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stop_on_signal.hpp"
#include "trellis/io/all.hpp"

using namespace std::chrono_literals;

namespace {

// One trellis_node process; it dies with this process, whatever happens.
struct node {
  std::string name;
  pid_t pid = -1;
  std::string address;

  void signal(int sig) const {
    ::kill(pid, sig);
  }

  /// Stops the node as an operator would (SIGTERM: it stops its actors in
  /// order); kills it if it has not ended within 10 s. Reaps it.
  void stop() const {
    signal(SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid, nullptr, WNOHANG) != 0)
        return;
      std::this_thread::sleep_for(100ms);
    }
    signal(SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

node launch(const std::string& exe, std::string name) {
  int out[2];
  if (pipe(out) != 0)
    throw std::runtime_error("pipe");
  node result;
  result.name = std::move(name);
  result.pid = fork();
  if (result.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // stop_signal blocked these in this process; the node takes its own.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    // The node's own reports would interleave with ours. Only
    // async-signal-safe calls until exec: another thread may have held a
    // lock (stdio's, the allocator's) at the fork.
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0)
      dup2(devnull, STDERR_FILENO);
    execl(exe.c_str(), exe.c_str(), "--port=0", "--heartbeat-ms=250",
          "--timeout-ms=1500", nullptr);
    _exit(127);
  }
  close(out[1]);
  // The node prints "trellis-node port=<port>" once it listens.
  unsigned port = 0;
  auto in = fdopen(out[0], "r");
  if (in == nullptr || std::fscanf(in, "trellis-node port=%u", &port) != 1)
    throw std::runtime_error("node " + result.name + " did not start");
  result.address = "127.0.0.1:" + std::to_string(port);
  return result;
}

// The trellis_node executable next to this one.
std::string node_exe() {
  std::string self(4096, '\0');
  auto n = readlink("/proc/self/exe", self.data(), self.size());
  self.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return self.substr(0, self.rfind('/') + 1) + "trellis_node";
}

// Names nodes A, B, C in what the sample prints.
std::vector<node>* all_nodes = nullptr;

std::string name_of(const std::string& address) {
  for (auto& n : *all_nodes)
    if (n.address == address)
      return "node " + n.name;
  return address.empty() ? "this process" : address;
}

// Set in main: SIGINT or SIGTERM ends the sample early, in order.
trellis::stop_signal* stop = nullptr;

// Prints events until one for which `done` holds, or `limit` passes, or a
// stop is requested.
template <class Done>
bool watch(caf::scoped_actor& self, caf::timespan limit, Done done) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= caf::timespan{0} || stop->requested())
      return false;
    // Short waits, to notice a stop request.
    left = std::min<caf::timespan>(left, 100ms);
    bool hit = false;
    self->receive(
      [&](const trellis::lifecycle_event& ev) {
        std::cout << "  event: " << to_string(ev.kind) << ' ' << ev.path
                  << " on " << name_of(ev.node);
        if (ev.reason)
          std::cout << ": " << self->system().render(ev.reason);
        std::cout << '\n';
        hit = done(ev);
      },
      caf::after(left) >> [] {});
    if (hit)
      return true;
  }
}

// The node a child of `root` runs on now.
std::string node_of(caf::actor_system& sys, const caf::actor& root,
                    const std::string& id) {
  if (auto xs = trellis::which_children(sys, root))
    for (auto& x : *xs)
      if (x.id == id)
        return name_of(x.node);
  return "?";
}

} // namespace

int main(int argc, char** argv) {
  trellis::stop_signal stop_request;
  // Each line appears as it happens, also through a pipe.
  std::cout << std::unitbuf;
  stop = &stop_request;
  caf::actor_system_config cfg;
  trellis::node_config self_node;
  self_node.heartbeat_interval = 250ms;
  self_node.connection_timeout = 1500ms;
  if (auto err = trellis::configure_node(cfg, self_node)) {
    std::cerr << "cluster: " << caf::to_string(err) << '\n';
    return 1;
  }
  cfg.set("logger.verbosity", caf::atom("quiet"));
  trellis::set_log_level(trellis::log_level::off);
  caf::actor_system sys{cfg};
  auto exe = node_exe();
  std::vector<node> nodes{launch(exe, "A"), launch(exe, "B"),
                          launch(exe, "C")};
  all_nodes = &nodes;
  auto& a = nodes[0];
  auto& b = nodes[1];
  auto& c = nodes[2];
  for (auto& n : nodes)
    std::cout << "node " << n.name << " listens on " << n.address << '\n';

  auto tree = trellis::supervisor("root")
                .strategy(trellis::strategy::one_for_one)
                .intensity(10)
                .period(30s)
                .child(trellis::remote_worker("orders", "pinger")
                         .nodes({a.address, b.address, c.address}))
                .child(trellis::remote_worker("billing", "pinger")
                         .nodes({b.address, c.address, a.address}))
                .child(trellis::remote_supervisor("fragile", "fragile")
                         .nodes({c.address, a.address}));
  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "cluster: " << sys.render(root.error()) << '\n';
    return 1;
  }
  caf::scoped_actor self{sys};
  self->join(*trellis::lifecycle_events(sys, *root));
  std::cout << "\nthe tree across three nodes:\n"
            << to_text(*trellis::snapshot(sys, *root));

  auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  // Each step moves a child off a lost node; a stop request (SIGINT,
  // SIGTERM) skips the steps left and goes straight to the orderly end.
  bool ok = true;
  auto step = [&](const char* title) {
    if (!ok || stop->requested())
      return false;
    std::cout << title;
    return true;
  };

  // Sends `sig` to node `n`, waits until child `id` restarted elsewhere,
  // and prints where, and how long after the signal.
  auto fail_over = [&](const node& n, int sig, const std::string& id,
                       const char* after) {
    auto t0 = std::chrono::steady_clock::now();
    n.signal(sig);
    ok = watch(self, 20s, [&id](const trellis::lifecycle_event& ev) {
      return ev.kind == trellis::lifecycle_kind::child_restarted
             && ev.id == id;
    });
    auto now_on = node_of(sys, *root, id);
    ok = ok && now_on != "node " + n.name;
    std::cout << "  " << id << " now runs on " << now_on << ", "
              << ms(std::chrono::steady_clock::now() - t0) << " ms after "
              << after << '\n';
  };

  if (step("\n1. SIGKILL node A, where orders runs\n"))
    fail_over(a, SIGKILL, "orders", "the kill");

  if (step("\n2. SIGSTOP node B, where billing runs (a hung node)\n")) {
    fail_over(b, SIGSTOP, "billing",
              "the stop (heartbeat 250 ms + timeout 1500 ms)");
    b.signal(SIGCONT);
  }

  if (step("\n3. the leaf of fragile (on C) crashes; fragile gives up and "
           "escalates across the wire\n")) {
    auto snap = trellis::snapshot(sys, *root);
    if (auto leaf = snap ? find(*snap, "root/fragile/leaf") : nullptr)
      self->send(leaf->actor, std::string{"crash"});
    else
      ok = false;
    ok = ok && watch(self, 20s, [](const trellis::lifecycle_event& ev) {
      return ev.kind == trellis::lifecycle_kind::child_restarted
             && ev.id == "fragile";
    });
  }

  samples::linger(argc, argv, "cluster", *stop);
  // A stop request may have come while B was stopped.
  for (auto& n : nodes)
    n.signal(SIGCONT);
  if (auto snap = trellis::snapshot(sys, *root))
    std::cout << "\nthe tree " << (stop->requested() ? "when asked to stop"
                                                      : "after all that")
              << ":\n" << to_text(*snap);
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, *root);
  if (!reason)
    reason = trellis::await_exit(sys, *root);
  for (auto& n : nodes)
    n.stop();
  if (stop->requested()) {
    std::cout << "cluster: signal " << stop->signal_number()
              << ", tree stopped: " << sys.render(reason)
              << ", nodes stopped\n";
    return reason == caf::exit_reason::user_shutdown ? 0 : 1;
  }
  // Each step moved its child off the lost node, and the tree stopped cleanly.
  if (!ok || reason != caf::exit_reason::user_shutdown) {
    std::cout << "cluster: FAILED (a step did not happen in time)\n";
    return 1;
  }
  std::cout << "cluster: done\n";
  return 0;
}
