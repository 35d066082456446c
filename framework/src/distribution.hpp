#pragma once

// The core's one door to other nodes. What a supervisor needs from them
// (spawn a remote child, probe a preferred node, the time either may take)
// is an interface here, which the distribution library, the one target that
// links CAF's I/O module, implements and installs from
// `trellis::configure_node`.

#include <cstdint>
#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

namespace trellis::detail {

class distribution {
public:
  virtual ~distribution() = default;

  /// Returns why `sys` cannot reach other nodes, or none.
  virtual caf::error unreachable(caf::actor_system& sys) const = 0;

  /// Spawns the remote type `type` with `args` on the node at `host:port`
  /// as the child at `path` of `supervisor`, each step within the spawn
  /// timeout. Returns the child, or an invalid handle and `why` not.
  virtual caf::actor spawn_on(caf::actor_system& sys, const std::string& host,
                              uint16_t port, const caf::actor& supervisor,
                              const std::string& path, const std::string& type,
                              caf::message args, std::string& why) const = 0;

  /// Asks from `self` whether the node at `host:port` answers, within the
  /// spawn timeout, and runs `reachable` in `self` if it does.
  virtual void probe(caf::event_based_actor* self, const std::string& host,
                     uint16_t port, std::function<void()> reachable) const = 0;

  /// How long a node may take to connect and spawn a child.
  virtual caf::timespan spawn_timeout(const caf::actor_system& sys) const = 0;

  /// How often a supervisor probes the preferred nodes of displaced
  /// children.
  virtual caf::timespan
  takeover_interval(const caf::actor_system& sys) const = 0;
};

/// Makes `x`, which lives as long as the process, the distribution of every
/// actor system; each still needs `configure_node` to reach other nodes.
void install_distribution(const distribution* x) noexcept;

/// Returns the installed distribution, or null: nothing in this program
/// called `configure_node`, so no system of it is a node.
const distribution* installed_distribution() noexcept;

} // namespace trellis::detail
