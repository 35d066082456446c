#include "report.hpp"

#include <chrono>
#include <ctime>
#include <iterator>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <caf/actor_system.hpp>
#include <fmt/compile.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "trellis/log.hpp"

namespace trellis::detail::report {

namespace {

spdlog::logger& logger() {
  // A function-local static: created once, thread-safe, on first use.
  static std::shared_ptr<spdlog::logger> instance = [] {
    if (auto existing = spdlog::get(logger_name))
      return existing;
    auto result = spdlog::stderr_color_mt(logger_name);
    // As OTP's logger (level notice): progress reports hidden, errors shown.
    result->set_level(spdlog::level::warn);
    return result;
  }();
  return *instance;
}

} // namespace

void ensure_logger() {
  logger();
}

void child_started(const std::string& supervisor, const std::string& child,
                   caf::actor_id actor, size_t restart_count,
                   const std::string& node) {
  auto& log = logger();
  if (!log.should_log(spdlog::level::info))
    return;
  if (node.empty())
    log.info("child_started supervisor={} child={} actor={} restart_count={}",
             supervisor, child, actor, restart_count);
  else
    log.info("child_started supervisor={} child={} actor={} restart_count={} "
             "node={}",
             supervisor, child, actor, restart_count, node);
}

namespace {

// Renders `x` as `sys` would; the text is in `scratch` or in a cache.
// Reasons without context in CAF's own categories (`kill`, `user_shutdown`,
// ...) repeat with every restart and render the same on every system, so
// each thread keeps their text, and a report copies none.
const std::string& render(const caf::actor_system& sys, const caf::error& x,
                          std::string& scratch) {
  // CAF 0.17 makes `exit_reason::normal` an empty error, rendered "none":
  // say what it means, as CAF renders the other exit reasons.
  if (!x)
    return scratch = "exit_reason(normal)";
  if (!x.context().empty()
      || (x.category() != caf::atom("exit")
          && x.category() != caf::atom("system")))
    return scratch = sys.render(x);
  auto category = x.category();
  thread_local std::unordered_map<uint64_t, std::string> cache;
  auto key = (static_cast<uint64_t>(category) << 8) | x.code();
  auto i = cache.find(key);
  if (i == cache.end())
    i = cache.emplace(key, sys.render(x)).first;
  return i->second;
}

/// Lets at most `per_second` lines of one kind through, so that a flood of
/// messages or connections does not become a flood of lines; the next line
/// written tells how many were left out.
class line_budget {
public:
  /// A budget whose lines name what they left out as `label=N`.
  explicit line_budget(size_t per_second, const char* label = "left_out")
    : per_second_(per_second), label_(label) {
    // nop
  }

  /// Returns whether a line may be written now; `left_out` gets what to
  /// append to it: how many lines were not written since the last one that
  /// was, if any.
  bool take(std::string& left_out) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto now = coarse_now();
    if (now - second_ >= std::chrono::seconds(1)) {
      second_ = now;
      written_ = 0;
    }
    if (++written_ > per_second_) {
      ++left_out_;
      return false;
    }
    if (auto n = std::exchange(left_out_, 0); n > 0)
      left_out = fmt::format(" {}={}", label_, n);
    return true;
  }

private:
  /// Monotonic time to within a clock tick (a few milliseconds), plenty
  /// for a one-second window: read with every restart's report, it costs a
  /// few nanoseconds where the precise clock costs some 25 on a VM.
  static std::chrono::nanoseconds coarse_now() noexcept {
#ifdef CLOCK_MONOTONIC_COARSE
    timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
      return std::chrono::seconds{ts.tv_sec}
             + std::chrono::nanoseconds{ts.tv_nsec};
#endif
    return std::chrono::steady_clock::now().time_since_epoch();
  }

