// Multi-process tests of distributed supervision: trellis_node processes on
// loopback, children placed across them, nodes killed, stopped and brought
// back. Every bound is generous (`patience`); nothing asserts a speed.

#include <csignal>
#include <future>
#include <thread>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <utility>

#include <sys/wait.h>

#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include "dist_fixture.hpp"

using namespace std::chrono_literals;
using namespace trellis;
using namespace trellis::test;

TEST_CASE("remote children run on their first node, watched like local ones",
          "[distribution]") {
  dist_fixture f;
  auto a = f.start_node_process();
  auto b = f.start_node_process();
  auto c = f.start_node_process();
  auto tree = supervisor("root")
                .strategy(strategy::one_for_one)
                .intensity(10)
                .period(30s)
                .child(remote_worker("w1", "pinger")
                         .nodes({a->address(), b->address()}))
                .child(remote_worker("w2", "pinger")
                         .nodes({b->address(), c->address()}))
                .child(remote_worker("w3", "pinger")
                         .nodes({c->address(), a->address()}));
  auto root = start_supervisor(f.sys, tree);
  REQUIRE(root);
  CHECK(f.info(*root, "w1").node == a->address());
  CHECK(f.info(*root, "w2").node == b->address());
  CHECK(f.info(*root, "w3").node == c->address());
  CHECK(f.ping(f.info(*root, "w1").actor) == "pong 1");
  auto snap = snapshot(f.sys, *root);
  REQUIRE(snap);
  CHECK(to_json(*snap).find("\"node\":\"" + b->address() + "\"")
        != std::string::npos);
  CHECK(to_text(*snap).find("node=" + c->address()) != std::string::npos);
  SECTION("a killed node's child restarts on its next node") {
    a->kill();
    CHECK(f.eventually(*root, "w1", [&](const child_info& x) {
      return running_on(x, b->address());
    }));
    auto w1 = f.info(*root, "w1");
    CHECK(w1.restart_count == 1);
    CHECK(w1.last_exit_reason.find("node_down") != std::string::npos);
    CHECK(f.ping(w1.actor) == "pong 1");
    // The others did not notice.
    CHECK(f.info(*root, "w2").restart_count == 0);
  }
  SECTION("a stopped node is found by the heartbeat and its child moves") {
    c->signal(SIGSTOP);
    CHECK(f.eventually(*root, "w3", [&](const child_info& x) {
      return running_on(x, a->address());
    }));
    CHECK(f.info(*root, "w3").last_exit_reason.find("node_down")
          != std::string::npos);
    c->signal(SIGCONT);
    CHECK(f.info(*root, "w2").node == b->address());
  }
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
}

namespace {

/// Nodes a and b, and a tree whose child `w` prefers a to b; a is killed,
/// `w` moves to b, and then a comes back on its old port.
struct node_returns {
  dist_fixture f;
  std::unique_ptr<node_process> a = f.start_node_process();
  std::unique_ptr<node_process> b = f.start_node_process();
  std::string addr_a = a->address();
  caf::actor root;

  explicit node_returns(bool takeover) {
    auto tree = supervisor("root").intensity(10).period(30s).child(
      remote_worker("w", "pinger")
        .nodes({addr_a, b->address()})
        .takeover(takeover));
    auto sup = start_supervisor(f.sys, tree);
    REQUIRE(sup);
    root = *sup;
    auto port_a = a->port();
    a->kill();
    REQUIRE(f.eventually(root, "w", [&](const child_info& x) {
      return running_on(x, b->address());
    }));
    a = f.start_node_process(port_a);
  }

  bool back_on_a() {
    return f.eventually(root, "w", [&](const child_info& x) {
      return running_on(x, addr_a);
    });
  }
};

} // namespace

TEST_CASE("a node that comes back takes children again", "[distribution]") {
  node_returns t{false};
  t.b->kill();
  CHECK(t.back_on_a());
  CHECK(t.f.ping(t.f.info(t.root, "w").actor) == "pong 1");
  CHECK(stop_and_await(t.f.sys, t.root) == caf::exit_reason::user_shutdown);
}

TEST_CASE("with takeover, a child moves back when its preferred node returns",
          "[distribution]") {
  node_returns t{true};
  CHECK(t.back_on_a());
  // Node b still runs, so the move was planned, not a failure: it counts in
  // the child's restarts but not against root's intensity (only a's loss
  // does).
  CHECK(t.f.info(t.root, "w").last_exit_reason.find("node_down")
        == std::string::npos);
  CHECK(t.f.info(t.root, "w").restart_count == 2);
  auto snap = snapshot(t.f.sys, t.root);
  REQUIRE(snap);
  CHECK(snap->intensity == 10);
  CHECK(snap->restarts_left == 9);
  CHECK(t.f.ping(t.f.info(t.root, "w").actor) == "pong 1");
  CHECK(stop_and_await(t.f.sys, t.root) == caf::exit_reason::user_shutdown);
}

