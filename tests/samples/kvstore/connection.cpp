// The connection broker over real loopback sockets, against shards that the
// test plays: what docs/kvstore.md promises about read backpressure and
// about `-ERR shard N unavailable`, which the real shards cannot be made to
// show on demand.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "connection.hpp"
#include "resp.hpp"
#include "router.hpp"
#include "runtime.hpp"
#include "shard.hpp"
#include "raw_socket.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using trellis::test::patience;

namespace {

using hold_atom = caf::atom_constant<caf::atom("hold")>;
using answer_atom = caf::atom_constant<caf::atom("answer")>;
using fail_atom = caf::atom_constant<caf::atom("fail")>;
using batch_atom = caf::atom_constant<caf::atom("batch")>;

// The docs' bounds (docs/kvstore.md, "Malformed input" and "Hostile
// clients").
constexpr size_t max_pipeline = 1024;
constexpr uint64_t output_pause = 1u << 20;

struct fake_shard_state {
  // Answers each command with this bulk string.
  std::string payload;
  // Keeps answers until told `answer_atom`.
  bool holding = false;
  // Answers every batch with this error instead, when set.
  caf::error failure;
  std::vector<std::pair<caf::response_promise, size_t>> held;
  static inline const char* name = "fake_shard";
};

// A shard the test plays: tells `probe` the size of each batch, then
// answers it, holds it (`hold_atom` until `answer_atom`), or fails it
// (`fail_atom` until `answer_atom`).
caf::behavior fake_shard(caf::stateful_actor<fake_shard_state>* self,
                         std::string payload, caf::actor probe) {
  self->state.payload = std::move(payload);
  auto answers = [self](size_t n) {
    return std::vector<kvstore::resp::reply>(
      n, kvstore::resp::bulk(self->state.payload));
  };
  return {
    [self, probe, answers](kvstore::exec_atom, const kvstore::batch& xs)
      -> caf::result<std::vector<kvstore::resp::reply>> {
      self->send(probe, batch_atom::value, xs.size());
      auto& st = self->state;
      if (st.failure)
        return st.failure;
      if (!st.holding)
        return answers(xs.size());
      st.held.emplace_back(self->make_response_promise(), xs.size());
      return caf::delegated<std::vector<kvstore::resp::reply>>{};
    },
    [self](hold_atom) { self->state.holding = true; },
    [self](fail_atom, caf::error& err) { self->state.failure = std::move(err); },
    [self, answers](answer_atom) {
      auto& st = self->state;
      st.holding = false;
      st.failure = caf::error{};
      for (auto& [promise, n] : st.held)
        promise.deliver(answers(n));
      st.held.clear();
    },
  };
}

struct kv_config : trellis::test::test_config {
  kv_config() {
    load<caf::io::middleman>();
  }
};

// The connections and the listener of kvstore's tree, with fake shards.
struct server {
  kv_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor probe{sys};
  std::shared_ptr<kvstore::runtime> rt = std::make_shared<kvstore::runtime>();
  std::vector<caf::actor> shards;
  caf::actor root;

  // `tune` adjusts the runtime before the tree starts.
  explicit server(size_t shard_count, std::string payload,
                  const std::function<void(kvstore::runtime&)>& tune = {}) {
    trellis::set_log_level(trellis::log_level::off);
    rt->port = 0;
    rt->shards = shard_count;
    if (tune)
      tune(*rt);
    for (size_t i = 0; i < shard_count; ++i)
      shards.push_back(sys.spawn(fake_shard, payload, caf::actor{probe}));
    rt->shard_handles(shards);
    auto tree = trellis::supervisor("root")
                  .child(trellis::dynamic_supervisor(
                    "connections", kvstore::connection_worker("connection", rt)))
                  .child(kvstore::listener_worker("listener", rt));
    auto started = trellis::start_supervisor(sys, tree);
    REQUIRE(started);
    root = *started;
  }

  ~server() {
    trellis::stop_supervisor(sys, root);
    for (auto& x : shards)
      caf::anon_send_exit(x, caf::exit_reason::kill);
  }

  uint64_t processed() const {
    return rt->stats.commands_processed;
  }

