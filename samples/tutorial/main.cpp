// tutorial: one service built step by step (docs/tutorial.md). Lines of
// "key=value" records come in through an ingest worker, are parsed by a
// pool of parsers, enriched by a flaky geo service behind a circuit
// breaker, and stored by a writer that checkpoints its table.
//
//   root (one_for_one, at most 10 restarts in 10 s)
//   ├── writer        step 3: keeps the latest value per key, checkpoints
//   │                 step 4: health-checked, on a thread of its own
//   ├── pool          step 2 (rest_for_one)
//   │   ├── parsers   dynamic: parser#1..#3
//   │   └── dispatch  fills the pool (again after a restart), spreads lines
//   ├── geo           step 5: the flaky dependency, restarts with backoff
//   ├── geo_breaker   step 5: the circuit breaker in front of it
//   └── ingest        step 1: the front door, runs each line through the rest
//
// `tutorial --step N` (1..7) runs the service as it stands after step N
// and a scenario that breaks it on purpose, printing what the tree did.
// It exits 0 only if the tree did what the step is about, else it prints
// "tutorial: FAILED ...". Step 6 serves the tree with `--observer PORT` (0,
// the default, picks a port). With `--linger` the tree keeps running after
// the scenario until SIGINT or SIGTERM (the signal tests use it).

#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "geo.hpp"
#include "harness.hpp"
#include "health.hpp"
#include "ingest.hpp"
#include "observe.hpp"
#include "parser_pool.hpp"
#include "stop_on_signal.hpp"
#include "trellis/actors/circuit_breaker.hpp"
#include "trellis/all.hpp"
#include "writer.hpp"

using namespace std::chrono_literals;
using namespace tutorial;