  std::mutex mtx_;
  size_t per_second_;
  const char* label_;
  std::chrono::nanoseconds second_{0};
  size_t written_ = 0;
  size_t left_out_ = 0;
};

/// Writes a line at `level` through `write(log, left_out)` if that level is
/// on and `budget` has room; `left_out` is what to append (see
/// `line_budget`).
template <class F>
void log_within(line_budget& budget, spdlog::level::level_enum level,
                F write) {
  auto& log = logger();
  if (!log.should_log(level))
    return;
  std::string left_out;
  if (budget.take(left_out))
    write(log, left_out);
}

/// `log_within` for a warning.
template <class F>
void warn_within(line_budget& budget, F write) {
  log_within(budget, spdlog::level::warn, std::move(write));
}

// The reports that name a child, its reason and its restart count; one is
// written with every restart, so its format is compiled, not parsed. Within
// `budget`, if given.
void child_error(const char* report, const caf::actor_system& sys,
                 const std::string& supervisor, const std::string& child,
                 const caf::error& reason, size_t restart_count,
                 spdlog::level::level_enum level = spdlog::level::err,
                 line_budget* budget = nullptr) {
  auto& log = logger();
  if (!log.should_log(level))
    return;
  std::string left_out;
  if (budget != nullptr && !budget->take(left_out))
    return;
  std::string scratch;
  fmt::memory_buffer line;
  fmt::format_to(std::back_inserter(line),
                 FMT_COMPILE("{} supervisor={} child={} reason=\"{}\" "
                             "restart_count={}{}"),
                 report, supervisor, child, render(sys, reason, scratch),
                 restart_count, left_out);
  log.log(level, spdlog::string_view_t{line.data(), line.size()});
}

// The reports written with every restart (`child_terminated`, `start_error`)
// share a budget: a crash loop of 100,000 restarts a second would otherwise
// be as many lines, and format each. OTP's logger handlers drop what passes
// a burst limit as well, by default 500 events a second
// (`burst_limit_max_count`, `burst_limit_window_time`); here the next line
// written says how many were left out, of any supervisor's.
line_budget& restart_reports() {
  static line_budget budget{500, "restart_reports_left_out"};
  return budget;
}

} // namespace

void child_terminated(const caf::actor_system& sys,
                      const std::string& supervisor, const std::string& child,
                      const caf::error& reason, size_t restart_count) {
  child_error("child_terminated", sys, supervisor, child, reason,
              restart_count, spdlog::level::err, &restart_reports());
}

void start_error(const caf::actor_system& sys, const std::string& supervisor,
                 const std::string& child, const caf::error& reason,
                 size_t restart_count) {
  child_error("start_error", sys, supervisor, child, reason, restart_count,
              spdlog::level::err, &restart_reports());
}

void shutdown_error(const caf::actor_system& sys,
                    const std::string& supervisor, const std::string& child,
                    const caf::error& reason) {
  auto& log = logger();
  std::string scratch;
  if (log.should_log(spdlog::level::err))
    log.error("shutdown_error supervisor={} child={} reason=\"{}\"",
              supervisor, child, render(sys, reason, scratch));
}


void crash(const caf::actor_system&, const std::string& supervisor,
           const crash_report& x) {
  static line_budget budget{10};
  log_within(budget, spdlog::level::err, [&](auto& log, auto& left_out) {
    // `to_string` says `crash_report child=...`: the supervisor goes first.
    constexpr std::string_view prefix = "crash_report ";
    auto text = to_string(x);
    log.error("crash_report supervisor={}{} {}", supervisor, left_out,
              std::string_view{text}.substr(prefix.size()));
  });
}

bool wants(log_level level) {
  return logger().should_log(static_cast<spdlog::level::level_enum>(level));
}

log_level level_of(lifecycle_kind kind) {
  switch (kind) {
    case lifecycle_kind::child_started:
    case lifecycle_kind::child_restarted:
    case lifecycle_kind::messages_kept:
      return log_level::info;
    case lifecycle_kind::checkpoint_skipped:
    case lifecycle_kind::message_dropped:
    case lifecycle_kind::messages_lost:
    case lifecycle_kind::child_resumed:
    case lifecycle_kind::incident_opened:
      return log_level::warn;
    case lifecycle_kind::incident_closed:
      return log_level::info;
    default:
      return log_level::error;
  }
}