  // Waits for a shard's next batch; returns its size.
  size_t next_batch(const std::string& what) {
    size_t result = 0;
    trellis::test::receive_or_fail(probe, what, [&](batch_atom, size_t n) {
      result = n;
    });
    return result;
  }
};

// A client on a blocking loopback socket; every read is bounded.
class client {
public:
  // A small `rcvbuf` makes the kernel hold few of the server's replies.
  explicit client(uint16_t port, int rcvbuf = 0) : sock_(port, rcvbuf) {
    REQUIRE(sock_.connected());
  }

  // This end's port, which names the connection in /proc/net/tcp.
  uint16_t port() const {
    return sock_.local_port();
  }

  void send(const std::string& bytes) {
    REQUIRE(sock_.send(bytes));
  }

  // Reads exactly `n` bytes, failing with `what` when the server closes or
  // `patience` passes first.
  std::string read(size_t n, const std::string& what) {
    std::string result;
    auto deadline = std::chrono::steady_clock::now() + patience;
    char buf[65536];
    while (result.size() < n) {
      if (std::chrono::steady_clock::now() >= deadline)
        FAIL("waited " << patience.count() << " s for " << what << ", got "
                       << result.size() << " of " << n << " bytes");
      pollfd p{sock_.fd(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      auto k = ::recv(sock_.fd(), buf, std::min(sizeof(buf), n - result.size()), 0);
      if (k <= 0)
        FAIL("the server closed the connection while the test waited for "
             << what);
      result.append(buf, static_cast<size_t>(k));
    }
    return result;
  }

  // Reads one line, CRLF included.
  std::string read_line(const std::string& what) {
    std::string result;
    while (result.size() < 2 || result.compare(result.size() - 2, 2, "\r\n"))
      result += read(1, what);
    return result;
  }

private:
  trellis::test::raw_socket sock_;
};

std::string command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (auto& x : args)
    out += "$" + std::to_string(x.size()) + "\r\n" + x + "\r\n";
  return out;
}

std::string times(size_t n, const std::string& x) {
  std::string out;
  out.reserve(n * x.size());
  for (size_t i = 0; i < n; ++i)
    out += x;
  return out;
}

// The bytes that arrived on the server's end of a loopback connection and
// that it has not read (the receive queue in /proc/net/tcp), or -1 when the
// connection is not there.
long unread_by_server(uint16_t server_port, uint16_t client_port) {
  std::ifstream in{"/proc/net/tcp"};
  std::string line;
  std::getline(in, line);
  char local[64];
  char remote[64];
  unsigned state = 0;
  unsigned long tx = 0;
  unsigned long rx = 0;
  while (std::getline(in, line)) {
    if (std::sscanf(line.c_str(), "%*d: %63s %63s %x %lx:%lx", local, remote,
                    &state, &tx, &rx)
        != 5)
      continue;
    auto port_of = [](const char* x) {
      auto colon = std::strchr(x, ':');
      return colon ? std::strtoul(colon + 1, nullptr, 16) : 0ul;
    };
    if (state == 1 && port_of(local) == server_port
        && port_of(remote) == client_port)
      return static_cast<long>(rx);
  }
  return -1;
}

// Waits until `pred` holds, failing with `what` after `patience`.
void await(const std::function<bool()>& pred, const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      FAIL("waited " << patience.count() << " s for " << what << ", in vain");
    std::this_thread::sleep_for(5ms);
  }
}

// Checks that the server leaves at least `n` bytes of the client unread, and
// still does a while later: it does not read from the client.
void check_not_read(const server& srv, const client& c, long n) {
  auto unread = [&] { return unread_by_server(srv.rt->port, c.port()); };
  await([&] { return unread() >= n; },
        "the client's last " + std::to_string(n)
          + " bytes to arrive at the server's socket");
  auto first = unread();
  std::this_thread::sleep_for(300ms);
  CHECK(unread() == first);
}

// A key that `route_command` sends to `shard` of `count`.
std::string key_on(size_t shard, size_t count) {
  for (int i = 0;; ++i) {
    auto key = "k" + std::to_string(i);
    if (kvstore::shard_of(key, count) == shard)
      return key;
  }
}

} // namespace