TEST_CASE("a remote subtree that gives up escalates across the wire",
          "[distribution]") {
  dist_fixture f;
  auto a = f.start_node_process();
  auto tree = supervisor("root").intensity(10).period(30s).child(
    remote_supervisor("fragile", "fragile").nodes({a->address()}));
  auto root = start_supervisor(f.sys, tree);
  REQUIRE(root);
  auto snap = snapshot(f.sys, *root);
  REQUIRE(snap);
  auto leaf = find(*snap, "root/fragile/leaf");
  REQUIRE(leaf != nullptr);
  CHECK(leaf->node == a->address());
  // The leaf crashes; its supervisor (intensity 0) gives up; that exit
  // crosses the wire as the failure of root's child `fragile`.
  caf::anon_send(leaf->actor, std::string{"crash"});
  CHECK(f.eventually(*root, "fragile", [](const child_info& x) {
    return x.restart_count == 1 && x.state == child_state::running;
  }));
  CHECK(f.info(*root, "fragile").last_exit_reason.find(
          "reached_max_restart_intensity")
        != std::string::npos);
  // The remote supervisor obeys its parent's exit signal, which crosses the
  // wire: it stops with the parent's reason, not killed after its timeout.
  auto fragile = f.info(*root, "fragile").actor;
  REQUIRE(fragile);
  caf::scoped_actor watcher{f.sys};
  watcher->monitor(fragile);
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
  caf::error fragile_reason;
  watcher->receive(
    [&](caf::down_msg& msg) { fragile_reason = std::move(msg.reason); },
    caf::after(patience) >> [] { FAIL("no down message from root/fragile"); });
  CHECK(fragile_reason == caf::exit_reason::user_shutdown);
}

TEST_CASE("a remote start that cannot succeed fails like a local one",
          "[distribution]") {
  dist_fixture f;
  auto a = f.start_node_process();
  SECTION("a type the node does not host") {
    auto tree = supervisor("root").child(
      remote_worker("w", "no-such-type").nodes({a->address()}));
    auto root = start_supervisor(f.sys, tree);
    REQUIRE(!root);
    CHECK(is(root.error(), errc::failed_to_start_child));
    auto text = f.sys.render(root.error());
    CHECK(text.find("no-such-type") != std::string::npos);
    CHECK(text.find(a->address()) != std::string::npos);
  }
  SECTION("no node is reachable") {
    auto gone = f.start_node_process();
    auto addr = gone->address();
    gone->kill();
    auto tree = supervisor("root").child(
      remote_worker("w", "pinger").nodes({addr}));
    auto root = start_supervisor(f.sys, tree);
    REQUIRE(!root);
    CHECK(f.sys.render(root.error()).find(addr) != std::string::npos);
  }
}

TEST_CASE("health checks across the wire find a hung node without heartbeats",
          "[distribution]") {
  // Without middleman heartbeats: only health checks can find a hung node.
  auto quiet = test_node_config();
  quiet.heartbeat_interval = caf::timespan{0};
  dist_fixture f{quiet, {"--port=0", "--heartbeat-ms=0"}};
  auto a = f.start_node_process();
  auto b = f.start_node_process();
  auto tree = supervisor("root").intensity(10).period(30s).child(
    remote_worker("w", "pinger")
      .nodes({a->address(), b->address()})
      .health_check(health_check{250ms, 2s, 2}));
  auto root = start_supervisor(f.sys, tree);
  REQUIRE(root);
  REQUIRE(f.info(*root, "w").node == a->address());
  a->signal(SIGSTOP);
  CHECK(f.eventually(*root, "w", [&](const child_info& x) {
    return running_on(x, b->address());
  }));
  CHECK(f.info(*root, "w").last_exit_reason.find("hung") != std::string::npos);
  a->signal(SIGCONT);
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
}


