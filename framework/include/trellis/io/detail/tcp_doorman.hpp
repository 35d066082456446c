#pragma once

#include <cstdint>

#include <caf/expected.hpp>
#include <caf/io/doorman.hpp>
#include <caf/io/fwd.hpp>

namespace trellis::detail {

/// Opens a TCP port as CAF's `middleman::backend().new_tcp_doorman` does,
/// with two differences. First, a process out of file descriptors (EMFILE, ENFILE)
/// refuses the waiting connection instead of leaving it in the backlog.
/// CAF's doorman leaves it there, the listening socket stays readable, and
/// the middleman's I/O thread spins at full speed until a descriptor frees
/// up. Here a spare descriptor is given up to accept and close the
/// connection (its peer sees it closed at once), reported as
/// `connection_refused reason=out_of_file_descriptors`, and taken again.
/// Second, a broker's `halt(hdl)` and `trigger(hdl)` on an accepted
/// connection hold: with CAF 0.17.6's scribes, a halt from inside a read
/// lets CAF read on (up to `middleman.max-consecutive-reads` more reads),
/// and a trigger in the same round of the I/O loop as a halt is lost, so the
/// connection is never read again. Needs CAF's default multiplexer, the one
/// Trellis' nodes use.
caf::expected<caf::io::doorman_ptr>
new_tcp_doorman(caf::io::middleman& mm, uint16_t port, const char* host,
                bool reuse_addr);

} // namespace trellis::detail
