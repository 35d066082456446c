#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

namespace trellis {
struct tree_snapshot;
} // namespace trellis

namespace trellis::detail {

/// One actor's answer to a mailbox probe.
struct mailbox_answer {
  std::string path;
  caf::actor actor;
  /// The depth, if the actor answered with one.
  std::optional<uint64_t> depth;
  /// No answer within the timeout: busy in a handler, or stuck.
  bool timed_out = false;
};

/// Probes every running actor of `x` at once, at most `timeout`, but for
/// blocking actors (which cannot answer between their receives) and, unless
/// `include_remote`, remote ones.
std::vector<mailbox_answer> probe_mailboxes(caf::actor_system& sys,
                                            const tree_snapshot& x,
                                            caf::timespan timeout,
                                            bool include_remote);

} // namespace trellis::detail