TEST_CASE("a node stops cleanly on SIGTERM and SIGINT, idle or hosting "
          "children",
          "[distribution][lifetime]") {
  dist_fixture f;
  SECTION("idle") {
    for (int sig : {SIGTERM, SIGINT, SIGTERM, SIGINT}) {
      INFO("signal " << sig);
      auto node = f.start_node_process();
      CHECK(node->stop(sig) == 0);
    }
  }
  SECTION("hosting a subtree and a worker of a running tree") {
    for (int sig : {SIGTERM, SIGINT}) {
      INFO("signal " << sig);
      auto node = f.start_node_process();
      auto tree = supervisor("root")
                    .intensity(10)
                    .period(30s)
                    .child(remote_worker("w", "pinger")
                             .nodes({node->address()})
                             .restart(restart::temporary))
                    .child(remote_supervisor("fragile", "fragile")
                             .nodes({node->address()})
                             .restart(restart::temporary));
      auto root = start_supervisor(f.sys, tree);
      REQUIRE(root);
      CHECK(f.ping(f.info(*root, "w").actor) == "pong 1");
      CHECK(node->stop(sig) == 0);
      // The tree saw both children go (temporary: not restarted).
      auto deadline = std::chrono::steady_clock::now() + patience;
      caf::expected<std::vector<child_info>> left = std::vector<child_info>{};
      do {
        left = which_children(f.sys, *root);
        REQUIRE(left);
      } while (!left->empty() && std::chrono::steady_clock::now() < deadline
               && (std::this_thread::sleep_for(50ms), true));
      CHECK(left->empty());
      CHECK(is(stop_and_await(f.sys, *root), caf::exit_reason::user_shutdown));
    }
  }
}

TEST_CASE("a node with another application identifier is refused, and the "
          "start tries the next node",
          "[distribution]") {
  dist_fixture f;
  dist_fixture other_cluster{test_node_config(), [] {
                               auto args = test_node_args();
                               args.push_back("--app-id=another-cluster");
                               return args;
                             }()};
  auto stranger = other_cluster.start_node_process();
  auto b = f.start_node_process();
  SECTION("alone, it fails the start") {
    auto root = start_supervisor(
      f.sys, supervisor("root").child(
               remote_worker("w", "pinger").nodes({stranger->address()})));
    REQUIRE_FALSE(root);
    CHECK(is(root.error(), errc::failed_to_start_child));
    CHECK_THAT(f.sys.render(root.error()),
               Catch::Contains(stranger->address()));
  }
  SECTION("first in the list, it is skipped") {
    auto root = start_supervisor(
      f.sys, supervisor("root").child(remote_worker("w", "pinger").nodes(
               {stranger->address(), b->address()})));
    REQUIRE(root);
    CHECK(f.info(*root, "w").node == b->address());
    CHECK(f.ping(f.info(*root, "w").actor) == "pong 1");
    CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
  }
}

TEST_CASE("a hung node cannot hang a snapshot of a tree with a subtree on it",
          "[distribution]") {
  // Heartbeats off: nothing but the snapshot's own bound ends the wait.
  auto quiet = test_node_config();
  quiet.heartbeat_interval = caf::timespan{0};
  dist_fixture f{quiet, {"--port=0", "--heartbeat-ms=0"}};
  auto a = f.start_node_process();
  auto root = start_supervisor(
    f.sys, supervisor("root").child(
             remote_supervisor("fragile", "fragile").nodes({a->address()})));
  REQUIRE(root);
  REQUIRE(snapshot(f.sys, *root));
  // Stopped for sure, or the node may still answer the snapshot.
  REQUIRE(a->pause());
  auto taken = std::async(std::launch::async,
                          [&] { return snapshot(f.sys, *root); });
  auto status = taken.wait_for(patience);
  // Let the node go on either way, so that the test can end.
  a->signal(SIGCONT);
  INFO("waited " << patience.count() << " s for the snapshot");
  REQUIRE(status == std::future_status::ready);
  auto snap = taken.get();
  // The local part is there; the remote subtree is not waited for.
  REQUIRE(snap);
  CHECK(snap->path == "root");
  REQUIRE(snap->children.size() == 1);
  CHECK(snap->children[0].path == "root/fragile");
  CHECK(snap->children[0].node == a->address());
  CHECK(snap->children[0].children.empty());
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
}

