#pragma once

/// @file
/// Nodes: how a process takes part in a tree that spans processes. Part of
/// `trellis::distribution`.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "trellis/io/tls_config.hpp"

namespace trellis {

/// How a process takes part in a distributed tree as a node: where it
/// listens, which peers it accepts, and how fast it notices a lost peer.
///
/// Nodes speak CAF's own protocol (BASP, through `caf::io::middleman`); a
/// node is an actor system with the middleman loaded and an open port.
/// Peers must present the same application identifier, or the handshake
/// fails. A killed node closes its sockets and is noticed at once; a hung
/// or partitioned one only when its connection has been silent for
/// `connection_timeout` while heartbeats are expected every
/// `heartbeat_interval`: the detection bound is their sum. With `tls` set,
/// the node listens and connects over TLS only.
struct node_config {
  /// The address to listen on: loopback unless told otherwise, so that a
  /// node is reachable from another machine only when asked explicitly.
  std::string host = "127.0.0.1";

  /// The port to listen on; 0 lets the system pick one (`start_node`
  /// returns it).
  uint16_t port = 0;

  /// The application identifier peers must present (CAF's
  /// `middleman.app-identifiers`).
  std::string app_identifier = "trellis";

  /// How often the middleman sends a heartbeat on each connection (CAF's
  /// `middleman.heartbeat-interval`); 0 turns heartbeats off, and with them
  /// the detection of hung nodes.
  caf::timespan heartbeat_interval = std::chrono::milliseconds(500);

  /// How long a connection may stay silent before the middleman closes it
  /// (CAF's `middleman.connection-timeout`); then every monitor of an actor
  /// on that node fires with `remote_link_unreachable`.
  caf::timespan connection_timeout = std::chrono::seconds(2);

  /// How long a supervisor waits for one node to connect and spawn a
  /// remote child before it tries the next node (`trellis.spawn-timeout`).
  caf::timespan spawn_timeout = std::chrono::seconds(3);

  /// How often a supervisor probes the preferred nodes of children placed
  /// elsewhere whose spec asks for takeover (`trellis.takeover-interval`).
  caf::timespan takeover_interval = std::chrono::seconds(1);

  /// The largest message payload a peer may announce after its handshake,
  /// in bytes (`trellis.max-message-size`); a larger announcement closes the
  /// connection before a byte of it is read (docs/distribution.md, "Hostile
  /// peers"). A handshake's payload is held to 64 KiB.
  uint32_t max_message_size = 16u << 20;

  /// How long a peer may take, from connecting, to complete its handshake
  /// (`trellis.handshake-timeout`); one that does not is closed. Zero turns
  /// the deadline off.
  caf::timespan handshake_timeout = std::chrono::seconds(5);

  /// How deep the values of a message from a peer may nest
  /// (`trellis.max-message-nesting`): each message and each list, map or
  /// set within another is one level. CAF 0.17.6 reads them recursively
  /// and a deep enough message overflowed its stack; a deeper one closes
  /// the connection before CAF reads it (docs/distribution.md, "Hostile
  /// peers").
  uint32_t max_message_nesting = 512;

  /// TLS between nodes: off unless set (see `tls_config`).
  tls_config tls;
};

/// Makes `cfg` a node's: loads CAF's middleman, sets the heartbeat, the
/// connection timeout, the application identifier and the limits on what
/// peers send, registers the Trellis types that cross the wire (snapshots),
/// calls `trellis::configure`, and connects the core to this library. Every
/// process whose supervisors place remote children calls it, even one that
/// loads the middleman itself: without it a remote child fails to start
/// with `errc::not_configured`.
/// With `x.tls` set, also loads CAF's OpenSSL module, after checking the
/// settings (`validate`). Returns the error of unusable TLS settings; the
/// system made from `cfg` then fails to listen and to place children with
/// that error, rather than fall back to plain BASP.
[[nodiscard]] caf::error configure_node(caf::actor_system_config& cfg,
                                      const node_config& x);

/// Opens the node's port on `x.host` for other nodes and returns the port
/// bound (useful with port 0); over TLS if the config asked for it. The
/// system must come from a config passed through `configure_node`, which
/// decides about TLS.
caf::expected<uint16_t> start_node(caf::actor_system& sys,
                                   const node_config& x);

/// Returns the spawn timeout `sys` was configured with (see
/// `node_config::spawn_timeout`), or its default.
caf::timespan spawn_timeout(const caf::actor_system& sys);

/// Returns the takeover interval `sys` was configured with, or its default.
caf::timespan takeover_interval(const caf::actor_system& sys);

/// Runs a node process until SIGTERM or SIGINT and returns its exit code:
/// the entry point of a node executable. It reads `--host=`, `--port=`,
/// `--app-id=`, `--heartbeat-ms=`, `--timeout-ms=`, `--spawn-timeout-ms=`,
/// `--max-message-bytes=`, `--max-message-nesting=` and
/// `--handshake-timeout-ms=` from the command line, and for TLS
/// `--tls-cert=`, `--tls-key=`, `--tls-ca=` and `--tls-passphrase-file=`
/// (whose first line is the key's passphrase, kept off the command line);
/// lets `register_types` add the actor types other nodes may spawn here
/// (`add_remote_type`, `add_remote_supervisor`), opens the port, prints
/// `trellis-node port=<port>` on stdout, and serves. An application that is
/// a node itself calls `configure_node` and `start_node` instead.
int run_node(int argc, char** argv,
             const std::function<void(caf::actor_system_config&)>&
               register_types);

} // namespace trellis