TEST_CASE("a connection stops reading at 1,024 commands under way and reads "
          "again once half of them are answered",
          "[kvstore][backpressure]") {
  server srv{1, "v"};
  caf::anon_send(srv.shards[0], hold_atom::value);
  client c{srv.rt->port};
  auto get = command({"GET", "k"});
  c.send(times(2000, get));
  srv.next_batch("the shard's first batch");
  await([&] { return srv.processed() >= max_pipeline; },
        "the connection to take 1,024 commands");
  // None of them is answered: it takes no more.
  CHECK(srv.processed() == max_pipeline);
  c.send(times(100, get));
  check_not_read(srv, c, static_cast<long>(100 * get.size()));
  CHECK(srv.processed() == max_pipeline);
  // The shard answers: the connection reads and answers everything, in
  // order.
  caf::anon_send(srv.shards[0], answer_atom::value);
  auto reply = kvstore::resp::encode(kvstore::resp::bulk("v"));
  CHECK(c.read(2100 * reply.size(), "2,100 replies") == times(2100, reply));
  CHECK(srv.processed() == 2100);
  CHECK(unread_by_server(srv.rt->port, c.port()) == 0);
}

TEST_CASE("a connection stops reading while its client's unsent replies pass "
          "1 MiB and reads again once they drain",
          "[kvstore][backpressure]") {
  // 64 replies of 256 KiB: 16 MiB, more than the kernel holds for a client
  // with a small receive buffer, less than the per-client limit (32 MiB).
  std::string value(256 * 1024, 'x');
  server srv{1, value, [](kvstore::runtime& rt) {
               // No disconnection while the test holds the replies.
               rt.output.stall_timeout = std::chrono::seconds(600);
             }};
  client c{srv.rt->port, 4096};
  auto get = command({"GET", "k"});
  c.send(times(64, get));
  CHECK(srv.next_batch("the batch of 64 GETs") == 64);
  await([&] { return srv.rt->stats.output_bytes > output_pause; },
        "the client's unsent replies to pass 1 MiB");
  c.send(times(20, get) + command({"PING"}));
  check_not_read(srv, c, static_cast<long>(20 * get.size()));
  CHECK(srv.processed() == 64);
  // The client reads: its replies drain, and the rest is read and answered.
  auto reply = kvstore::resp::encode(kvstore::resp::bulk(value));
  for (int i = 0; i < 84; ++i)
    REQUIRE(c.read(reply.size(), "reply " + std::to_string(i + 1)) == reply);
  CHECK(c.read_line("PONG") == "+PONG\r\n");
  CHECK(srv.processed() == 85);
  CHECK(srv.rt->stats.output_limit_disconnects == 0);
}

TEST_CASE("a shard that does not answer gives its commands `-ERR shard N "
          "unavailable`, and the connection goes on",
          "[kvstore][shard_unavailable]") {
  auto ok = kvstore::resp::encode(kvstore::resp::bulk("v"));
  auto k0 = key_on(0, 2);
  auto k1 = key_on(1, 2);
  // The connection serves the other shard and PING, and shard 1 again once
  // it answers.
  auto goes_on = [&](server& srv, client& c) {
    c.send(command({"GET", k0}) + command({"PING"}));
    CHECK(c.read(ok.size(), "shard 0's answer") == ok);
    CHECK(c.read_line("PONG") == "+PONG\r\n");
    caf::anon_send(srv.shards[1], answer_atom::value);
    c.send(command({"GET", k1}));
    CHECK(c.read(ok.size(), "shard 1's answer, once it answers") == ok);
  };
  SECTION("no answer within the shard timeout") {
    server srv{2, "v", [](kvstore::runtime& rt) { rt.shard_timeout = 1s; }};
    caf::anon_send(srv.shards[1], hold_atom::value);
    client c{srv.rt->port};
    c.send(command({"GET", k1}));
    CHECK(c.read_line("the error")
          == "-ERR shard 1 unavailable: system_error(request_timeout)\r\n");
    goes_on(srv, c);
  }
  SECTION("a shard whose incarnations keep dying with the batch") {
    server srv{2, "v", [](kvstore::runtime& rt) { rt.shard_attempts = 3; }};
    caf::anon_send(srv.shards[1], fail_atom::value,
                   caf::make_error(caf::sec::request_receiver_down));
    client c{srv.rt->port};
    c.send(command({"GET", k1}));
    CHECK(c.read_line("the error")
          == "-ERR shard 1 unavailable: system_error(request_receiver_down)"
             "\r\n");
    // Sent again three times after the first.
    CHECK(srv.rt->stats.shard_retries == 3);
    goes_on(srv, c);
  }
}