namespace {

/// What the scenarios break on purpose: the writer's disk and the geo
/// service's backend.
struct faults {
  std::shared_ptr<disk> writer_disk = std::make_shared<disk>();
  std::shared_ptr<outage> geo_outage = std::make_shared<outage>();
};

// [tree]
// The service as it stands after `step`: each step adds to the tree.
trellis::supervisor_spec service(int step, const faults& f) {
  auto root = trellis::supervisor("root")
                .strategy(trellis::strategy::one_for_one)
                .intensity(10)
                .period(10s);
  std::vector<stage> stages; // what ingest runs each line through
  if (step >= 3)
    root.child(step >= 4 ? watched(writer(f.writer_disk))
                         : writer(f.writer_disk));
  if (step >= 2) {
    root.child(parser_pool(3));
    stages.push_back({"root/pool/dispatch"});
  }
  if (step >= 5) {
    root.child(geo(f.geo_outage)).child(geo_breaker());
    stages.push_back({"root/geo_breaker", true}); // optional
  }
  if (step >= 3)
    stages.push_back({"root/writer"});
  // Last: the front door opens once everything behind it runs.
  root.child(ingest(stages));
  return root;
}
// [tree]

bool contains(const std::string& x, const std::string& part) {
  return x.find(part) != std::string::npos;
}

void step1(harness& h) {
  std::cout << "\n1. lines come in:\n";
  h.expect(h.send("temp.berlin=21") == "#1 temp.berlin=21", "#1");
  h.expect(h.send("temp.paris=19") == "#2 temp.paris=19", "#2");
  std::cout << "\n2. an empty line hits ingest's bug; the supervisor "
               "restarts it:\n";
  // [break1]
  auto before = h.at("root/ingest");
  auto answer = h.send("");
  h.await("a new root/ingest", [&] {
    auto now = h.at("root/ingest");
    return now && now != before;
  });
  // [break1]
  h.expect(contains(answer, "std::out_of_range"), "the crash as the answer");
  std::cout << "\n3. the new incarnation serves, counting from 1 again "
               "(its state died with the old one):\n";
  h.expect(h.send("temp.nyc=25") == "#1 temp.nyc=25", "#1 after the restart");
  h.print_tree();
}

void step2(harness& h) {
  std::cout << "\n1. the pool parses lines:\n";
  h.await("3 running parsers",
          [&] { return h.running_children("root/pool/parsers") == 3; });
  h.expect(h.send("Temp.Berlin = 21") == "#1 temp.berlin=21", "a parsed line");
  h.expect(h.send("temp.paris=19") == "#2 temp.paris=19", "a parsed line");
  std::cout << "\n2. a line that is not a record crashes one parser; the "
               "dynamic supervisor restarts it alone:\n";
  auto first = h.at("root/pool/parsers");
  auto answer = h.send("garbage");
  h.expect(contains(answer, "not a record"), "the parser's crash");
  auto restarts = [&] {
    uint64_t n = 0;
    if (auto children = trellis::which_children(h.sys, first))
      for (auto& child : *children)
        n += child.restart_count;
    return n;
  };
  h.await("a parser restarted, 3 running", [&] {
    return restarts() == 1 && h.running_children("root/pool/parsers") == 3;
  });
  std::cout << "  parser restarts: " << restarts() << '\n';
  h.expect(h.at("root/pool/parsers") == first, "the same parsers supervisor");
  std::cout << "\n3. two more bad lines: 3 restarts in 10 s exceed the "
               "parsers' budget (2); they give up, pool restarts them and "
               "dispatch (rest_for_one), and dispatch refills the pool:\n";
  // [break2]
  auto parsers = h.at("root/pool/parsers");
  h.send("more garbage");
  h.send("and more");
  h.await("a new root/pool/parsers with 3 running parsers", [&] {
    auto now = h.at("root/pool/parsers");
    return now && now != parsers
           && h.running_children("root/pool/parsers") == 3;
  });
  // [break2]
  h.expect(h.send("temp.nyc=25") == "#6 temp.nyc=25",
           "the refilled pool parses");
  h.print_tree();
}

void step3(harness& h) {
  std::cout << "\n1. the writer stores what the pool parsed:\n";
  h.send("temp.berlin=21");
  h.expect(contains(h.send("temp.paris=19"), "(2 keys)"), "2 keys stored");
  std::cout << "\n2. the writer is killed; its next incarnation starts "
               "from its checkpoint:\n";
  // [break3]
  auto before = h.at("root/writer");
  h.self->send_exit(before, caf::exit_reason::kill);
  h.await("a new root/writer", [&] {
    auto now = h.at("root/writer");
    return now && now != before;
  });
  // [break3]
  auto berlin = h.value_of("temp.berlin");
  std::cout << "  temp.berlin is still " << berlin << '\n';
  h.expect(berlin == "21", "temp.berlin=21 after the restart");
  h.expect(contains(h.send("temp.tokyo=28"), "(3 keys)"), "3 keys stored");
  h.print_tree();
}

void step4(harness& h, const faults& f) {
  std::cout << "\n1. the writer stores lines:\n";
  h.send("temp.berlin=21");
  std::cout << "\n2. its disk stops answering: the writer is stuck in a "
               "handler; the health check finds it, and the supervisor "
               "replaces it:\n";
  // [break4]
  auto stuck = h.at("root/writer");
  f.writer_disk->stalled = true;
  auto answer = h.send("temp.paris=19"); // times out: nobody answers
  h.await("a new root/writer", [&] {
    auto now = h.at("root/writer");
    return now && now != stuck;
  });
  // [break4]
  h.expect(contains(answer, "error"), "the stuck write to fail");
  h.print_events();
  // Let the stuck incarnation go, so that it reads its kill and ends. (Its
  // save fails: a replaced incarnation cannot overwrite its replacement's.)
  f.writer_disk->stalled = false;
  std::cout << "\n3. the replacement resumed from the checkpoint; the line "
               "that failed is sent again:\n";
  h.expect(h.value_of("temp.berlin") == "21", "temp.berlin=21 kept");
  h.expect(contains(h.send("temp.paris=19"), "(2 keys)"), "2 keys stored");
  h.print_tree();
}

void step5(harness& h, const faults& f) {
  std::cout << "\n1. lines are enriched with their region:\n";
  h.expect(contains(h.send("temp.berlin=21"), "region=eu"), "region=eu");
  std::cout << "\n2. the geo backend goes down: lines are stored without a "
               "region, and once the breaker opens they fail fast:\n";
  // [break5]
  f.geo_outage->down = true;
  bool fast = false;
  for (int i = 0; i < 10 && !fast; ++i)
    fast = contains(h.send("temp.paris=" + std::to_string(19 + i)),
                    "circuit_open");
  // [break5]
  h.expect(fast, "the breaker to open and fail fast");
  h.print_events();
  std::cout << "\n3. the backend is back: after its reset timeout the "
               "breaker lets a trial call through, which closes it:\n";
  // [heal5]
  f.geo_outage->down = false;
  auto breaker = h.at("root/geo_breaker");
  auto half_open = [&] {
    auto state = trellis::breaker_state::open;
    h.self->request(breaker, 1s, caf::get_atom::value,
                    trellis::breaker_state_atom::value)
      .receive([&](trellis::breaker_state x) { state = x; },
               [](caf::error&) {});
    return state == trellis::breaker_state::half_open;
  };
  std::string answer;
  h.await("an enriched line", [&] {
    if (!half_open())
      return false;
    answer = h.send("temp.tokyo=28"); // the trial call
    return !contains(answer, "without");
  });
  // [heal5]
  h.expect(contains(answer, "region=ap") && !contains(answer, "without"),
           "an enriched line");
  h.print_events();
  h.print_tree();
}

void step6(harness& h, uint16_t port, std::optional<trellis::observer>& obs) {
  // [step6]
  auto started = observe(h.sys, h.root, port);
  if (!started) {
    h.expect(false, "an observer: " + h.sys.render(started.error()));
    return;
  }
  obs = std::move(*started);
  std::cout << "tutorial: observer at " << obs->url() << '\n';
  // [step6]
  h.send("temp.berlin=21");
  std::cout << "\n1. the tree as JSON, GET /api/tree:\n";
  auto tree = http_get(obs->port(), "/api/tree");
  std::cout << "  status " << tree.status << ", " << tree.body.size()
            << " bytes\n";
  h.expect(tree.status == 200, "200 from /api/tree");
  auto writer = tree.body.find("{\"path\":\"root/writer\"");
  if (writer != std::string::npos)
    std::cout << "  " << tree.body.substr(writer, tree.body.find('}', writer) + 1 - writer) << '\n';
  for (auto path : {"root/writer", "root/pool/parsers/parser#1",
                    "root/geo_breaker", "root/ingest"}) {
    bool found = contains(tree.body, std::string{"\""} + path + "\"");
    std::cout << "  " << path << (found ? ": found" : ": MISSING") << '\n';
    h.expect(found, path + std::string{" in the JSON"});
  }
  std::cout << "\n2. an operator restarts the writer, POST "
               "/api/restart?path=root/writer:\n";
  // [break6]
  auto before = h.at("root/writer");
  auto restart = http_post(obs->port(), "/api/restart?path=root/writer");
  std::cout << "  status " << restart.status << ": " << restart.body << '\n';
  h.await("a new root/writer", [&] {
    auto now = h.at("root/writer");
    return now && now != before;
  });
  // [break6]
  h.expect(restart.status == 200, "200 from /api/restart");
  auto berlin = h.value_of("temp.berlin");
  std::cout << "  temp.berlin is still " << berlin << '\n';
  h.expect(berlin == "21 region=eu", "temp.berlin kept");
  auto metrics = http_get(obs->port(), "/metrics");
  std::cout << "\n3. GET /metrics: status " << metrics.status << ", "
            << metrics.body.size() << " bytes\n";
  h.expect(metrics.status == 200, "200 from /metrics");
  std::istringstream lines{metrics.body};
  for (std::string line; std::getline(lines, line);)
    if (contains(line, "path=\"root/writer\"") && line[0] != '#')
      std::cout << "  " << line << '\n';
}

// [stop]
// Stops the tree in order and tells why it ended: the children in reverse
// start order, so ingest first (no line comes in that the stages behind it
// could no longer handle) and the writer last.
caf::error stop_in_order(harness& h, const trellis::stop_signal& stop) {
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(h.sys, h.root);
  if (!reason)
    reason = trellis::await_exit(h.sys, h.root);
  std::cout << "tutorial: signal " << stop.signal_number()
            << ", tree stopped: " << h.sys.render(reason) << '\n';
  return reason;
}
// [stop]

} // namespace

