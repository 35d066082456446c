// Hostile and broken peers against a node's port and against a supervisor
// that connects out: raw loopback sockets send what CAF 0.17.6 would crash
// or stall on. Each case checks that the process stays up, that its memory
// stays within a stated bound, that a healthy peer (a remote child pinged
// throughout) keeps being served, and that the offending connection is
// closed. TRELLIS_ADVERSARIAL_ROUNDS repeats the floods (`./dev adversarial`).

#include <algorithm>
#include <array>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>

#include "dist_fixture.hpp"
#include "raw_socket.hpp"

using namespace std::chrono_literals;
using namespace trellis;
using namespace trellis::test;

namespace {

/// The node's memory may grow by this much under any of the floods below
/// (a refused header is never allocated; CAF's buffers and the heap's
/// slack account for the rest).
constexpr long rss_bound_kib = rss_growth_bound_kib;

/// What a forged peer that handshakes and leaves may still cost the node, in
/// bytes of RSS, on average over thousands: the heap's slack and timers
/// that end within the handshake timeout.
constexpr long forged_peer_bound = 600;

std::vector<std::string> node_args() {
  auto xs = test_node_args();
  xs.push_back("--handshake-timeout-ms=1000");
  return xs;
}

node_config supervisor_config() {
  auto x = test_node_config();
  x.handshake_timeout = 1s;
  return x;
}

/// A tree with one child on node `a`, pinged to prove it is served.
struct guarded_node {
  dist_fixture f{supervisor_config(), node_args()};
  std::unique_ptr<node_process> a = f.start_node_process();
  caf::actor root;
  caf::actor child;

  guarded_node() {
    auto tree = supervisor("root").intensity(10).period(30s).child(
      remote_worker("w", "pinger").nodes({a->address()}));
    auto x = start_supervisor(f.sys, tree);
    REQUIRE(x);
    root = *x;
    child = f.info(root, "w").actor;
    REQUIRE(f.ping(child) == "pong 1");
  }

  ~guarded_node() {
    stop_supervisor(f.sys, root);
  }

  /// Reports the node's memory and the bystander's slowest ping, and checks
  /// the memory against the bound.
  void check_memory(long before, std::chrono::milliseconds slowest) {
    auto after = rss_kib(a->pid());
    WARN("node RSS before " << before << " KiB, after " << after
                            << " KiB; slowest bystander ping "
                            << slowest.count() << " ms");
    CHECK(after - before < rss_bound_kib);
  }

