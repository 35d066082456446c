#pragma once

#include <string>

namespace trellis::detail {

/// Returns the demangled form of `name` (`name` itself if it is not a
/// mangled one), uncached: for names as many as a program's functions.
std::string demangle_now(const char* name);

/// Returns the demangled form of a type's or function's name (`name` if it
/// is not a mangled one); cached per thread, since a crashing child throws
/// the same few types over and over.
const std::string& demangled(const char* name);

} // namespace trellis::detail
