#pragma once

// Shared fixtures for Trellis' tests: a real actor system, a probe that
// workers report their life to, and an in-memory sink on Trellis' logger.

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "trellis/all.hpp"

namespace trellis::test {

using event_atom = caf::atom_constant<caf::atom("event")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using quit_atom = caf::atom_constant<caf::atom("quit")>;

/// Generous bound for "this eventually happens"; never a speed assertion.
constexpr auto patience = std::chrono::seconds(20);

/// Polls `pred()` until it holds; fails saying it waited for `what` after
/// `patience`.
template <class Predicate>
void eventually(const std::string& what, Predicate pred) {
  auto until = std::chrono::steady_clock::now() + patience;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      FAIL("waited " << patience.count() << " s for " << what);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

/// Receives one message that a handler in `fs` takes. Fails the test, saying
/// that it waited for `what`, when none arrives within `patience` or when an
/// error arrives that no handler in `fs` takes (a failed request, say), so
/// that a missing reply fails instead of hanging.
template <class... Fs>
void receive_or_fail(caf::scoped_actor& self, const std::string& what,
                     Fs&&... fs) {
  bool timed_out = false;
  std::optional<caf::error> unexpected;
  self->receive(std::forward<Fs>(fs)...,
                [&](caf::error& err) { unexpected = std::move(err); },
                caf::after(patience) >> [&] { timed_out = true; });
  if (unexpected)
    FAIL("waited for " << what << ", got the error "
                       << self->system().render(*unexpected));
  if (timed_out)
    FAIL("waited for " << what << " for " << patience.count()
                       << " s, in vain");
}

struct test_config : caf::actor_system_config {
  test_config() {
    trellis::configure(*this);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// A worker that tells `probe` "started:<id>" when it starts and
/// "stopped:<id>" when it exits, echoes ints, throws on `crash_atom` and
/// exits with the given reason on `quit_atom`.
inline caf::behavior probed_worker(caf::event_based_actor* self,
                                   std::string id, caf::actor probe) {
  self->send(probe, event_atom::value, "started:" + id);
  self->attach_functor([id, probe] {
    caf::anon_send(probe, event_atom::value, "stopped:" + id);
  });
  return {
    [](int x) { return x; },
    [id](crash_atom) -> int {
      throw std::runtime_error("boom from " + id);
    },
    [self](quit_atom, caf::error& reason) { self->quit(std::move(reason)); },
  };
}

/// Like `probed_worker`, but traps the shutdown exit and ignores it, so only
/// a kill ends it.
inline caf::behavior stubborn_worker(caf::event_based_actor* self,
                                     std::string id, caf::actor probe) {
  self->set_exit_handler([self, id, probe](caf::exit_msg&) {
    self->send(probe, event_atom::value, "ignored_exit:" + id);
  });
  return probed_worker(self, std::move(id), std::move(probe));
}

/// Waits for the next lifecycle event for which `pred` holds, skipping
/// others; fails after `patience`. `self` must have joined the tree's group.
template <class Predicate>
lifecycle_event await_event_if(caf::scoped_actor& self, Predicate pred) {
  for (;;) {
    lifecycle_event result;
    bool found = false;
    bool timed_out = false;
    self->receive(
      [&](lifecycle_event& ev) {
        if (pred(ev)) {
          result = std::move(ev);
          found = true;
        }
      },
      caf::after(patience) >> [&] { timed_out = true; });
    if (found)
      return result;
    if (timed_out)
      FAIL("no matching lifecycle event");
  }
}

/// Waits for the next event of `kind` about `path`.
inline lifecycle_event await_event(caf::scoped_actor& self, lifecycle_kind kind,
                                   const std::string& path) {
  INFO("waiting for " << to_string(kind) << " of " << path);
  return await_event_if(self, [&](const lifecycle_event& ev) {
    return ev.kind == kind && ev.path == path;
  });
}

/// Captures Trellis' report lines for the lifetime of the object.
class log_capture {
public:
  /// Captures every report, progress reports too, until destroyed; the
  /// last `capacity` lines.
  explicit log_capture(size_t capacity = 1024)
    : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(capacity)) {
    auto log = spdlog::get(trellis::logger_name);
    REQUIRE(log != nullptr);
    sink_->set_pattern("%v");
    log->sinks().push_back(sink_);
    level_ = log->level();
    log->set_level(spdlog::level::info);
  }

  ~log_capture() {
    auto log = spdlog::get(trellis::logger_name);
    log->set_level(level_);
    auto& sinks = log->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }

  std::vector<std::string> lines() const {
    auto result = sink_->last_formatted();
    for (auto& line : result)
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.pop_back();
    return result;
  }

  /// Returns the lines that start with `report`.
  std::vector<std::string> reports(const std::string& report) const {
    std::vector<std::string> result;
    for (auto& line : lines())
      if (line.compare(0, report.size(), report) == 0)
        result.push_back(line);
    return result;
  }

private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  spdlog::level::level_enum level_ = spdlog::level::warn;
};

/// A real actor system plus a probe actor that collects worker events.
struct fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor probe{sys};

  /// Waits for the next event and returns it ("started:a", ...).
  std::string next_event() {
    std::string result = "timeout";
    probe->receive([&](event_atom, std::string& what) { result = std::move(what); },
                   caf::after(patience) >> [] {});
    return result;
  }

  /// Collects the next `n` events.
  std::vector<std::string> next_events(size_t n) {
    std::vector<std::string> result;
    for (size_t i = 0; i < n; ++i)
      result.push_back(next_event());
    return result;
  }

  /// A worker spec running `probed_worker`.
  child_spec probed(const std::string& id) {
    return worker(id, probed_worker, id, caf::actor{probe});
  }

  std::vector<child_info> children(const caf::actor& sup) {
    std::vector<child_info> result;
    probe->request(sup, patience, which_children_atom::value)
      .receive([&](std::vector<child_info>& xs) { result = std::move(xs); },
               [](caf::error& err) { FAIL("which_children: " << to_string(err)); });
    return result;
  }

  child_info child(const caf::actor& sup, const std::string& id) {
    for (auto& x : children(sup))
      if (x.id == id)
        return x;
    return child_info{};
  }

  /// Returns the current actor of child `id`.
  caf::actor actor_of(const caf::actor& sup, const std::string& id) {
    return child(sup, id).actor;
  }

  /// Waits until the supervisor let go of `old`, the incarnation of child
  /// `id` that just exited, and returns the child's current actor (invalid if
  /// it was not restarted). A worker's own last words can reach the probe
  /// before its supervisor's down message, so this polls the supervisor.
  caf::actor await_replaced(const caf::actor& sup, const std::string& id,
                            const caf::actor& old) {
    auto current = actor_of(sup, id);
    for (int i = 0; i < 20'000 && current == old; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      current = actor_of(sup, id);
    }
    REQUIRE(current != old);
    return current;
  }

  /// Makes child `id` throw inside its handler.
  void crash(const caf::actor& sup, const std::string& id) {
    auto hdl = actor_of(sup, id);
    REQUIRE(hdl);
    probe->send(hdl, crash_atom::value);
  }

  /// Makes child `id` exit with `reason`.
  void exit_child(const caf::actor& sup, const std::string& id,
                  caf::error reason) {
    auto hdl = actor_of(sup, id);
    REQUIRE(hdl);
    probe->send(hdl, quit_atom::value, std::move(reason));
  }

  /// Starts `spec` and requires that it starts.
  caf::actor start(const supervisor_spec& spec) {
    auto sup = start_supervisor(sys, spec);
    REQUIRE(sup);
    return *sup;
  }

  /// Blocks until `sup` exited; returns the rendered reason.
  std::string exit_reason_of(const caf::actor& sup) {
    return sys.render(await_exit(sys, sup));
  }

  std::string render(const caf::error& err) {
    return sys.render(err);
  }
};

/// For tests of one part of a supervisor (the shutdown sequencer, the
/// health monitor) hosted by an actor of the test's own: a child's spec (its
/// id and policies) and the actor the test spawned for it.
struct test_child {
  child_spec spec;
  caf::actor actor;
};

/// Stops `sup` and returns why it exited, or why it could not be stopped:
/// `stop_supervisor` answers none once the tree is gone, `await_exit` why.
inline caf::error
stop_and_await(caf::actor_system& sys, const caf::actor& sup,
               caf::error reason = caf::exit_reason::user_shutdown,
               caf::timespan timeout = default_timeout) {
  if (auto err = stop_supervisor(sys, sup, std::move(reason), timeout))
    return err;
  return await_exit(sys, sup, timeout);
}

/// A child that does nothing of note: it echoes ints.
inline caf::behavior idle_worker(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

} // namespace trellis::test