namespace {

/// The path of the supervisor of the child at `path`.
std::string_view parent_of(const std::string& path) {
  auto i = path.rfind('/');
  return i == std::string::npos ? std::string_view{}
                                : std::string_view{path}.substr(0, i);
}

} // namespace

void event(const caf::actor_system& sys, const lifecycle_event& ev,
           log_level level, const std::string& teller) {
  auto lvl = static_cast<spdlog::level::level_enum>(level);
  auto& log = logger();
  if (!log.should_log(lvl))
    return;
  std::string scratch;
  switch (ev.kind) {
    case lifecycle_kind::restart_given_up:
      // Told by the supervisor that gives up, about itself: OTP's name.
      child_error("reached_max_restart_intensity", sys, ev.path, ev.id,
                  ev.reason, ev.restart_count, lvl);
      return;
    case lifecycle_kind::child_unhealthy:
    case lifecycle_kind::checkpoint_skipped:
      child_error(to_string(ev.kind).c_str(), sys,
                  std::string{parent_of(ev.path)}, ev.id, ev.reason,
                  ev.restart_count, lvl);
      return;
    case lifecycle_kind::checkpoint_failed:
      log.log(lvl, "checkpoint_failed supervisor={} child={} reason=\"{}\"",
              parent_of(ev.path), ev.id, render(sys, ev.reason, scratch));
      return;
    case lifecycle_kind::message_quarantined:
      log.log(lvl,
              "message_quarantined supervisor={} child={} reason=\"{}\" "
              "restart_count={} {}",
              parent_of(ev.path), ev.id, render(sys, ev.reason, scratch),
              ev.restart_count, ev.detail);
      return;
    case lifecycle_kind::messages_kept:
    case lifecycle_kind::messages_lost:
    case lifecycle_kind::child_resumed:
      log.log(lvl,
              "{} supervisor={} child={} reason=\"{}\" restart_count={} {}",
              to_string(ev.kind), parent_of(ev.path), ev.id,
              render(sys, ev.reason, scratch), ev.restart_count, ev.detail);
      return;
    case lifecycle_kind::incident_opened:
    case lifecycle_kind::incident_closed:
      log.log(lvl, "{} dependency={} path={} {}", to_string(ev.kind), ev.id,
              ev.path, ev.detail);
      return;
    case lifecycle_kind::message_dropped: {
      static line_budget budget{20};
      log_within(budget, lvl, [&](spdlog::logger& out,
                                  const std::string& left_out) {
        out.log(lvl,
                "message_dropped path={} reason=\"{}\" message=\"{}\"{}",
                ev.path, render(sys, ev.reason, scratch), ev.detail,
                left_out);
      });
      return;
    }
    default:
      break;
  }
  // A library's kind, with the fields it named: who tells, then the id.
  if (auto info = info_of(ev.kind)) {
    log.log(lvl, "{} {}={} {}={}{}{}", info->name, info->teller_field,
            teller.empty() ? ev.path : teller, info->id_field, ev.id,
            ev.detail.empty() ? "" : " ", ev.detail);
    return;
  }
  log.log(lvl, "{}", to_string(ev));
}

void monitor_problem(const std::string& monitor, const std::string& target,
                     const std::string& problem) {
  auto& log = logger();
  if (log.should_log(spdlog::level::warn))
    log.warn("resource_monitor monitor={} target={} problem=\"{}\"", monitor,
             target, problem);
}

void monitor_failed(const caf::actor_system& sys, const std::string& monitor,
                    const caf::error& reason) {
  auto& log = logger();
  std::string scratch;
  if (log.should_log(spdlog::level::err))
    log.error("resource_monitor monitor={} reason=\"{}\"", monitor,
              render(sys, reason, scratch));
}

