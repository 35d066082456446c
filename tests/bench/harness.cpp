#include "harness.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace trellis::bench {

const char* to_string(reports_mode x) {
  switch (x) {
    case reports_mode::null_sink:
      return "on";
    case reports_mode::off:
      return "off";
    case reports_mode::stderr_sink:
      return "stderr";
  }
  return "?";
}

size_t options::scaled(size_t n, size_t min) const {
  auto x = static_cast<size_t>(std::llround(static_cast<double>(n) * scale));
  return std::max(x, min);
}

double median(std::vector<double> xs) {
  return percentile(std::move(xs), 50);
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto rank = static_cast<size_t>(
    std::ceil(p / 100.0 * static_cast<double>(xs.size())));
  return xs[std::min(xs.size() - 1, rank == 0 ? 0 : rank - 1)];
}

summary summarize(const std::vector<sample>& xs) {
  summary result;
  std::vector<double> values;
  for (auto& x : xs)
    values.push_back(x.value);
  result.value = median(values);
  if (xs.empty())
    return result;
  for (size_t i = 0; i < xs.front().extras.size(); ++i) {
    std::vector<double> ys;
    for (auto& x : xs)
      ys.push_back(x.extras.at(i).second);
    result.extras.emplace_back(xs.front().extras[i].first, median(ys));
  }
  return result;
}

namespace {

bool verbose = false;

sides measured_sides = sides::both;

} // namespace

void set_verbose(bool x) {
  verbose = x;
}

void set_sides(sides x) {
  measured_sides = x;
}

bool measures(bool trellis) {
  return measured_sides == sides::both
         || measured_sides == (trellis ? sides::trellis : sides::baseline);
}

void trace_rep(int rep, const sample& trellis, const sample& baseline) {
  if (!verbose)
    return;
  std::fprintf(stderr, "  rep %d: trellis %.6g, baseline %.6g, ratio %.3f\n",
               rep, trellis.value, baseline.value,
               baseline.value != 0 ? trellis.value / baseline.value : 0.0);
}

measured summarize(const std::vector<sample>& ts,
                   const std::vector<sample>& bs) {
  std::vector<double> ratios;
  for (size_t i = 0; i < ts.size() && i < bs.size(); ++i)
    if (bs[i].value != 0)
      ratios.push_back(ts[i].value / bs[i].value);
  measured x{summarize(ts), summarize(bs)};
  set_ratios(x, ratios);
  return x;
}

void set_ratios(measured& x, const std::vector<double>& ratios) {
  x.ratio = median(ratios);
  if (ratios.empty())
    return;
  auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  x.ratio_min = *lo;
  x.ratio_max = *hi;
}

result compare(std::string name, std::string unit, double target,
               better direction, const measured& m) {
  auto& trellis = m.trellis;
  auto& baseline = m.baseline;
  result x;
  x.name = std::move(name);
  x.unit = std::move(unit);
  x.trellis = trellis.value;
  x.baseline = baseline.value;
  x.ratio = m.ratio;
  x.ratio_min = m.ratio_min;
  x.ratio_max = m.ratio_max;
  x.target = target;
  x.direction = direction;
  auto meets = [&](double ratio) {
    return direction == better::higher ? ratio >= target : ratio <= target;
  };
  x.meets = meets(x.ratio);
  x.meets_every_rep = meets(direction == better::higher ? x.ratio_min
                                                        : x.ratio_max);
  for (auto& [key, value] : trellis.extras)
    x.extras.emplace_back("trellis_" + key, value);
  for (auto& [key, value] : baseline.extras)
    x.extras.emplace_back("baseline_" + key, value);
  return x;
}

namespace {

// Three significant digits, and no exponent for the large numbers that
// rates and byte counts are.
std::string format(double x) {
  char buf[64];
  if (std::fabs(x) >= 1000)
    std::snprintf(buf, sizeof(buf), "%.0f", x);
  else
    std::snprintf(buf, sizeof(buf), "%.3g", x);
  return buf;
}

const char* op(better x) {
  return x == better::higher ? ">=" : "<=";
}

} // namespace

