#pragma once

// CAF 0.17.6 reads a remote value recursively, one chain of calls per level
// of nesting (a message in a message, a list in a config_value, a child in a
// tree_snapshot), with no bound: a message of 40,000 nested messages (600 KB)
// or a config_value of 20,000 nested lists (40 KB) overflowed the stack of
// the thread reading it (a BASP worker on the scheduler; the I/O thread for
// a down message's error) and killed the node with SIGSEGV; and it throws
// for some malformed values, which on that thread ends the process too.
// Before CAF sees a payload that carries values, the connection reads it
// here the same way, with the depth counted and capped and what throws
// caught (node_transport.cpp).
// docs/distribution.md, "Hostile peers".

#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/binary_deserializer.hpp>
#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace trellis::detail {

/// Why a nesting check stopped reading.
enum class nesting_error : uint8_t {
  /// Objects and sequences nest deeper than the limit.
  too_deep = 1,
  /// Reading threw: CAF 0.17.6 throws for some malformed values (a
  /// config_value's unknown type tag), and on the thread that reads a
  /// remote message that ends the process.
  unreadable,
};

/// Makes a `caf::error` of `x` (category `nesting`); it never leaves the
/// check, which turns it into a refusal.
caf::error make_error(nesting_error x);

/// Reads what `caf::binary_deserializer` reads from the same bytes, and
/// fails with `nesting_error::too_deep` when objects (each `caf::message`)
/// and sequences (each list, map or set; a string is no level) nest more
/// than `max_depth` levels deep. Every level takes at least a byte of
/// input, so a payload of at most `max_depth` bytes cannot fail this way.
/// Once too deep, every later call fails too: CAF's message reader drops
/// the error of a message within it, and would read on.
class nesting_deserializer final : public caf::deserializer {
public:
  nesting_deserializer(caf::execution_unit* ctx, const char* buf, size_t n,
                       uint32_t max_depth);

  caf::error begin_object(uint16_t& typenr, std::string& name) override;

  caf::error end_object() override;

  caf::error begin_sequence(size_t& list_size) override;

  caf::error end_sequence() override;

  caf::error apply_raw(size_t num_bytes, void* data) override;

  /// Returns the deepest level read so far.
  uint32_t deepest() const noexcept {
    return deepest_;
  }

  /// Returns whether the input nests deeper than the limit.
  bool too_deep() const noexcept {
    return too_deep_;
  }

protected:
  caf::error apply_impl(int8_t& x) override;

  caf::error apply_impl(uint8_t& x) override;

  caf::error apply_impl(int16_t& x) override;

  caf::error apply_impl(uint16_t& x) override;

  caf::error apply_impl(int32_t& x) override;

  caf::error apply_impl(uint32_t& x) override;

  caf::error apply_impl(int64_t& x) override;

  caf::error apply_impl(uint64_t& x) override;

  caf::error apply_impl(float& x) override;

  caf::error apply_impl(double& x) override;

  caf::error apply_impl(long double& x) override;

  caf::error apply_impl(std::string& x) override;

  caf::error apply_impl(std::u16string& x) override;

  caf::error apply_impl(std::u32string& x) override;

private:
  caf::error enter();

  caf::binary_deserializer inner_;
  uint32_t max_depth_;
  uint32_t depth_ = 0;
  uint32_t deepest_ = 0;
  bool too_deep_ = false;
};

/// Returns whether a payload of the BASP operation `operation` carries
/// values that CAF reads recursively, and whose reading may throw: messages
/// (direct and routed) and down messages (an error and its context). Each
/// is checked whatever its length: 30 bytes of a `config_value` with an
/// unknown type tag made CAF throw, which ends the process.
bool carries_values(uint8_t operation) noexcept;

/// Reads a payload of `operation` as CAF's BASP instance will, through a
/// `nesting_deserializer`, and returns `nesting_error::too_deep` if it nests
/// deeper than `max_depth`. Any other failure is no error here: CAF then
/// fails to read the payload too, and drops it. The check makes no proxies
/// (remote actors read as null) and leaves the system's proxies alone.
caf::error check_nesting(caf::actor_system& sys, uint8_t operation,
                         const char* buf, size_t n, uint32_t max_depth);

} // namespace trellis::detail
