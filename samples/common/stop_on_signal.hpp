#pragma once

// How the samples end on SIGINT and SIGTERM, the part they share with their
// signal tests (tests/samples/stop_on_signal.py).

#include <string>

#include <caf/fwd.hpp>

#include "trellis/stop_signal.hpp"

namespace samples {

/// With `--linger` among the arguments, keeps the tree running after the
/// scenario until SIGINT or SIGTERM: prints "<name>: lingering until a
/// signal" and waits for one, at most 60 s, so that a forgotten run still
/// ends (it then says so and the sample ends as without the flag). Without
/// the flag, or when a stop was requested already, returns at once.
///
/// Most scenarios end within a second, so that a signal sent while one runs
/// can come after the sample looked for it, or after it exited. The signal
/// tests pass `--linger` and send theirs once this line appears: the tree
/// is then running, however late the signal comes.
void linger(int argc, char** argv, const std::string& name,
            trellis::stop_signal& stop);

/// A stop was requested: stops the tree in order, prints "<name>: signal
/// <n>, tree stopped: <reason>" and returns 0 for `main`, since a stop that
/// an operator asked for is success.
int stopped_by_signal(const std::string& name, caf::actor_system& sys,
                      const caf::actor& root,
                      const trellis::stop_signal& stop);

} // namespace samples