  /// Pings the child; returns the round trip, or fails.
  std::chrono::milliseconds ping() {
    auto t0 = std::chrono::steady_clock::now();
    auto answer = f.ping(child);
    CHECK(answer.rfind("pong", 0) == 0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
  }
};

/// A made-up node id as CAF 0.17.6 serializes its default one: the type's
/// atom, a process id (`pid`) and 20 host bytes, here from `n`.
std::string made_up_node(uint32_t pid, uint32_t n) {
  std::string nid{"\x00\x00\x3e\x9a\xab\x9b\xac\x79", 8};
  append_big_endian(nid, pid);
  std::string host(20, '\x5a');
  for (int i = 0; i < 4; ++i)
    host[i] = static_cast<char>(n >> (24 - 8 * i));
  return nid + host;
}

/// A direct message to the node's config server (by name: BASP's flag 1
/// and the atom 'ConfigServ') as request `id`, holding `count` actor
/// handles, each on a made-up node of its own (process id 4243, host from
/// `n`). CAF reads it, and makes a proxy and a route for each, before the
/// config server refuses it.
std::string third_node_handles(uint32_t n, uint32_t count, uint64_t id) {
  std::string types = "@<>";
  for (uint32_t i = 0; i < count; ++i)
    types += "+@actor";
  // No stages, then the message: its type number (0) and type names, each
  // string after its length (below 128: one byte).
  std::string payload{"\x00\x00\x00", 3};
  payload += static_cast<char>(types.size());
  payload += types;
  for (uint32_t i = 0; i < count; ++i) {
    append_big_endian(payload, uint64_t{i + 1});
    payload += made_up_node(4243, n * count + i);
  }
  constexpr uint64_t config_serv = 17542873753962589691u;
  return basp_header(2, static_cast<uint32_t>(payload.size()), id, 7,
                     config_serv, 1)
         + payload;
}

/// Completes BASP's client handshake with node `port` under a made-up node
/// id (host bytes from `n`), waits for the node's first message after it
/// (the node learned the peer), and leaves; with `handles`, first sends a
/// request naming that many other made-up nodes (`third_node_handles`) and
/// waits for its answer. False if the node did not play along.
bool forged_peer(uint16_t port, uint32_t n, uint32_t handles = 0) {
  raw_socket s{port};
  if (!s.connected() || s.receive_frame(patience).empty())
    return false;
  auto nid = made_up_node(4242, n);
  if (!s.send(basp_header(1, static_cast<uint32_t>(nid.size()), 3) + nid)
      || s.receive_frame(patience).empty())
    return false;
  if (handles == 0)
    return true;
  constexpr uint64_t request_id = 1;
  if (!s.send(third_node_handles(n, handles, request_id)))
    return false;
  // Monitor messages for the proxies come first, then the answer.
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    auto frame = s.receive_frame(patience);
    if (frame.size() < 32)
      return false;
    if (frame[0] == 2 && static_cast<uint8_t>(frame[15]) == request_id)
      return true;
  }
  return false;
}

/// What CAF's BASP broker of `sys` keeps of the nodes it learned of, read on
/// the broker's thread: a spawn server for each (`spawn_servers`), and
/// whether it has proxies of remote actors. -1 spawn servers if reading took
/// longer than `patience`.
struct learned_nodes {
  long spawn_servers = -1;
  bool proxies = false;
};

/// Runs `f` with the BASP broker of `sys` on the broker's thread and returns
/// what it returned, or `fallback` if that took longer than `patience`.
template <class F, class T>
T on_broker(caf::actor_system& sys, F f, T fallback) {
  auto broker = sys.middleman().named_broker<caf::io::basp_broker>(
    caf::atom("BASP"));
  auto ptr = static_cast<caf::io::basp_broker*>(
    caf::actor_cast<caf::abstract_actor*>(broker));
  auto result = std::make_shared<std::promise<T>>();
  auto future = result->get_future();
  sys.middleman().backend().dispatch(
    [ptr, broker, result, f] { result->set_value(f(*ptr)); });
  if (future.wait_for(patience) != std::future_status::ready)
    return fallback;
  return future.get();
}

learned_nodes learned_nodes_of(caf::actor_system& sys) {
  return on_broker(
    sys,
    [](caf::io::basp_broker& b) {
      return learned_nodes{static_cast<long>(b.spawn_servers.size()),
                           !b.proxies().empty()};
    },
    learned_nodes{});
}

/// Makes the broker of `sys` learn a made-up node (host bytes from `n`) with
/// no route to it, as it does when a message read from a connection names
/// the node after the connection's closing was handled. False if the broker
/// did not keep a spawn server for it, or did not answer within `patience`.
bool learn_unreachable_node(caf::actor_system& sys, uint32_t n) {
  std::array<uint8_t, 20> host;
  host.fill(0x5a);
  for (int i = 0; i < 4; ++i)
    host[i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  auto nid = caf::make_node_id(4244, host);
  return on_broker(
    sys,
    [nid](caf::io::basp_broker& b) {
      b.learned_new_node(nid);
      return b.spawn_servers.count(nid) == 1;
    },
    false);
}

/// A node listening on a port of the test's own system, and what its
/// broker knew of other nodes before the test.
struct listening_node {
  dist_fixture f{supervisor_config(), node_args()};
  std::optional<uint16_t> port;
  learned_nodes before;

  listening_node() {
    auto x = supervisor_config();
    x.port = 0;
    if (auto p = start_node(f.sys, x))
      port = *p;
    before = learned_nodes_of(f.sys);
    REQUIRE(port);
    REQUIRE(before.spawn_servers >= 0);
  }

  /// Waits until the broker keeps no more spawn servers than before and no
  /// proxies, at most `patience`; returns what it keeps then.
  learned_nodes settled() {
    auto deadline = std::chrono::steady_clock::now() + patience;
    auto now = learned_nodes_of(f.sys);
    while ((now.spawn_servers > before.spawn_servers || now.proxies)
           && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
      now = learned_nodes_of(f.sys);
    }
    return now;
  }
};

} // namespace

TEST_CASE("malformed BASP headers cost only their own connection",
          "[adversarial][node]") {
  guarded_node n;
  auto before = rss_kib(n.a->pid());
  struct frame {
    const char* what;
    std::string bytes;
  };
  std::string garbage(32, '\0');
  for (size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = static_cast<char>(i * 37 + 11);
  const frame frames[] = {
    // The 32 bytes that crashed a node with SIGSEGV.
    {"client handshake without payload", basp_header(1, 0, 3)},
    {"server handshake to a listener", basp_header(0, 100)},
    {"message before the handshake", basp_header(2, 100)},
    {"unknown operation", basp_header(0x7f, 0)},
    {"4 GB handshake", basp_header(1, 0xffffffffu)},
    {"1 GB handshake", basp_header(1, 1u << 30)},
    {"garbage", garbage},
    {"HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
  };
  auto slowest = std::chrono::milliseconds{0};
  for (int round = 0; round < adversarial_rounds(); ++round) {
    for (auto& x : frames) {
      CAPTURE(x.what, round);
      raw_socket s{n.a->port()};
      REQUIRE(s.connected());
      s.send(x.bytes);
      // HTTP's 27 bytes are no complete header: the deadline closes it.
      CHECK(s.closed_within(patience));
      REQUIRE(n.a->running());
      slowest = std::max(slowest, n.ping());
    }
  }
  n.check_memory(before, slowest);
  CHECK(n.f.info(n.root, "w").restart_count == 0);
}

TEST_CASE("half-open handshakes are closed at the handshake deadline",
          "[adversarial][node]") {
  guarded_node n;
  auto before = rss_kib(n.a->pid());
  std::vector<raw_socket> idle;
  for (int i = 0; i < 20 * adversarial_rounds(); ++i) {
    idle.emplace_back(n.a->port());
    REQUIRE(idle.back().connected());
    // Half a header, then nothing.
    idle.back().send(basp_header(1, 100).substr(0, 16));
  }
  auto slowest = n.ping();
  for (auto& s : idle)
    CHECK(s.closed_within(patience));
  REQUIRE(n.a->running());
  slowest = std::max(slowest, n.ping());
  n.check_memory(before, slowest);
}

TEST_CASE("a node out of file descriptors refuses new peers without "
          "spinning",
          "[adversarial][node]") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitized process out of descriptors cannot check itself: UBSan's
  // vptr check reads memory through a pipe (a failed pipe() reads as an
  // invalid object, a false finding), and its suppressions
  // (tests/sanitize/ubsan.supp) need a symbolizer it cannot start.
  WARN("skipped under sanitizers: the node cannot symbolize at its limit");
  return;
#endif
  // prlimit execs the node with a limit of 64 descriptors.
  std::vector<std::string> args{"--nofile=64", TRELLIS_NODE_EXE};
  for (auto& x : node_args())
    args.push_back(x == "--handshake-timeout-ms=1000"
                     ? "--handshake-timeout-ms=20000"
                     : x);
  node_process a{"/usr/bin/prlimit", args};
  std::vector<raw_socket> hoard;
  for (int i = 0; i < 80; ++i) {
    hoard.emplace_back(a.port());
    hoard.back().send(basp_header(1, 100).substr(0, 8));
  }
  // The node took what it could; let it settle, then measure.
  std::this_thread::sleep_for(500ms);
  auto t0 = cpu_ticks(a.pid());
  std::this_thread::sleep_for(2s);
  auto used = cpu_ticks(a.pid()) - t0;
  auto hz = sysconf(_SC_CLK_TCK);
  WARN("node CPU time over 2 s at its descriptor limit: "
       << (used * 1000 / hz) << " ms");
  // A spinning I/O thread uses all of the 2 s; an idle one next to nothing.
  CHECK(used < hz);
  raw_socket late{a.port()};
  late.send(basp_header(1, 100));
  CHECK(late.closed_within(patience));
  CHECK(a.running());
  // Descriptors back: a peer is served again.
  hoard.clear();
  dist_fixture f{supervisor_config(), node_args()};
  auto tree = supervisor("root").child(
    remote_worker("w", "pinger").nodes({a.address()}));
  std::unique_ptr<caf::actor> root;
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (!root && std::chrono::steady_clock::now() < deadline)
    if (auto x = start_supervisor(f.sys, tree))
      root = std::make_unique<caf::actor>(*x);
  REQUIRE(root);
  CHECK(f.ping(f.info(*root, "w").actor) == "pong 1");
  stop_supervisor(f.sys, *root);
}

TEST_CASE("a supervisor that connects to a hostile port fails the start "
          "and stays up",
          "[adversarial][node]") {
  dist_fixture f{supervisor_config(), node_args()};
  log_capture logs;
  raw_listener hostile;
  struct answer {
    const char* what;
    std::string bytes;
  };
  const answer answers[] = {
    {"client handshake without payload", basp_header(1, 0, 3)},
    {"server handshake without payload", basp_header(0, 0, 3)},
    {"4 GB server handshake", basp_header(0, 0xffffffffu, 3)},
    {"unknown operation", basp_header(0x42, 0)},
    {"nothing", ""},
  };
  for (auto& x : answers) {
    CAPTURE(x.what);
    std::thread server{[&] {
      auto s = hostile.accept(patience);
      if (!s.connected())
        return;
      s.send(x.bytes);
      s.closed_within(patience);
    }};
    auto tree = supervisor("root").intensity(0).child(
      remote_worker("w", "pinger")
        .nodes({"127.0.0.1:" + std::to_string(hostile.port())}));
    auto root = start_supervisor(f.sys, tree);
    server.join();
    REQUIRE_FALSE(root);
    CHECK(f.sys.render(root.error()).find("started on none of its nodes")
          != std::string::npos);
  }
  CHECK(logs.reports("connection_refused").size() >= 4);
}

// CAF 0.17.6's BASP broker spawns an actor for every node it learns of and
// keeps it in `basp_broker::spawn_servers` for good, even once the node is
// gone: each forged peer cost the node about 2.5 KB (node_transport.cpp,
// purge_unreachable_nodes). A handle to an actor on a third node makes CAF
// learn that node too, with a route through the peer and a proxy.
TEST_CASE("a forged node that handshakes and leaves leaves nothing behind, "
          "nor do the nodes it names",
          "[adversarial][node]") {
  listening_node n;
  REQUIRE_FALSE(n.before.proxies);
  const int peers = 50 * adversarial_rounds();
  // Every other peer names four more nodes.
  for (int i = 0; i < peers; ++i)
    REQUIRE(forged_peer(*n.port, static_cast<uint32_t>(i), i % 2 * 4));
  // Each closing purges after the broker's own cleanup: wait for the last.
  auto now = n.settled();
  CHECK(now.spawn_servers == n.before.spawn_servers);
  CHECK_FALSE(now.proxies);
  // A real peer is still served.
  auto a = n.f.start_node_process();
  auto tree = supervisor("root").child(
    remote_worker("w", "pinger").nodes({a->address()}));
  auto root = start_supervisor(n.f.sys, tree);
  REQUIRE(root);
  CHECK(n.f.ping(n.f.info(*root, "w").actor) == "pong 1");
  CHECK(learned_nodes_of(n.f.sys).spawn_servers
        == n.before.spawn_servers + 1);
  stop_supervisor(n.f.sys, *root);
}

// A node the broker learns after a connection's closing was handled (a BASP
// worker still reading handles from it) has no route; the closing's own
// purge came too soon for it. The sweeper purges again one to two seconds
// after each closing, also after a closing while a sweep was pending.
TEST_CASE("a node learned just after a peer left goes with the next sweep",
          "[adversarial][node]") {
  listening_node n;
  // The first closing asks for a sweep a second later, the second (while
  // that is pending) for one more after it; the node comes between the two.
  REQUIRE(forged_peer(*n.port, 1));
  std::this_thread::sleep_for(500ms);
  REQUIRE(forged_peer(*n.port, 2));
  std::this_thread::sleep_for(1s);
  REQUIRE(learn_unreachable_node(n.f.sys, 3));
  auto now = n.settled();
  CHECK(now.spawn_servers == n.before.spawn_servers);
}

TEST_CASE("forged peers that handshake and leave do not grow a node",
          "[adversarial][node]") {
  dist_fixture f{supervisor_config(), node_args()};
  auto a = f.start_node_process();
  // Warm up: the heap's own slack and CAF's pools settle first.
  uint32_t n = 0;
  for (int i = 0; i < 500; ++i)
    REQUIRE(forged_peer(a->port(), n++));
  std::this_thread::sleep_for(1s);
  auto before = rss_kib(a->pid());
  const int peers = 3000 * adversarial_rounds();
  for (int i = 0; i < peers; ++i)
    REQUIRE(forged_peer(a->port(), n++));
  std::this_thread::sleep_for(1s);
  auto after = rss_kib(a->pid());
  auto per_peer = (after - before) * 1024 / peers;
  WARN("node RSS before " << before << " KiB, after " << peers
                          << " forged peers " << after << " KiB: "
                          << per_peer << " bytes a peer");
  REQUIRE(a->running());
  // CAF kept about 2,500 bytes a peer (RSS) for good.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer keeps what was freed (AddressSanitizer's quarantine: 9.7 KB
  // a peer measured): RSS tells nothing here; the test above reads CAF's map.
#else
  CHECK(per_peer < forged_peer_bound);
#endif
}
