// trellis_bench: Trellis against the same work done directly on CAF. Run
// through `./dev bench [--json] [--reps N] [--scale F] [--reports MODE]
// [CASE...]`; see docs/benchmarks.md.

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "trellis/stack_trace.hpp"

#include "bench_actors.hpp"
#include "cases.hpp"
#include "harness.hpp"

namespace {

using namespace trellis::bench;

const char* usage_text
  = "usage: trellis_bench [--json] [--reps N] [--scale F] "
    "[--reports on|off|stderr] [--throw-traces on|off]\n"
    "                     [--verbose] [--only SIDE] [--list] [CASE...]\n"
    "  --json        one JSON object per line per case, instead of a table\n"
    "  --reps N      repetitions per side (default 9); medians are reported\n"
    "  --scale F     multiply every count by F (quick runs, profiling)\n"
    "  --reports M   Trellis' reports: on (default level, into a null sink;\n"
    "                the default), off, or stderr (default level and sink)\n"
    "  --throw-traces M  capture a stack trace when a child throws: on (the\n"
    "                default) or off\n"
    "  --verbose     print every repetition to stderr\n"
    "  --only SIDE   measure only trellis or only baseline (for profiling)\n"
    "  --list        list the cases and exit\n";

std::vector<bench_case> all_cases() {
  std::vector<bench_case> xs;
  add_restart_cases(xs);
  add_message_cases(xs);
  add_scale_cases(xs);
  add_hang_cases(xs);
  return xs;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "trellis_bench: %s\n%s", what.c_str(), usage_text);
  std::exit(2);
}

reports_mode parse_reports(const std::string& x) {
  if (x == "on")
    return reports_mode::null_sink;
  if (x == "off")
    return reports_mode::off;
  if (x == "stderr")
    return reports_mode::stderr_sink;
  fail("unknown --reports mode '" + x + "'");
}

/// Whether the run measures case `c`: all are, unless cases were named.
bool selected(const options& opts, const bench_case& c) {
  return opts.cases.empty()
         || std::find(opts.cases.begin(), opts.cases.end(), c.name)
              != opts.cases.end();
}

/// Prints `row` as `opts` asks: a JSON line or a table row.
void print(const result& row, const options& opts) {
  if (opts.json)
    print_json(row, opts);
  else
    print_row(row);
}

/// Runs the cases `opts` selects in this process, a row each; returns
/// the process' exit status: 1 if any failed.
int run_here(const std::vector<bench_case>& cases, const options& opts) {
  auto failed = false;
  for (auto& c : cases) {
    if (!selected(opts, c))
      continue;
    // More work gets more time; a hung case ends its process rather than
    // hang.
    auto stretch = std::max(1.0, opts.scale)
                   * std::max(1.0, static_cast<double>(opts.reps) / 9.0);
    watchdog guard{c.name, std::chrono::seconds(static_cast<long long>(
                             static_cast<double>(c.limit.count()) * stretch))};
    result row;
    try {
      row = c.run(opts);
    } catch (const std::exception& e) {
      row.name = c.name;
      row.failure = e.what();
      failed = true;
    }
    print(row, opts);
  }
  return failed ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  auto cases = all_cases();
  std::vector<std::string> args{argv + 1, argv + argc};
  // The options without the case names, for each case's own process.
  std::vector<std::string> options_args;
  // Hidden: this process is one case's own (see below).
  auto case_process = false;
  auto value_of = [&](size_t& i) -> const std::string& {
    if (i + 1 >= args.size())
      fail(args[i] + " needs a value");
    return args[++i];
  };
  for (size_t i = 0; i < args.size(); ++i) {
    auto first = i;
    auto& arg = args[i];
    if (arg == "--json") {
      opts.json = true;
    } else if (arg == "--verbose") {
      set_verbose(true);
    } else if (arg == "--only") {
      auto& side = value_of(i);
      if (side != "trellis" && side != "baseline")
        fail("--only takes trellis or baseline");
      set_sides(side == "trellis" ? sides::trellis : sides::baseline);
    } else if (arg == "--reps") {
      opts.reps = std::max(1, std::atoi(value_of(i).c_str()));
    } else if (arg == "--scale") {
      opts.scale = std::atof(value_of(i).c_str());
      if (opts.scale <= 0)
        fail("--scale must be positive");
    } else if (arg == "--reports") {
      opts.reports = parse_reports(value_of(i));
    } else if (arg == "--throw-traces") {
      auto& mode = value_of(i);
      if (mode != "on" && mode != "off")
        fail("--throw-traces takes on or off");
      trellis::capture_throw_traces(mode == "on");
    } else if (arg == "--memory-probe" || arg == "--start-stop-probe") {
      // Hidden: one side of memory_per_child or one repetition of a side of
      // tree_start_stop, in a process of its own.
      auto side = value_of(i);
      auto children = std::strtoull(value_of(i).c_str(), nullptr, 10);
      setup_reports(opts.reports);
      return arg == "--memory-probe"
               ? memory_probe_main(side.c_str(), children)
               : start_stop_probe_main(side.c_str(), children);
    } else if (arg == "--list") {
      for (auto& x : cases)
        std::printf("%-24s %s\n", x.name.c_str(), x.what.c_str());
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::printf("%s", usage_text);
      return 0;
    } else if (arg == "--case-process") {
      case_process = true;
      continue;
    } else if (!arg.empty() && arg[0] == '-') {
      fail("unknown option '" + arg + "'");
    } else {
      auto known = std::any_of(cases.begin(), cases.end(),
                               [&](auto& x) { return x.name == arg; });
      if (!known)
        fail("unknown case '" + arg + "' (--list lists them)");
      opts.cases.push_back(arg);
      continue;
    }
    options_args.insert(options_args.end(),
                        args.begin() + static_cast<std::ptrdiff_t>(first),
                        args.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  }
  setup_reports(opts.reports);
  if (case_process)
    return run_here(cases, opts);
  if (!opts.json) {
    std::printf("trellis_bench: reps=%d scale=%g reports=%s throw-traces=%s, "
                "2 scheduler threads; ratio = trellis / baseline, medians\n",
                opts.reps, opts.scale, to_string(opts.reports),
                trellis::capture_throw_traces() ? "on" : "off");
    print_header();
  }
  // Each case runs in a process of its own, as JMH forks a JVM per
  // benchmark: no case inherits another's heap, threads or allocator state,
  // and one that crashes or hangs costs only its own row. A single case has
  // this fresh process to itself, and a profiler sees it directly.
  if (opts.cases.size() == 1)
    return run_here(cases, opts);
  auto failed = false;
  for (auto& c : cases) {
    if (!selected(opts, c))
      continue;
    auto x = options_args;
    x.push_back("--case-process");
    x.push_back(c.name);
    auto status = run_self(x);
    if (WIFEXITED(status) && WEXITSTATUS(status) <= 1) {
      failed = failed || WEXITSTATUS(status) == 1;
      continue;
    }
    // It printed no row: say why here.
    result row;
    row.name = c.name;
    row.failure = WIFSIGNALED(status)
                    ? "its process ended on signal "
                        + std::to_string(WTERMSIG(status))
                    : "its process exited with status "
                        + std::to_string(WEXITSTATUS(status))
                        + (WEXITSTATUS(status) == 3 ? " (timed out)" : "");
    failed = true;
    print(row, opts);
  }
  return failed ? 1 : 0;
}
