#pragma once

/// @file
/// `coordinated_shutdown`: a service's shutdown in named phases, each with a
/// deadline, started by a call or by SIGTERM.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "trellis/shutdown_phase.hpp"

namespace trellis {

class stop_signal;

namespace detail {

template <class F>
inline constexpr bool is_std_function_v = false;

template <class Sig>
inline constexpr bool is_std_function_v<std::function<Sig>> = true;

} // namespace detail

/// How long each phase of a `coordinated_shutdown` may take. A phase also
/// gets no more than what is left of `overall`.
struct coordinated_shutdown_config {
  /// How long the service stays up, not ready, before intake stops, so that
  /// load balancers and orchestrators stop sending to it first (set it to
  /// their probe period). 0 by default.
  caf::timespan readiness_grace{0};
  /// How long the `not_ready` tasks may take.
  caf::timespan not_ready = std::chrono::seconds(5);
  /// How long the `stop_intake` tasks may take.
  caf::timespan stop_intake = std::chrono::seconds(5);
  /// How long in-flight work may take to finish.
  caf::timespan drain = std::chrono::seconds(10);
  /// How long the tree may take to stop (its children's shutdown policies
  /// should fit in it).
  caf::timespan stop_tree = std::chrono::seconds(10);
  /// How long the `flush` tasks may take.
  caf::timespan flush = std::chrono::seconds(5);
  /// The bound on the whole shutdown.
  caf::timespan overall = std::chrono::seconds(30);
};

/// A task of a phase: gets the phase's deadline, returns none or why it
/// failed.
using shutdown_task
  = std::function<caf::error(std::chrono::steady_clock::time_point deadline)>;

/// A service's shutdown in phases (`shutdown_phase`): not ready, stop intake,
/// drain, stop the tree, flush. OTP stops applications with `init:stop()`
/// (each application's `prep_stop`, then its tree, then `stop`); Akka's
/// CoordinatedShutdown names the phases, as here. Applications register
/// tasks in a phase (close a listener in `stop_intake`, wait for sessions in
/// `drain`, sync a file in `flush`); Trellis does its part of each:
///
/// - `not_ready`: `current_shutdown_phase` and the observer's `/readyz`
///   (503) say so, systemd hears `STOPPING=1`; then `readiness_grace`.
/// - `drain`: a stable handle whose child is down refuses with
///   `errc::shutting_down` rather than buffer for a restart; after the
///   tasks, the phase waits until every mailbox of the tree is empty.
/// - `stop_tree`: stops the root (`stop_supervisor`), each child in reverse
///   start order by its shutdown policy.
///
/// A phase's tasks run at once, each on a thread of its own, and the phase
/// ends when all returned or its deadline passed. A task that overruns is
/// left running (CAF and C++ cannot preempt it), reported, and named in
/// the result; the next phase starts anyway, so a shutdown always ends.
/// Such a task may outlive `main`'s locals, the actor system too: bound
/// each blocking call in a task by the deadline it gets (every Trellis
/// helper takes a timeout), and capture by value what it uses otherwise.
///
/// ~~~
/// trellis::stop_signal stop;                  // first, in main
/// caf::actor_system sys{cfg};
/// auto root = trellis::start_supervisor(sys, tree);
/// trellis::coordinated_shutdown shutdown{sys, *root};
/// shutdown.add_task(trellis::shutdown_phase::stop_intake, "listener",
///                   [&sys, r = *root](auto deadline) {
///                     return trellis::terminate_child(
///                       sys, r, "listener",
///                       deadline - std::chrono::steady_clock::now());
///                   });
/// auto err = shutdown.run_on(stop);          // SIGTERM, or the tree ended
/// ~~~
class coordinated_shutdown {
public:
  /// Prepares the shutdown of the tree under `root`; nothing runs yet.
  coordinated_shutdown(caf::actor_system& sys, caf::actor root,
                       coordinated_shutdown_config cfg = {});

  /// Does not run the shutdown: tasks left running after their deadline
  /// keep only what they captured.
  ~coordinated_shutdown();

  coordinated_shutdown(const coordinated_shutdown&) = delete;
  coordinated_shutdown& operator=(const coordinated_shutdown&) = delete;

  /// Adds a task named `name` to `phase` (any but `running` and `done`).
  /// `f` takes the phase's deadline or nothing, and returns `caf::error` or
  /// nothing. Fails with `errc::invalid_spec` for another phase, an empty
  /// name or function, and with `errc::shutting_down` once the shutdown
  /// began.
  template <class F>
  caf::error add_task(shutdown_phase phase, std::string name, F f) {
    return add(phase, std::move(name), wrap(std::move(f)));
  }

  /// Runs every phase in order and returns once `done` is reached: none if
  /// every task and phase finished in time, otherwise `errc::timeout` or the
  /// first task's error, naming each phase and task that did not. Runs
  /// once; a second call waits for the first and returns its result. Fails
  /// with `errc::calling_self` from an actor of the tree: use
  /// `request_run` there.
  caf::error run(const std::string& cause = "requested");

  /// Starts `run` on a thread of its own and returns at once; for an actor
  /// or a handler (not a signal handler: it locks and starts a thread).
  /// `wait` then returns the result.
  void request_run(const std::string& cause = "requested");

  /// Waits until the shutdown reached `done` and returns `run`'s result;
  /// `errc::timeout` if it has not within `timeout` (a shutdown that nobody
  /// started never ends).
  caf::error wait(caf::timespan timeout = default_wait);

  /// How long `wait` waits unless told otherwise: a minute, twice the
  /// default overall deadline.
  static constexpr caf::timespan default_wait = std::chrono::minutes(1);

  /// Waits until `stop` has a signal (SIGINT, SIGTERM), the root exits, or
  /// `request_run` started the shutdown, then runs it (or waits for it). A
  /// second signal ends the process at once (see `stop_signal`). Returns
  /// `run`'s result, or, if the root exited by itself, its exit reason (the
  /// shutdown still ran: the tasks close what the application opened).
  caf::error run_on(stop_signal& stop);

  /// Returns the phase the shutdown is in.
  shutdown_phase phase() const noexcept;

  /// Returns the configuration.
  const coordinated_shutdown_config& config() const noexcept;

  /// The shared state; private to Trellis.
  struct impl;

private:
  template <class F>
  static shutdown_task wrap(F f) {
    using clock = std::chrono::steady_clock;
    // An empty std::function or a null pointer is no task.
    if constexpr (std::is_pointer_v<F> || detail::is_std_function_v<F>)
      if (!f)
        return {};
    if constexpr (std::is_invocable_v<F&, clock::time_point>) {
      using result = std::invoke_result_t<F&, clock::time_point>;
      return [f = std::move(f)](clock::time_point deadline) mutable {
        if constexpr (std::is_void_v<result>) {
          f(deadline);
          return caf::error{};
        } else {
          return caf::error{f(deadline)};
        }
      };
    } else {
      static_assert(std::is_invocable_v<F&>,
                    "a shutdown task takes the phase's deadline "
                    "(std::chrono::steady_clock::time_point) or nothing");
      using result = std::invoke_result_t<F&>;
      return [f = std::move(f)](clock::time_point) mutable {
        if constexpr (std::is_void_v<result>) {
          f();
          return caf::error{};
        } else {
          return caf::error{f()};
        }
      };
    }
  }

  caf::error add(shutdown_phase phase, std::string name, shutdown_task f);

  std::shared_ptr<impl> impl_;
};

} // namespace trellis