void print_header() {
  std::printf("%-24s %-12s %12s %12s %7s %-13s %7s %-5s  %s\n", "case",
              "unit", "trellis", "baseline", "ratio", "(min-max)", "target",
              "meets", "details");
  std::fflush(stdout);
}

void print_row(const result& x) {
  if (!x.failure.empty()) {
    std::printf("%-24s FAILED: %s\n", x.name.c_str(), x.failure.c_str());
    std::fflush(stdout);
    return;
  }
  std::string details;
  for (auto& [key, value] : x.extras)
    details += key + "=" + format(value) + " ";
  auto target = std::string{op(x.direction)} + format(x.target);
  char spread[32];
  std::snprintf(spread, sizeof(spread), "(%.3f-%.3f)", x.ratio_min,
                x.ratio_max);
  // "yes" when every repetition met the target, "yes*" when only the
  // median did.
  auto meets = x.meets ? (x.meets_every_rep ? "yes" : "yes*") : "NO";
  std::printf("%-24s %-12s %12s %12s %7.3f %-13s %7s %-5s  %s\n",
              x.name.c_str(), x.unit.c_str(), format(x.trellis).c_str(),
              format(x.baseline).c_str(), x.ratio, spread, target.c_str(),
              meets, details.c_str());
  std::fflush(stdout);
}

void print_json(const result& x, const options& opts) {
  if (!x.failure.empty()) {
    std::printf("{\"case\": \"%s\", \"error\": \"%s\"}\n", x.name.c_str(),
                x.failure.c_str());
    std::fflush(stdout);
    return;
  }
  std::printf("{\"case\": \"%s\", \"unit\": \"%s\", \"trellis\": %.6g, "
              "\"baseline\": %.6g, \"ratio\": %.4f, \"ratio_min\": %.4f, "
              "\"ratio_max\": %.4f, \"target\": %g, \"meets\": %s, "
              "\"meets_every_rep\": %s, \"target_op\": \"%s\"",
              x.name.c_str(), x.unit.c_str(), x.trellis, x.baseline, x.ratio,
              x.ratio_min, x.ratio_max, x.target, x.meets ? "true" : "false",
              x.meets_every_rep ? "true" : "false", op(x.direction));
  for (auto& [key, value] : x.extras)
    std::printf(", \"%s\": %.6g", key.c_str(), value);
  std::printf(", \"reps\": %d, \"scale\": %g, \"reports\": \"%s\"}\n",
              opts.reps, opts.scale, to_string(opts.reports));
  std::fflush(stdout);
}

struct watchdog::impl {
  std::mutex mtx;
  std::condition_variable cv;
  bool done = false;
  std::thread thread;
};

int run_self(const std::vector<std::string>& args, std::string* out) {
  int fds[2] = {-1, -1};
  if (out != nullptr && pipe(fds) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<char*> argv;
  static char name[] = "trellis_bench";
  argv.push_back(name);
  for (auto& x : args)
    argv.push_back(const_cast<char*>(x.c_str()));
  argv.push_back(nullptr);
  // What this process buffered must not come out twice, or after the child.
  std::fflush(stdout);
  auto pid = fork();
  if (pid < 0) {
    if (out != nullptr) {
      close(fds[0]);
      close(fds[1]);
    }
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    if (out != nullptr) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
    }
    execv("/proc/self/exe", argv.data());
    std::_Exit(127);
  }
  if (out != nullptr) {
    close(fds[1]);
    char buf[256];
    for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;)
      out->append(buf, static_cast<size_t>(n));
    close(fds[0]);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

watchdog::watchdog(std::string name, std::chrono::seconds limit)
  : impl_(std::make_unique<impl>()) {
  impl_->thread = std::thread([this, name = std::move(name), limit] {
    std::unique_lock<std::mutex> guard{impl_->mtx};
    if (impl_->cv.wait_for(guard, limit, [this] { return impl_->done; }))
      return;
    std::fprintf(stderr,
                 "bench: case %s still runs after %llds; giving up on it\n",
                 name.c_str(), static_cast<long long>(limit.count()));
    std::fflush(stdout);
    std::_Exit(3);
  });
}

watchdog::~watchdog() {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->done = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

} // namespace trellis::bench