void exit_signal_ignored(const caf::actor_system& sys,
                         const std::string& supervisor,
                         const std::string& sender, const caf::error& reason) {
  static line_budget budget{20};
  warn_within(budget, [&](spdlog::logger& log, const std::string& left_out) {
    std::string scratch;
    log.warn("exit_signal_ignored supervisor={} sender={} reason=\"{}\" "
             "hint=\"only the parent's exit signals stop a supervisor: stop "
             "it with trellis::stop_supervisor\"{}",
             supervisor, sender, render(sys, reason, scratch), left_out);
  });
}

void unexpected_message(const std::string& receiver, const std::string& sender,
                        bool request, const caf::message& content) {
  static line_budget budget{20};
  warn_within(budget, [&](spdlog::logger& log, const std::string& left_out) {
    log.warn("unexpected_message receiver={} sender={} kind={} "
             "message=\"{}\"{}",
             receiver, sender, request ? "request" : "message",
             caf::to_string(content).substr(0, 200), left_out);
  });
}

void auto_shutdown(const std::string& supervisor, const std::string& mode) {
  auto& log = logger();
  if (log.should_log(spdlog::level::info))
    log.info("auto_shutdown supervisor={} mode={}", supervisor, mode);
}

void trees_stopping(size_t trees) {
  auto& log = logger();
  if (log.should_log(spdlog::level::info))
    log.info("trees_stopping reason=\"the actor system is shutting down\" "
             "trees={}",
             trees);
}

void shutdown_begins(const std::string& cause) {
  auto& log = logger();
  if (log.should_log(spdlog::level::info))
    log.info("shutdown_begins cause=\"{}\"", cause);
}

void shutdown_phase_ended(const std::string& phase, const std::string& took) {
  auto& log = logger();
  if (log.should_log(spdlog::level::info))
    log.info("shutdown_phase_ended phase={} took=\"{}\"", phase, took);
}

void shutdown_problem(const std::string& what) {
  auto& log = logger();
  if (log.should_log(spdlog::level::err))
    log.error("shutdown_problem reason=\"{}\"", what);
}

void shutdown_ended(const std::string& took, const std::string& problems) {
  auto& log = logger();
  if (problems.empty()) {
    if (log.should_log(spdlog::level::info))
      log.info("shutdown_ended took=\"{}\"", took);
  } else if (log.should_log(spdlog::level::warn)) {
    log.warn("shutdown_ended took=\"{}\" problems=\"{}\"", took, problems);
  }
}

void system_abandoned(size_t running) {
  auto& log = logger();
  log.critical("system_abandoned running={} reason=\"actors still running "
               "after trellis.shutdown-time: a handler that never returns "
               "cannot be preempted; the process exits without them\"",
               running);
  log.flush();
}

void tls_failed(const std::string& peer, const std::string& reasons) {
  auto& log = logger();
  if (log.should_log(spdlog::level::warn))
    log.warn("tls_failed peer={} reason=\"{}\"", peer, reasons);
}

void orphan_killed(const std::string& child, const std::string& supervisor_node,
                   const std::string& reason) {
  auto& log = logger();
  if (log.should_log(spdlog::level::warn))
    log.warn("orphan_killed child={} supervisor_node={} reason=\"{}\"", child,
             supervisor_node, reason);
}

void connection_refused(const std::string& peer, const char* reason,
                        const std::string& detail) {
  static line_budget budget{20};
  warn_within(budget, [&](spdlog::logger& log, const std::string& left_out) {
    log.warn("connection_refused peer={} reason={} detail=\"{}\"{}", peer,
             reason, detail, left_out);
  });
}

} // namespace trellis::detail::report

namespace trellis {

void set_log_level(log_level x) {
  detail::report::ensure_logger();
  spdlog::get(logger_name)
    ->set_level(static_cast<spdlog::level::level_enum>(x));
}

} // namespace trellis
