#pragma once

// How a node reaches other nodes: CAF's middleman actor for plain BASP, or
// Trellis' own for TLS (see node_transport.cpp for why not CAF's OpenSSL one).

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

namespace trellis::detail {

/// Returns whether `sys` was configured for TLS (`node_config::tls`).
bool uses_tls(const caf::actor_system& sys);

/// Returns the middleman actor that connects to, opens ports for and spawns
/// on other nodes: CAF's own for plain BASP, a TLS one when `uses_tls(sys)`
/// (made once per system, it lives as long as the middleman). Fails when the
/// system has no middleman, or asks for TLS with settings `configure_node`
/// refused: such a node never falls back to plain BASP.
caf::expected<caf::io::middleman_actor> node_transport(caf::actor_system& sys);

class distribution;

/// Returns the distribution over CAF's middleman, which `configure_node`
/// installs (see distribution.hpp).
const distribution* io_distribution_instance();

} // namespace trellis::detail
