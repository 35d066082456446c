#pragma once

// The actors both sides of a case share: the children, the drivers that
// crash them or send them requests, and the hand-written baselines that do
// a supervisor's work directly on CAF.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "harness.hpp"

namespace trellis::bench {

using announce_atom = caf::atom_constant<caf::atom("b_announce")>;
using crash_atom = caf::atom_constant<caf::atom("b_crash")>;
using run_atom = caf::atom_constant<caf::atom("b_run")>;
using spawn_atom = caf::atom_constant<caf::atom("b_spawn")>;
using stop_atom = caf::atom_constant<caf::atom("b_stop")>;

/// The config of every actor system of the bench: Trellis registered, CAF's
/// own log quiet, and two scheduler threads (the cores of the machine the
/// published numbers come from; CAF's default here too).
struct bench_config : caf::actor_system_config {
  bench_config();
};

/// Sets how Trellis' reports come out. Call once, before any actor system.
void setup_reports(reports_mode x);

/// How long a blocking wait of the bench may take before the case fails.
constexpr auto patience = std::chrono::seconds(120);

// -- children -----------------------------------------------------------------

/// Sends `(announce_atom, index)` to `driver` as soon as it runs, echoes
/// `int32_t`s, and throws on `crash_atom`.
caf::behavior announcing_child(caf::event_based_actor* self, caf::actor driver,
                               int32_t index);

/// `announcing_child` as hand-written CAF code spawns it: with an exception
/// handler that turns a throw into an exit reason (CAF's default handler
/// prints every exception through `aout` first), as Trellis' does.
caf::behavior bare_announcing_child(caf::event_based_actor* self,
                                    caf::actor driver, int32_t index);

/// Echoes `int32_t`s and does nothing else: an idle child.
caf::behavior idle_child(caf::event_based_actor* self);

// -- drivers ------------------------------------------------------------------

/// How a driver crashes a child.
enum class kick { kill, exception };

/// What a kicking driver plays: it waits for the first announcement of
/// each of `children` children; then each `run_and_wait` plays `rounds`
/// rounds (the first one `warmup` more, unmeasured). A round kicks the
/// children in `targets` and ends when `expect` announcements of
/// replacements arrived.
struct kick_plan {
  int32_t children = 1;
  std::vector<int32_t> targets{0};
  size_t expect = 1;
  size_t warmup = 0;
  size_t rounds = 1;
  bench::kick kick = bench::kick::kill;
};

/// What a kicking driver measured, over all its runs: each measured round,
/// and the seconds of all of them.
struct kick_record {
  std::vector<double> round_seconds;
  double total_seconds = 0;
};

/// Spawns a driver playing `plan`, started by `run_and_wait`. It fills
/// `out` before it answers.
caf::actor spawn_kicker(caf::actor_system& sys, kick_plan plan,
                        std::shared_ptr<kick_record> out);

/// The side values of a kick record: p50 and p99 of a round, in µs.
extras round_latencies(const kick_record& x);

/// Sends `(run_atom)` to `driver` and waits for its answer; throws after
/// `patience` or on an error.
void run_and_wait(caf::actor_system& sys, const caf::actor& driver);

/// What a pump measured: seconds from start to last answer, and how many
/// answers were errors.
struct pump_record {
  double seconds = 0;
  size_t errors = 0;
};

/// Spawns a driver that, on `(run_atom)`, sends `request` to `target`
/// `count` times, keeping `window` requests in flight, and answers once
/// every answer (of type `Response`, or an error) arrived.
template <class Response>
caf::actor spawn_pump(caf::actor_system& sys, caf::actor target,
                      caf::message request, size_t count, size_t window,
                      std::shared_ptr<pump_record> out);

/// Runs a pump (see `spawn_pump`) to the end and returns its seconds;
/// throws if any request failed.
template <class Response>
double run_pump(caf::actor_system& sys, caf::actor target,
                caf::message request, size_t count, size_t window);

// -- hand-written baselines ---------------------------------------------------

/// The baseline of a one_for_one supervisor: spawns `n` children
/// `bare_announcing_child(driver, i)`, monitors them, and spawns a
/// replacement for each one that goes down. `(stop_atom)` kills them all
/// and ends it.
caf::actor spawn_bare_one_for_one(caf::actor_system& sys, caf::actor driver,
                                  int32_t n);

/// The baseline of a one_for_all supervisor: like `spawn_bare_one_for_one`,
/// but when a child goes down it stops the others, newest first, one at a
/// time (`user_shutdown`, then waits for its down message), and then spawns
/// all `n` again in order: OTP's order, as a hand-written loop that keeps
/// it would do.
caf::actor spawn_bare_one_for_all(caf::actor_system& sys, caf::actor driver,
                                  int32_t n);

/// The baseline of a dynamic supervisor: `(spawn_atom)` spawns an
/// `idle_child`, monitors it and answers its handle; `(stop_atom)` stops
/// them all (`user_shutdown`, at most `window` at a time, the same window
/// as Trellis' dynamic shutdown) and answers once all are down.
caf::actor spawn_bare_parent(caf::actor_system& sys, size_t window = 512);

/// Sends `(stop_atom)` to a baseline and waits for its answer, then for its
/// exit: `stop_supervisor` returns once the supervisor is gone, the
/// children's handles it held released, and so must the baseline.
void stop_bare(caf::actor_system& sys, const caf::actor& bare);

// -- implementation of spawn_pump ---------------------------------------------

namespace detail {

template <class Response>
struct pump_state {
  caf::actor target;
  caf::message request;
  size_t count = 0;
  size_t window = 0;
  size_t sent = 0;
  size_t answered = 0;
  clock::time_point start;
  caf::response_promise done;
  std::shared_ptr<pump_record> out;
};

template <class Response>
void pump_one(caf::stateful_actor<pump_state<Response>>* self) {
  auto& st = self->state;
  ++st.sent;
  auto on_answer = [self] {
    auto& s = self->state;
    if (++s.answered == s.count) {
      s.out->seconds = seconds_between(s.start, clock::now());
      s.done.deliver(caf::ok_atom::value);
      return;
    }
    if (s.sent < s.count)
      pump_one(self);
  };
  self->request(st.target, caf::infinite, st.request)
    .then([on_answer](Response&) { on_answer(); },
          [self, on_answer](caf::error&) {
            ++self->state.out->errors;
            on_answer();
          });
}

template <class Response>
caf::behavior pump(caf::stateful_actor<pump_state<Response>>* self,
                   caf::actor target, caf::message request, size_t count,
                   size_t window, std::shared_ptr<pump_record> out) {
  auto& st = self->state;
  st.target = std::move(target);
  st.request = std::move(request);
  st.count = count;
  st.window = window;
  st.out = std::move(out);
  return {
    [self](run_atom) {
      auto& s = self->state;
      s.done = self->make_response_promise();
      s.start = clock::now();
      while (s.sent < s.count && s.sent < s.window)
        pump_one(self);
    },
  };
}

} // namespace detail

template <class Response>
caf::actor spawn_pump(caf::actor_system& sys, caf::actor target,
                      caf::message request, size_t count, size_t window,
                      std::shared_ptr<pump_record> out) {
  return sys.spawn(detail::pump<Response>, std::move(target),
                   std::move(request), count, window, std::move(out));
}

template <class Response>
double run_pump(caf::actor_system& sys, caf::actor target,
                caf::message request, size_t count, size_t window) {
  auto rec = std::make_shared<pump_record>();
  auto pump = spawn_pump<Response>(sys, std::move(target), std::move(request),
                                   count, window, rec);
  run_and_wait(sys, pump);
  caf::anon_send_exit(pump, caf::exit_reason::user_shutdown);
  if (rec->errors > 0)
    throw std::runtime_error(std::to_string(rec->errors) + " of "
                             + std::to_string(count) + " requests failed");
  return rec->seconds;
}

} // namespace trellis::bench
