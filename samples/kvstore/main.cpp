// kvstore: a key-value server that speaks enough of the Redis protocol
// (RESP2) for redis-cli and redis-benchmark, built as a supervision tree.
//
//   root (one_for_one, at most 3 restarts in 10 s)
//   ├── keyspace (one_for_one; its budget grows with --chaos)
//   │   └── shard-0 ... shard-N-1   worker: a part of the keys; checkpoints
//   │                               every change before acknowledging it
//   ├── connections (dynamic; its budget grows with --chaos)
//   │   └── connection#K            broker: one client, transient
//   ├── listener                    broker: accepts clients on 127.0.0.1:PORT
//   └── chaos                       worker: crashes connections and shards at
//                                   random (only with --chaos RATE)
//
// A crashed shard comes back with every write it acknowledged (its
// checkpoints), and connections reach it through stable handles that buffer
// while it is down, so its clients notice nothing. A crashed connection
// closes its client's socket, and only that one.

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#ifdef KVSTORE_JEMALLOC
#  include <jemalloc/jemalloc.h>
#endif

#include "chaos.hpp"
#include "connection.hpp"
#include "runtime.hpp"
#include "shard.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace {

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  size_t shards = 4;
  size_t max_clients = 10000;
  size_t max_bulk = kvstore::resp::limits{}.max_bulk;
  kvstore::output_limits output;
  kvstore::input_limits input;
  std::string data_dir;
  kvstore::chaos_options chaos;
  trellis::log_level log_level = trellis::log_level::warn;
};

constexpr char usage[] = R"(usage: kvstore [options]
A Redis-compatible (RESP2) key-value server built as a Trellis supervision tree.

  --host ADDR           address to listen on (default 127.0.0.1)
  --port N              port to listen on; 0 picks a free one (default 6379)
  --shards N            shard actors holding the keys (default 4)
  --data-dir DIR        keep checkpoints in files under DIR, so that the data
                        survives the process (default: in memory, surviving
                        crashes of shards but not of the process)
  --max-clients N       most clients at once (default 10000; lowered, with
                        a warning, to 32 below the descriptor limit)
  --max-bulk BYTES      longest bulk string accepted (default 16777216)
  --client-output-limit BYTES  unsent replies a client may hold before it
                        is disconnected, and the largest reply: a larger one
                        is answered an error (default 33554432)
  --total-output-limit BYTES   unsent replies of all clients; past it, the
                        clients holding most are disconnected (default 268435456)
  --client-output-timeout SECONDS  a client whose unsent replies stay above
                        1 MiB this long is disconnected (default 10)
  --total-input-limit BYTES  partial requests of all clients; the client
                        whose request would pass it is answered an error and
                        disconnected; apart, commands read and not yet
                        answered, past which clients wait (default 134217728)
  --client-input-timeout SECONDS  a client that sends nothing for this long
                        in the middle of a request is answered an error and
                        disconnected; 0: never (default 10)
  --chaos RATE          crash RATE connection and shard actors per second
  --chaos-targets LIST  what chaos crashes: connections,shards (default both)
  --seed N              seed of chaos' random choices (default 1)
  --log-level LEVEL     trace, debug, info, warn (default), error or off
  --help                show this and exit

Prints "kvstore: listening on HOST:PORT" once it serves; stops cleanly on
SIGINT or SIGTERM and prints "kvstore: done".
)";

std::optional<trellis::log_level> parse_level(const std::string& x) {
  static const std::pair<const char*, trellis::log_level> levels[] = {
    {"trace", trellis::log_level::trace}, {"debug", trellis::log_level::debug},
    {"info", trellis::log_level::info},   {"warn", trellis::log_level::warn},
    {"error", trellis::log_level::error}, {"off", trellis::log_level::off},
  };
  for (auto& [name, level] : levels)
    if (x == name)
      return level;
  return std::nullopt;
}

