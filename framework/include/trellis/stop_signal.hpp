#pragma once

/// @file
/// `stop_signal`: SIGINT and SIGTERM as an orderly stop of the process.

#include <memory>

#include <caf/timespan.hpp>

namespace trellis {

/// Turns SIGINT and SIGTERM into a request to stop that `main` waits for,
/// so that a service stops its trees in order when an operator or an init
/// system asks, and exits 0. As in OTP, where `erl` turns SIGTERM into
/// `init:stop()` (since OTP 19.3).
///
/// Create it first in `main`, before the actor system: it blocks both
/// signals for the threads started after it, and one thread of its own
/// takes them. (Created later, it still works: a handler catches what the
/// threads started before it take, where the default action would end the
/// process without stopping a tree. Every live `stop_signal` sees each
/// signal.) When a stop is requested, return from `main`: the guard that
/// `trellis::configure` installs stops every tree in order as the actor
/// system goes. A second signal while the first is being handled ends the
/// process at once, with exit code 128 + the signal, as a shell expects.
///
/// ~~~
/// trellis::stop_signal stop;          // before the actor system
/// caf::actor_system sys{cfg};
/// auto root = trellis::start_supervisor(sys, tree);
/// stop.wait();                        // SIGINT or SIGTERM
/// return 0;                           // the tree stops in order
/// ~~~
class stop_signal {
public:
  /// Blocks SIGINT and SIGTERM in the calling thread (and so in the threads
  /// it starts afterwards) and starts the thread that takes them.
  stop_signal();

  /// Stops the thread that takes the signals; they stay blocked.
  ~stop_signal();

  /// Not copyable: one object takes the process' signals.
  stop_signal(const stop_signal&) = delete;
  /// Not copyable: one object takes the process' signals.
  stop_signal& operator=(const stop_signal&) = delete;

  /// Returns whether a stop was requested.
  bool requested() const noexcept;

  /// Returns the signal that requested the stop, or 0.
  int signal_number() const noexcept;

  /// Waits until a stop is requested.
  void wait();

  /// Waits at most `timeout` for a stop request; returns whether one came.
  /// Samples use it in place of a sleep.
  bool wait_for(caf::timespan timeout);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace trellis
