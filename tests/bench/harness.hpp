#pragma once

// The bench harness: options, repetitions, medians and percentiles, and one
// result row per case, printed as a table or as one JSON object per line.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace trellis::bench {

using clock = std::chrono::steady_clock;

/// Returns the seconds from `t0` to `t1`.
inline double seconds_between(clock::time_point t0, clock::time_point t1) {
  return std::chrono::duration<double>(t1 - t0).count();
}

/// How Trellis' reports (`child_started`, `child_terminated`, ...) come out
/// during a run.
enum class reports_mode {
  /// At Trellis' default level (`warn`: crash reports, not progress
  /// reports), rendered into a sink that drops them: the framework pays for
  /// every report that level shows, but no terminal does.
  null_sink,
  /// Switched off (`set_log_level(log_level::off)`): a branch each.
  off,
  /// At their default level into Trellis' default stderr sink.
  stderr_sink,
};

/// Returns `on`, `off` or `stderr`.
const char* to_string(reports_mode x);

/// What the command line asked for.
struct options {
  /// One JSON object per line per case instead of a table.
  bool json = false;
  /// Repetitions of each measurement; medians are reported.
  int reps = 9;
  /// Multiplies every count (rounds, messages, children), for quick runs and
  /// profiling; results at another scale are not comparable to the targets.
  double scale = 1.0;
  reports_mode reports = reports_mode::null_sink;
  /// The cases to run, in order; empty runs all.
  std::vector<std::string> cases;

  /// Returns `n` scaled, at least `min`.
  size_t scaled(size_t n, size_t min = 1) const;
};

/// Named side values of a measurement, such as latency percentiles.
using extras = std::vector<std::pair<std::string, double>>;

/// One repetition of one side (Trellis or its baseline).
struct sample {
  double value = 0;
  bench::extras extras;
};

/// The medians of a side's repetitions, the value and each extra.
struct summary {
  double value = 0;
  bench::extras extras;
};

/// Returns the medians of `xs`, which all carry the same extras.
summary summarize(const std::vector<sample>& xs);

/// Both sides of a case over its repetitions.
struct measured {
  summary trellis;
  summary baseline;
  /// The median of the repetitions' ratios `trellis / baseline`: each
  /// repetition measures both sides at nearly the same time, so its ratio
  /// holds when the machine's speed drifts between repetitions.
  double ratio = 0;
  /// The smallest and largest of the repetitions' ratios: whether a case
  /// meets its target with room or by luck.
  double ratio_min = 0;
  double ratio_max = 0;
};

/// Sets `x.ratio` and its spread from the repetitions' `ratios`.
void set_ratios(measured& x, const std::vector<double>& ratios);

/// Summarizes `ts` and `bs`, measured in pairs: `ts[i]` with `bs[i]`.
measured summarize(const std::vector<sample>& ts,
                   const std::vector<sample>& bs);

/// Returns the median of `xs` (0 if empty).
double median(std::vector<double> xs);

/// Returns the `p`-th percentile of `xs`, `p` in [0, 100], nearest rank
/// (0 if empty).
double percentile(std::vector<double> xs, double p);

/// Whether a larger ratio is better (rates) or a smaller one (costs).
enum class better { higher, lower };

/// One row of the results.
struct result {
  std::string name;
  std::string unit;
  double trellis = 0;
  double baseline = 0;
  /// `trellis / baseline`, as `measured::ratio`, and its spread.
  double ratio = 0;
  double ratio_min = 0;
  double ratio_max = 0;
  double target = 0;
  better direction = better::higher;
  /// Whether the median ratio meets the target, and whether every
  /// repetition's did.
  bool meets = false;
  bool meets_every_rep = false;
  /// Side values, named `trellis_...` and `baseline_...`.
  bench::extras extras;
  /// Set when the case failed to run: why.
  std::string failure;
};

/// Builds the row of a case.
result compare(std::string name, std::string unit, double target,
               better direction, const measured& x);

/// Makes `alternate` and `paired` print every repetition to stderr.
void set_verbose(bool x);

/// Which sides a run measures; one side alone is for profiling it.
enum class sides { both, trellis, baseline };

/// Restricts `alternate` and `interleave` to one side; the other side's
/// samples stay empty (and its rate 0).
void set_sides(sides x);

/// Returns whether `trellis` (or else the baseline) is measured.
bool measures(bool trellis);

/// Prints one repetition of both sides to stderr, if verbose.
void trace_rep(int rep, const sample& trellis, const sample& baseline);

/// Runs `trellis` and `baseline` (each returning a `sample`) `reps` times
/// each, alternating and swapping which goes first every time, so that
/// drift on a noisy machine (another build, a frequency change) hits both
/// sides alike.
template <class Trellis, class Baseline>
measured alternate(int reps, Trellis&& trellis,
                                      Baseline&& baseline) {
  std::vector<sample> ts;
  std::vector<sample> bs;
  for (int i = 0; i < reps; ++i) {
    auto t = [&] { ts.push_back(measures(true) ? trellis() : sample{}); };
    auto b = [&] { bs.push_back(measures(false) ? baseline() : sample{}); };
    if (i % 2 == 0) {
      t();
      b();
    } else {
      b();
      t();
    }
    trace_rep(i, ts.back(), bs.back());
  }
  return summarize(ts, bs);
}

/// Runs `measure(rep)`, which sets up once and measures both sides, in an
/// order it alternates by `rep`, returning `{trellis, baseline}`; `reps`
/// times. For cases whose two sides share a setup (the same system).
template <class Measure>
measured paired(int reps, Measure&& measure) {
  std::vector<sample> ts;
  std::vector<sample> bs;
  for (int i = 0; i < reps; ++i) {
    auto [t, b] = measure(i);
    trace_rep(i, t, b);
    ts.push_back(std::move(t));
    bs.push_back(std::move(b));
  }
  return summarize(ts, bs);
}

/// Calls `trellis()` and `baseline()` `blocks` times each, alternating,
/// with the side that goes first swapped by `rep`: short blocks let both
/// sides of a paired case see the same moments of a noisy machine.
template <class Trellis, class Baseline>
void interleave(int rep, size_t blocks, Trellis&& trellis,
                Baseline&& baseline) {
  auto t = [&] {
    if (measures(true))
      trellis();
  };
  auto b = [&] {
    if (measures(false))
      baseline();
  };
  for (size_t i = 0; i < blocks; ++i) {
    if ((i + static_cast<size_t>(rep)) % 2 == 0) {
      t();
      b();
    } else {
      b();
      t();
    }
  }
}

/// A benchmark case: its name (as on the command line), what it measures,
/// how long it may take at scale 1 before the watchdog ends its process, and
/// the function that measures it.
struct bench_case {
  std::string name;
  std::string what;
  std::chrono::seconds limit;
  std::function<result(const options&)> run;
};

/// Prints the table's header, a row, or a row as a JSON line (with the
/// run's options), to stdout.
void print_header();
void print_row(const result& x);
void print_json(const result& x, const options& opts);

/// Runs this program again with `args` and waits for it; returns its
/// `waitpid` status. Its standard output goes to `out` if given, else to
/// this process' own. For what must start on a fresh heap: the probes of
/// the scale cases, and each case of a run.
int run_self(const std::vector<std::string>& args, std::string* out = nullptr);

/// Ends the process if a case runs past its limit: a hung tree must not
/// hang its process (the actor system would wait for it forever).
class watchdog {
public:
  watchdog(std::string name, std::chrono::seconds limit);
  ~watchdog();

  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace trellis::bench