// Returns the options, or the exit code when there is nothing to serve.
std::variant<options, int> parse_options(int argc, char** argv) {
  options opts;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    }
    if (i + 1 == argc) {
      std::cerr << "kvstore: unknown option or missing value: " << arg << "\n"
                << usage;
      return 2;
    }
    std::string value = argv[++i];
    try {
      size_t used = 0;
      auto number = [&] {
        auto x = std::stoull(value, &used);
        if (used != value.size())
          throw std::invalid_argument(value);
        return x;
      };
      if (arg == "--host") {
        opts.host = value;
      } else if (arg == "--port") {
        auto x = number();
        if (x > 65535)
          throw std::out_of_range(value);
        opts.port = static_cast<uint16_t>(x);
      } else if (arg == "--shards") {
        opts.shards = number();
        if (opts.shards == 0 || opts.shards > 1024)
          throw std::out_of_range(value);
      } else if (arg == "--max-clients") {
        opts.max_clients = number();
      } else if (arg == "--max-bulk") {
        opts.max_bulk = number();
      } else if (arg == "--client-output-limit") {
        opts.output.per_client = number();
      } else if (arg == "--total-output-limit") {
        opts.output.total = number();
      } else if (arg == "--client-output-timeout") {
        opts.output.stall_timeout = std::chrono::seconds(number());
      } else if (arg == "--total-input-limit") {
        opts.input.total = number();
      } else if (arg == "--client-input-timeout") {
        opts.input.timeout = std::chrono::seconds(number());
      } else if (arg == "--data-dir") {
        opts.data_dir = value;
      } else if (arg == "--chaos") {
        opts.chaos.rate = std::stod(value, &used);
        if (used != value.size() || !(opts.chaos.rate >= 0)
            || opts.chaos.rate > 10000)
          throw std::out_of_range(value);
      } else if (arg == "--chaos-targets") {
        opts.chaos.connections = value.find("connections") != std::string::npos;
        opts.chaos.shards = value.find("shards") != std::string::npos;
        if (!opts.chaos.connections && !opts.chaos.shards)
          throw std::invalid_argument(value);
      } else if (arg == "--seed") {
        opts.chaos.seed = number();
      } else if (arg == "--log-level") {
        auto level = parse_level(value);
        if (!level)
          throw std::invalid_argument(value);
        opts.log_level = *level;
      } else {
        std::cerr << "kvstore: unknown option " << arg << "\n" << usage;
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "kvstore: bad value for " << arg << ": " << value << '\n';
      return 2;
    }
  }
  return opts;
}

// Descriptors kept for everything but clients: the listening socket, CAF's
// pipes, checkpoint files (--data-dir), a log file, the tools a process runs
// (a sanitizer's symbolizer among them). A server whose clients take its
// last descriptor can no longer write a checkpoint. As Redis does, the soft
// limit is raised toward what --max-clients needs, and --max-clients is
// lowered, with a warning, where the hard limit does not allow it.
constexpr rlim_t reserved_descriptors = 32;

// False, with the reason on stderr, when the limit leaves no room for a
// single client.
bool fit_clients_to_descriptors(options& opts) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return true; // unknown: as asked
  constexpr auto most = std::numeric_limits<rlim_t>::max();
  rlim_t clients = std::min<unsigned long long>(opts.max_clients,
                                                most - reserved_descriptors);
  auto wanted = clients + reserved_descriptors;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted) {
    auto raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY
                        ? wanted
                        : std::min(wanted, lim.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
      lim = raised;
  }
  if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= wanted)
    return true;
  if (lim.rlim_cur <= reserved_descriptors) {
    std::cerr << "kvstore: the descriptor limit (ulimit -n) is "
              << lim.rlim_cur << ", which leaves no room for clients: the "
              << "server keeps " << reserved_descriptors
              << " for its own files\n";
    return false;
  }
  auto fit = lim.rlim_cur - reserved_descriptors;
  std::cerr << "kvstore: --max-clients lowered from " << opts.max_clients
            << " to " << fit << ": the descriptor limit (ulimit -n) is "
            << lim.rlim_cur << " and the server keeps "
            << reserved_descriptors << " for its own files\n";
  opts.max_clients = fit;
  return true;
}

// The service's own part of a coordinated shutdown: no new clients (and no
// more chaos), then every connection answers what its client sent and
// closes; the tree stops after that.
void add_shutdown_tasks(trellis::coordinated_shutdown& sd,
                        caf::actor_system& sys, const caf::actor& root,
                        bool chaos) {
  using clock = std::chrono::steady_clock;
  // Each call waits no longer than the phase: a task still running when
  // main returns would outlive the actor system it uses.
  auto left = [](clock::time_point deadline) {
    return std::max<caf::timespan>(deadline - clock::now(), 1ms);
  };
  sd.add_task(trellis::shutdown_phase::stop_intake, "listener",
              [&sys, root, chaos, left](clock::time_point deadline) {
                if (chaos)
                  trellis::terminate_child(sys, root, "chaos", left(deadline));
                return trellis::terminate_child(sys, root, "listener",
                                                left(deadline));
              });
  sd.add_task(
    trellis::shutdown_phase::drain, "connections",
    [&sys, root, left](clock::time_point deadline) -> caf::error {
      auto sup = trellis::lookup(sys, root, "root/connections",
                                 left(deadline));
      if (!sup)
        return sup.error();
      // Listed again each round: a client accepted just before the
      // listener stopped gets its child late.
      std::set<caf::actor_addr> told;
      for (;;) {
        auto children = trellis::which_children(sys, *sup, left(deadline));
        if (!children)
          return children.error();
        size_t connected = 0;
        for (auto& child : *children) {
          if (!child.actor)
            continue;
          ++connected;
          if (told.insert(child.actor.address()).second)
            caf::anon_send(child.actor, kvstore::drain_atom::value);
        }
        if (connected == 0)
          return caf::none;
        if (clock::now() >= deadline)
          return trellis::make_error(trellis::errc::timeout, "connections",
                                     std::to_string(connected)
                                       + " clients still connected");
        std::this_thread::sleep_for(10ms);
      }
    });
}

