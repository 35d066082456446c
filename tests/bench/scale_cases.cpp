// Scale: 100,000 children under a dynamic supervisor, against 100,000 bare
// actors monitored by one bare actor: resident memory per child, and the
// rate of starting and then stopping them all.

#include <cstdio>
#include <cstdlib>
#include <fstream>
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

/// Runs this binary again as a memory probe (a fresh process, so that one
/// side's heap does not hold the other's) and returns its bytes per child.
double probe_in_child_process(const options& opts, const char* side,
                              size_t children) {
  int fds[2];
  if (pipe(fds) != 0)
    throw std::runtime_error("pipe failed");
  auto count = std::to_string(children);
  auto pid = fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl("/proc/self/exe", "trellis_bench", "--reports",
          to_string(opts.reports), "--memory-probe", side, count.c_str(),
          static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;)
    out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  auto key = std::string{"bytes_per_child="};
  auto pos = out.find(key);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0
      || pos == std::string::npos)
    throw std::runtime_error(std::string{"memory probe "} + side
                             + " failed: " + out);
  return std::stod(out.substr(pos + key.size()));
}

result memory_per_child(const options& opts) {
  auto children = opts.scaled(100'000);
  auto m = alternate(
    opts.reps,
    [&] {
      return sample{probe_in_child_process(opts, "trellis", children), {}};
    },
    [&] {
      return sample{probe_in_child_process(opts, "baseline", children), {}};
    });
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

result tree_start_stop(const options& opts) {
  auto n = opts.scaled(100'000);
  auto m = alternate(
    opts.reps, [&] { return start_stop(n, true); },
    [&] { return start_stop(n, false); });
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

void add_scale_cases(std::vector<bench_case>& xs) {
  xs.push_back({"memory_per_child",
                "resident bytes per idle child at 100,000 children, each side "
                "in a fresh process",
                240s, memory_per_child});
  xs.push_back({"tree_start_stop",
                "start then stop 100,000 children under a dynamic supervisor",
                240s, tree_start_stop});
}

} // namespace trellis::bench
