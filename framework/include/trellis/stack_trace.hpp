#pragma once

/// @file
/// Stack traces of exceptions: the raw frames captured where a supervised
/// child threw, symbolized only when a report is rendered.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace trellis {

/// The raw return addresses of a thread's stack, innermost first.
///
/// Trellis captures one when a handler (or the initialization) of a child it
/// spawned throws, at the throw: at the catch the frames are gone. Capturing
/// walks the unwind tables (no frame pointers needed, so frames of libstdc++
/// and CAF are walked safely) and costs a few microseconds a throw; turning
/// addresses into names is what costs, so it waits for `symbolize` or
/// `to_string`. Frame 0 is the function that threw (for a throw inside
/// libstdc++, such as `std::vector::at`, the library's throwing helper).
class stack_trace {
public:
  /// At most this many frames are kept; deeper stacks lose their outermost.
  static constexpr size_t max_frames = 32;

  /// At most this many throws a second on one thread get their stack
  /// walked; past it a throw keeps only its site, frame 0 (`walked()` is
  /// false), which costs next to nothing. A child in a crash loop throws
  /// thousands of times a second, and its first traces say what the rest
  /// would.
  static constexpr size_t max_walks_per_second = 100;

  stack_trace() = default;

  /// A trace of the frames in `[first, first + n)`, innermost first;
  /// `walked` says whether they are the whole stack or only the throw site.
  stack_trace(const uintptr_t* first, size_t n, bool walked = true)
    : frames_(first, first + n), walked_(walked) {
    // nop
  }

  /// Returns whether the stack was walked, or only the throw site kept
  /// (see `max_walks_per_second`).
  bool walked() const noexcept {
    return walked_;
  }

  /// Returns the return addresses, innermost first.
  const std::vector<uintptr_t>& frames() const noexcept {
    return frames_;
  }

  /// Returns the number of frames.
  size_t size() const noexcept {
    return frames_.size();
  }

  /// Returns whether the trace has no frames.
  bool empty() const noexcept {
    return frames_.empty();
  }

  /// Returns whether `x` and `y` hold the same frames.
  friend bool operator==(const stack_trace& x, const stack_trace& y) {
    return x.frames_ == y.frames_;
  }

  /// Returns whether `x` and `y` differ in a frame.
  friend bool operator!=(const stack_trace& x, const stack_trace& y) {
    return !(x == y);
  }

private:
  std::vector<uintptr_t> frames_;
  bool walked_ = true;
};

/// One frame of a trace, with what the process knows about its address.
struct stack_frame {
  /// The return address as captured.
  uintptr_t address = 0;
  /// The demangled name of the function, e.g. `shop::parse_order(int)`, from
  /// the symbol table (no debug info or `-rdynamic` needed); empty if
  /// unknown, e.g. for a stripped binary or an unmapped address.
  std::string function;
  /// The source file, from debug info (`-g`); empty without it.
  std::string file;
  /// The source line, from debug info; 0 without it.
  unsigned line = 0;
  /// The file name of the module (executable or shared library) that holds
  /// the address, e.g. `orders_service` or `libcaf_core.so.0.17.6`.
  std::string module;
};

/// Returns what the process knows about each frame of `x`, in order. Reads
/// the symbol tables and debug info of the loaded modules (once per module,
/// then cached): the first call costs milliseconds, later ones microseconds
/// a frame. Thread-safe; never throws for odd addresses (0, unmapped, in a
/// stripped module), whose frames have empty fields.
std::vector<stack_frame> symbolize(const stack_trace& x);

/// Renders `x` one frame a line, e.g.
/// `#0 0x55d0c2a1b2c3 shop::parse_order(int) at src/orders.cpp:42 (orders)`,
/// and `#3 0x7f0000001000 ??` for a frame nothing is known about.
std::string to_string(const stack_trace& x);

/// Turns capturing at the throw on or off for the whole process (default:
/// on). Off, a throw costs what it costs without Trellis.
void capture_throw_traces(bool on) noexcept;

/// Returns whether Trellis captures a trace when a supervised child throws.
bool capture_throw_traces() noexcept;

} // namespace trellis