// The allocator, for INFO's mem_allocator, named as Redis names it.
std::string mem_allocator() {
#ifdef KVSTORE_JEMALLOC
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || !version)
    return "jemalloc";
  // "5.3.0-0-g54eaed1d..." is jemalloc-5.3.0.
  return "jemalloc-" + std::string{version, std::strcspn(version, "-_")};
#else
  return "libc";
#endif
}

} // namespace

int main(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (auto code = std::get_if<int>(&parsed))
    return *code;
  auto& opts = std::get<options>(parsed);
  if (!fit_clients_to_descriptors(opts))
    return 1;

  // First, so that every thread inherits the blocked signals.
  trellis::stop_signal stop;
  signal(SIGPIPE, SIG_IGN);

  caf::actor_system_config cfg;
  trellis::configure(cfg);
  // A scheduler thread per core, not CAF's minimum of four, and naps of
  // 200 us rather than 50 us while an idle thread polls: shards' jobs are
  // short, and on a small machine the extra threads' wakeups took the CPU
  // that the connections (on the middleman's thread) needed.
  cfg.set("scheduler.max-threads",
          std::max(2u, std::thread::hardware_concurrency()));
  cfg.set("work-stealing.moderate-sleep-duration",
          caf::timespan{std::chrono::microseconds(200)});
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  trellis::set_log_level(opts.log_level);

  auto rt = std::make_shared<kvstore::runtime>();
  rt->host = opts.host;
  rt->port = opts.port;
  rt->shards = opts.shards;
  rt->max_clients = opts.max_clients;
  rt->limits.max_bulk = opts.max_bulk;
  rt->output = opts.output;
  rt->input = opts.input;
  rt->chaos_rate = opts.chaos.rate;
  rt->mem_allocator = mem_allocator();

  // The checkpoints outlive every supervisor in the tree: in memory they
  // last as long as the process, in files longer.
  auto store = opts.data_dir.empty()
                 ? trellis::make_memory_checkpoint_store()
                 : trellis::make_file_checkpoint_store(opts.data_dir);

  // Chaos crashes up to `rate` children a second: budgets allow twice that.
  auto budget = 10 + static_cast<int>(std::ceil(opts.chaos.rate * 10 * 2));

  // The tree, in code that reads like the tree.
  auto keyspace = trellis::supervisor("keyspace")
                    .strategy(trellis::strategy::one_for_one)
                    .intensity(budget)
                    .period(10s);
  for (size_t i = 0; i < opts.shards; ++i)
    keyspace.child(kvstore::shard_worker("shard-" + std::to_string(i), i,
                                         opts.shards, store,
                                         opts.output.per_client));
  auto tree = trellis::supervisor("root")
                .strategy(trellis::strategy::one_for_one)
                .intensity(3)
                .period(10s)
                .child(keyspace)
                .child(trellis::dynamic_supervisor(
                         "connections",
                         kvstore::connection_worker("connection", rt))
                         .intensity(budget)
                         .period(10s)
                         .max_children(opts.max_clients))
                .child(kvstore::listener_worker("listener", rt));
  if (opts.chaos.rate > 0)
    tree.child(kvstore::chaos_worker("chaos", opts.chaos, rt));

  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "kvstore: start failed: " << sys.render(root.error()) << '\n';
    return 1;
  }

  // Connections reach the shards through stable handles: what they send to a
  // shard that is restarting waits for its next incarnation.
  std::vector<caf::actor> shards;
  for (size_t i = 0; i < opts.shards; ++i) {
    auto path = "root/keyspace/shard-" + std::to_string(i);
    auto hdl = trellis::stable_handle(sys, *root, path, 100'000);
    if (!hdl) {
      std::cerr << "kvstore: no handle for " << path << ": "
                << sys.render(hdl.error()) << '\n';
      trellis::stop_supervisor(sys, *root);
      return 1;
    }
    shards.push_back(*hdl);
  }
  rt->shard_handles(std::move(shards));
  std::cout << "kvstore: listening on " << opts.host << ':' << rt->port
            << std::endl;

  // READY=1 and the watchdog under systemd (docs/operations.md); nothing
  // without $NOTIFY_SOCKET.
  auto notifier = trellis::start_systemd_notifier(sys, *root);
  if (!notifier)
    std::cerr << "kvstore: not telling systemd: "
              << sys.render(notifier.error()) << '\n';
  trellis::coordinated_shutdown sd{sys, *root};
  add_shutdown_tasks(sd, sys, *root, opts.chaos.rate > 0);
  auto result = sd.run_on(stop);
  if (!stop.requested()) {
    std::cerr << "kvstore: the tree ended: " << sys.render(result) << '\n';
    return 1;
  }
  std::cout << "kvstore: signal " << stop.signal_number() << ", shutdown: "
            << (result ? sys.render(result) : std::string{"clean"}) << '\n'
            << "kvstore: done" << std::endl;
  return 0;
}
