// Scale: 100,000 children under a dynamic supervisor, against 100,000 bare
// actors monitored by one bare actor: resident memory per child, and the
// rate of starting and then stopping them all.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "bench_actors.hpp"
#include "cases.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace trellis::bench {

namespace {

/// `start_child` requests in flight at once: keeps the supervisor's (or the
/// bare parent's) mailbox from running dry without flooding it.
constexpr size_t window = 64;

/// Spawns the parent of the children: a dynamic supervisor, or the bare
/// parent of the baseline.
caf::actor spawn_parent(caf::actor_system& sys, bool trellis) {
  if (!trellis)
    return spawn_bare_parent(sys);
  auto sup = start_supervisor(
    sys, dynamic_supervisor("bench", worker("child", idle_child)));
  if (!sup)
    throw std::runtime_error("tree did not start: " + sys.render(sup.error()));
  return *sup;
}

/// Starts `n` idle children under a parent of `spawn_parent`.
void start_children(caf::actor_system& sys, const caf::actor& parent,
                    bool trellis, size_t n) {
  auto request = trellis
                   ? caf::make_message(start_child_atom::value, caf::message{})
                   : caf::make_message(spawn_atom::value);
  run_pump<caf::actor>(sys, parent, std::move(request), n, window);
}

// -- memory_per_child ---------------------------------------------------------

size_t resident_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  size_t pages = 0;
  size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

/// What a probe printed: its `key=value` pairs.
using probe_values = std::map<std::string, double>;

/// Runs this binary again in `mode` (a hidden option: one side of a case,
/// in a fresh process, so that neither side's heap holds what the other
/// left) for `side` and `children`, and returns what it printed.
probe_values run_probe(const options& opts, const char* mode,
                       const char* side, size_t children) {
  std::string out;
  auto status = run_self({"--reports", to_string(opts.reports),
                          "--throw-traces",
                          trellis::capture_throw_traces() ? "on" : "off",
                          mode, side, std::to_string(children)},
                         &out);
  probe_values values;
  std::istringstream words{out};
  for (std::string word; words >> word;)
    if (auto eq = word.find('='); eq != std::string::npos)
      values[word.substr(0, eq)] = std::atof(word.c_str() + eq + 1);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || values.empty())
    throw std::runtime_error(std::string{mode} + " " + side
                             + " failed: " + out);
  return values;
}

/// The value of `key` in what a probe printed; throws if it printed none.
double value_of(const probe_values& xs, const std::string& key) {
  auto i = xs.find(key);
  if (i == xs.end())
    throw std::runtime_error("a probe printed no " + key);
  return i->second;
}

double bytes_per_child(const options& opts, const char* side,
                       size_t children) {
  return value_of(run_probe(opts, "--memory-probe", side, children),
                  "bytes_per_child");
}

result memory_per_child(const options& opts) {
  auto children = opts.scaled(100'000);
  auto m = alternate(
    opts.reps,
    [&] { return sample{bytes_per_child(opts, "trellis", children), {}}; },
    [&] { return sample{bytes_per_child(opts, "baseline", children), {}}; });
  return compare("memory_per_child", "bytes", 1.25, better::lower, m);
}

// -- tree_start_stop ----------------------------------------------------------

/// Starts `n` children and then stops them all, in a fresh system; returns
/// the rate, with each half's seconds.
sample start_stop(size_t n, bool trellis) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto parent = spawn_parent(sys, trellis);
  auto t0 = clock::now();
  start_children(sys, parent, trellis, n);
  auto t1 = clock::now();
  if (trellis)
    stop_supervisor(sys, parent);
  else
    stop_bare(sys, parent);
  auto t2 = clock::now();
  return {static_cast<double>(n) / seconds_between(t0, t2),
          {{"start_s", seconds_between(t0, t1)},
           {"stop_s", seconds_between(t1, t2)}}};
}

/// One repetition of a side in a fresh process (see `run_probe`). In the
/// bench's own process, a side found the heap as the other side's 100,000
/// children had left it, which moved its time by up to a factor of two.
sample start_stop_in_child_process(const options& opts, const char* side,
                                   size_t n) {
  auto xs = run_probe(opts, "--start-stop-probe", side, n);
  return {value_of(xs, "rate"),
          {{"start_s", value_of(xs, "start_s")},
           {"stop_s", value_of(xs, "stop_s")}}};
}

result tree_start_stop(const options& opts) {
  auto n = opts.scaled(100'000);
  auto m = alternate(
    opts.reps, [&] { return start_stop_in_child_process(opts, "trellis", n); },
    [&] { return start_stop_in_child_process(opts, "baseline", n); });
  return compare("tree_start_stop", "children/s", 0.75, better::higher, m);
}

} // namespace

int memory_probe_main(const char* side, size_t children) {
  watchdog guard{std::string{"memory_per_child probe "} + side,
                 std::chrono::seconds(120)};
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto trellis = std::string{side} == "trellis";
  auto parent = spawn_parent(sys, trellis);
  auto before = resident_bytes();
  start_children(sys, parent, trellis, children);
  auto after = resident_bytes();
  std::printf("bytes_per_child=%.1f\n",
              static_cast<double>(after - before)
                / static_cast<double>(children));
  std::fflush(stdout);
  // The probe only measures: tearing down 100,000 actors takes seconds
  // (tree_start_stop measures that), so leave without it.
  std::_Exit(0);
}

int start_stop_probe_main(const char* side, size_t children) {
  auto scale = std::max<size_t>(1, children / 100'000);
  watchdog guard{std::string{"tree_start_stop probe "} + side,
                 std::chrono::seconds(120 * scale)};
  auto x = start_stop(children, std::string{side} == "trellis");
  std::printf("rate=%.17g", x.value);
  for (auto& [key, value] : x.extras)
    std::printf(" %s=%.17g", key.c_str(), value);
  std::printf("\n");
  std::fflush(stdout);
  return 0;
}

void add_scale_cases(std::vector<bench_case>& xs) {
  xs.push_back({"memory_per_child",
                "resident bytes per idle child at 100,000 children, each side "
                "in a fresh process",
                240s, memory_per_child});
  xs.push_back({"tree_start_stop",
                "start then stop 100,000 children under a dynamic supervisor, "
                "each repetition of each side in a fresh process",
                240s, tree_start_stop});
}

} // namespace trellis::bench