namespace {

/// Runs trellis_node with `args` until it exits; returns its exit code and
/// what it printed.
std::pair<int, std::string> run_node_once(const std::string& args) {
  std::string cmd = std::string{"timeout 20 "} + TRELLIS_NODE_EXE + " " + args
                    + " 2>&1";
  std::string out;
  auto pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[256];
  while (auto n = std::fread(buf, 1, sizeof(buf), pipe))
    out.append(buf, n);
  auto status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

} // namespace

TEST_CASE("trellis_node refuses bad options and a port in use, saying why",
          "[distribution]") {
  auto check = [](const std::string& args, const std::string& says) {
    INFO("trellis_node " << args);
    auto [code, out] = run_node_once(args);
    CHECK(code == 1);
    CHECK_THAT(out, Catch::Contains(says));
  };
  check("--bogus", "unknown option --bogus");
  check("--port=many", "bad option value");
  check("--tls-passphrase-file=/nonexistent/pass.txt",
        "cannot read the passphrase file");
  check("--port=0 --tls-cert=/nonexistent/cert.pem --tls-key=/nonexistent/key.pem",
        "invalid_tls_config");
  dist_fixture f;
  auto a = f.start_node_process();
  check("--port=" + std::to_string(a->port()), "cannot listen on");
}

TEST_CASE("a remote child whose supervisor's node is gone is killed by its "
          "orphan guard",
          "[distribution][orphan]") {
  dist_fixture f;
  auto args = test_node_args();
  // n runs the child; x runs its supervisor, `parent`, which placed it on n.
  node_process n{TRELLIS_ORPHAN_NODE_EXE, args};
  ::setenv("ORPHAN_TARGET", n.address().c_str(), 1);
  node_process x{TRELLIS_ORPHAN_NODE_EXE, args};
  ::unsetenv("ORPHAN_TARGET");
  auto root = start_supervisor(
    f.sys, supervisor("root").child(
             remote_supervisor("p", "parent").nodes({x.address()})));
  REQUIRE(root);
  auto snap = snapshot(f.sys, *root);
  REQUIRE(snap);
  auto w = find(*snap, "root/p/w");
  REQUIRE(w != nullptr);
  CHECK(w->node == n.address());
  CHECK(w->state == child_state::running);
  // With its supervisor in place, its guard leaves w alone.
  CHECK_FALSE(n.await_line("reporter exited", std::chrono::milliseconds(500)));
  // Nobody asks w to stop: only its guard on n can end it. The bound is
  // generous; n's connection timeout (4 s) is the one that matters.
  auto within = std::chrono::duration_cast<std::chrono::milliseconds>(patience);
  SECTION("the supervisor's node is killed: its connection closes") {
    x.kill();
    CHECK(n.await_line("reporter exited", within));
  }
  SECTION("the supervisor's node is stopped: n's heartbeats find it") {
    x.signal(SIGSTOP);
    CHECK(n.await_line("reporter exited", within));
    x.kill();
  }
  CHECK(n.running());
  stop_supervisor(f.sys, *root);
}

TEST_CASE("a remote child whose supervisor is reached only through a third "
          "node is killed at once by its orphan guard",
          "[distribution][orphan]") {
  // The guard cannot see a node it has no connection to go: such a child
  // would be an orphan nobody finds. Trellis' own placement always connects
  // directly; the test makes the indirect case by hand, with the message
  // `guarded_factory` expects: (supervisor, path, args...).
  dist_fixture f;
  auto args = test_node_args();
  node_process n{TRELLIS_ORPHAN_NODE_EXE, args};
  node_process x{TRELLIS_ORPHAN_NODE_EXE, args};
  auto mm = f.sys.middleman().actor_handle();
  caf::scoped_actor self{f.sys};
  auto spawn_on = [&](const node_process& where, caf::message msg) {
    caf::node_id nid;
    caf::strong_actor_ptr result;
    caf::error err;
    // A new connection may close at its first heartbeat tick
    // (connection_timeout, docs/distribution.md): ask again.
    auto deadline = std::chrono::steady_clock::now() + patience;
    do {
      err = caf::error{};
      self
        ->request(mm, patience, caf::connect_atom::value,
                  std::string{"127.0.0.1"}, where.port())
        .receive([&](caf::node_id& id, caf::strong_actor_ptr&,
                     std::set<std::string>&) { nid = std::move(id); },
                 [&](caf::error& e) { err = std::move(e); });
    } while (err == caf::sec::connection_timeout
             && std::chrono::steady_clock::now() < deadline);
    INFO("connecting to " << where.address() << ": " << f.sys.render(err));
    REQUIRE_FALSE(err);
    self
      ->request(mm, patience, caf::spawn_atom::value, nid,
                std::string{"reporter"}, std::move(msg),
                std::set<std::string>{})
      .receive([&](caf::strong_actor_ptr& hdl) { result = std::move(hdl); },
               [&](caf::error& e) { err = std::move(e); });
    INFO("spawning a reporter: " << f.sys.render(err));
    REQUIRE(result);
    return caf::actor_cast<caf::actor>(result);
  };
  // A "supervisor" on x without a guard of its own (no supervisor of its
  // own), then its child on n, spawned through this process.
  auto sup = spawn_on(x, caf::make_message(caf::actor{}, std::string{"s"}));
  spawn_on(n, caf::make_message(sup, std::string{"s/w"}));
  CHECK(n.await_line("reporter exited",
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                       patience)));
  // Only the child: its supervisor on x still answers.
  int answer = 0;
  self->request(sup, patience, 7).receive([&](int y) { answer = y; },
                                          [&](caf::error&) {});
  CHECK(answer == 7);
  CHECK_FALSE(x.await_line("reporter exited", std::chrono::milliseconds(200)));
  caf::anon_send_exit(sup, caf::exit_reason::kill);
}
