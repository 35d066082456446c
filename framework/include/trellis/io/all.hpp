#pragma once

/// @file
/// Trees that span processes, in one include, like caf/io/all.hpp: nodes and
/// their ports (node.hpp), remote children and supervisors (remote.hpp), TLS
/// between nodes (tls_config.hpp). Link trellis::distribution, the one target
/// that links CAF's I/O module, and pass the config through
/// `trellis::configure_node`.

#include "trellis/all.hpp"
#include "trellis/io/node.hpp"
#include "trellis/io/remote.hpp"
#include "trellis/io/tls_config.hpp"