int main(int argc, char** argv) {
  // [main]
  // First, before the actor system: SIGINT and SIGTERM then stop the tree
  // in order instead of ending the process (step 7).
  trellis::stop_signal stop;
  std::cout << std::unitbuf; // each line as it happens, also into a pipe
  caf::actor_system_config cfg;
  trellis::configure(cfg); // required: error names, the tree's guard
  caf::actor_system sys{cfg};
  trellis::set_log_level(trellis::log_level::off); // the failures are planned
  // [main]

  int step = 0;
  uint16_t port = 0;
  bool linger = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--step") == 0 && i + 1 < argc)
      step = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--observer") == 0 && i + 1 < argc)
      port = static_cast<uint16_t>(std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--linger") == 0)
      linger = true;
  }
  if (step < 1 || step > 7) {
    std::cerr << "usage: tutorial --step N (1..7) [--observer PORT] "
                 "[--linger]\n";
    return 2;
  }

  faults f;
  // [start]
  auto root = trellis::start_supervisor(sys, service(step, f));
  if (!root) {
    std::cerr << "tutorial: start failed: " << sys.render(root.error())
              << '\n';
    return 1;
  }
  // [start]
  harness h{sys, *root};
  // Step 6's; declared after sys, so that it goes before it.
  std::optional<trellis::observer> obs;
  std::cout << "tutorial: step " << step << " started\n";
  switch (step) {
    case 1: step1(h); break;
    case 2: step2(h); break;
    case 3: step3(h); break;
    case 4: step4(h, f); break;
    case 5: step5(h, f); break;
    case 6: step6(h, port, obs); break;
    case 7:
      h.expect(contains(h.send("temp.berlin=21"), "stored"), "a stored line");
      if (!linger) {
        std::cout << "\n1. the process gets SIGTERM, as from kill or "
                     "systemd:\n";
        // [break7]
        ::kill(::getpid(), SIGTERM);
        stop.wait_for(20s); // the signal arrives on stop_signal's thread
        // [break7]
        h.expect(stop.requested(), "the signal to be seen");
      }
      break;
  }
  samples::linger(argc, argv, "tutorial", stop);
  if (obs)
    obs->stop();
  if (stop.requested()) {
    auto reason = stop_in_order(h, stop);
    h.expect(reason == caf::exit_reason::user_shutdown, "user_shutdown");
    if (step == 7) {
      // The order, from the tree's lifecycle events.
      auto exits = h.exits("root/writer");
      h.expect(!exits.empty() && exits.front() == "root/ingest"
                 && exits.back() == "root/writer",
               "ingest to stop first and the writer last");
    }
    if (h.ok())
      return 0;
    std::cout << "tutorial: FAILED (step " << step << ", see above)\n";
    return 1;
  }
  if (step == 7)
    h.expect(false, "a stop signal");
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, *root);
  if (!reason)
    reason = trellis::await_exit(sys, *root);
  std::cout << "\ntutorial: tree stopped: " << sys.render(reason) << '\n';
  if (!h.ok() || reason != caf::exit_reason::user_shutdown) {
    std::cout << "tutorial: FAILED (step " << step << ", see above)\n";
    return 1;
  }
  std::cout << "tutorial: done (step " << step << ")\n";
  return 0;
}
