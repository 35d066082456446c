#pragma once

/// @file
/// `stack_trace`: the frames of a throw, symbolized when rendered.
/// (Placeholder until the capture lands; see the `trace` branch.)

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace trellis {

/// Raw return addresses, innermost first.
struct stack_trace {
  /// The return addresses.
  std::vector<uint64_t> frames;
};

/// One frame, symbolized.
struct stack_frame {
  /// The return address.
  uint64_t address = 0;
  /// The function's demangled name, or empty.
  std::string function;
  /// The source file, or empty.
  std::string file;
  /// The source line, or 0.
  unsigned line = 0;
  /// The executable or library.
  std::string module;
};

/// Symbolizes the frames of `x`.
std::vector<stack_frame> symbolize(const stack_trace& x);

/// Renders `x`, one frame a line.
std::string to_string(const stack_trace& x);

/// Lets CAF print and serialize a `stack_trace`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stack_trace& x) {
  return f(caf::meta::type_name("trellis.stack_trace"), x.frames);
}

} // namespace trellis
