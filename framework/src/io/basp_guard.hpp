#pragma once

// What a node accepts from a peer before CAF's BASP instance sees it: every
// header is checked here first (node_transport.cpp feeds it), since CAF
// 0.17.6 trusts them. A header without the payload its operation needs
// makes the instance dereference a null payload (a handshake of 32 bytes
// crashes the process), and a payload length is allocated and zero-filled
// whole before a byte of it arrives (4 GB stall the I/O thread of every
// connection). docs/distribution.md, "Hostile peers".

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/timespan.hpp>

namespace trellis::detail {

/// The bounds a connection's headers are checked against.
struct basp_limits {
  /// Largest payload after the handshake (`node_config::max_message_size`).
  uint32_t max_payload = 16u << 20;

  /// Largest payload of a handshake: node ids, application identifiers and
  /// a published interface, a few hundred bytes in practice.
  uint32_t max_handshake_payload = 64u << 10;

  /// What the payloads that are still arriving may hold, all connections
  /// together (those up to `payload_piece` not counted): sixteen of the
  /// largest. A connection holds what arrived of its payload, not what its
  /// header announced; the one whose bytes would pass this is closed.
  uint64_t max_arriving() const noexcept {
    return 16 * uint64_t{max_payload};
  }

  /// Time from accepting or connecting to the peer's complete handshake
  /// (`node_config::handshake_timeout`); zero turns the deadline off.
  caf::timespan handshake_timeout = std::chrono::seconds(5);

  /// Accepted connections in their handshake at once; more are closed as
  /// they arrive, so that half-open connections cannot take every descriptor.
  int max_pending_handshakes = 256;

  /// Deepest nesting of the values in a message or down message
  /// (`node_config::max_message_nesting`): each `caf::message` and each
  /// sequence (list, map, set) within another is a level deeper. CAF reads
  /// them recursively and overflowed a stack at 20,000 levels; Trellis' own
  /// messages nest a few (a tree snapshot one per level of the tree). A
  /// payload of at most this many bytes cannot nest deeper, and is not
  /// checked (nesting_check.hpp).
  uint32_t max_nesting = 512;
};

/// Why a connection is closed before CAF sees its bytes.
enum class basp_refusal : uint8_t {
  /// Nothing wrong.
  none,
  /// The operation is none of BASP's.
  unknown_operation,
  /// The first header is not the handshake this side waits for.
  handshake_expected,
  /// An operation that carries a payload announces none.
  missing_payload,
  /// A heartbeat announces a payload.
  unexpected_payload,
  /// The payload length exceeds the limit.
  payload_too_large,
  /// The handshake did not complete in time.
  handshake_timeout,
  /// A message's values nest deeper than the limit.
  nesting_too_deep,
  /// Reading a message's values threw (see `nesting_error::unreadable`).
  unreadable_payload,
  /// The payloads still arriving on all connections would pass
  /// `basp_limits::max_arriving()`.
  arriving_payloads,
};

/// A payload longer than this is read a piece of this size at a time.
constexpr size_t payload_piece = 64u << 10;

/// Returns the name of `x`, as reports print it.
const char* to_string(basp_refusal x) noexcept;

/// Checks the headers of one connection, in order: a decision per header,
/// with no I/O. `accepted` tells which handshake comes first: a node that
/// accepted waits for the peer's client handshake, one that connected for
/// the server's.
class basp_guard {
public:
  basp_guard(bool accepted, basp_limits limits) noexcept
    : accepted_(accepted), limits_(limits) {
    // nop
  }

  /// Decides on the header in `buf` (`n` bytes, BASP's network byte order);
  /// after `none`, its payload (if any) is expected next.
  basp_refusal on_header(const char* buf, size_t n) noexcept;

  /// Notes that the payload announced by the last header arrived.
  void on_payload() noexcept;

  /// Returns whether the next bytes are a payload, not a header.
  bool expects_payload() const noexcept {
    return payload_ > 0;
  }

  /// Returns whether the peer's handshake arrived whole.
  bool handshake_done() const noexcept {
    return done_;
  }

  /// Returns the operation of the last header decided on.
  uint8_t operation() const noexcept {
    return operation_;
  }

  /// Describes the last header decided on, for a report: its operation and
  /// payload length.
  std::string last_header() const;

private:
  bool accepted_;
  basp_limits limits_;
  bool started_ = false;      // The handshake's header arrived.
  bool done_ = false;         // And its payload.
  uint8_t operation_ = 0;
  uint32_t payload_ = 0;      // Announced and not yet consumed.
  uint32_t last_length_ = 0;
};

} // namespace trellis::detail
