#pragma once

/// @file
/// `error_category`: the error categories of libraries built on Trellis.

#include <cstdint>
#include <vector>

#include <caf/atom.hpp>

namespace trellis {

/// An error category of a library built on Trellis: its atom, the prefix
/// its errors render with, and the names of its codes. The framework's own
/// is `errc` (`trellis::errc::`); the ready-made actors add theirs, as CAF
/// lets each module add one.
struct error_category {
  /// The category of its `caf::error`s, such as `caf::atom("tr_breaker")`.
  caf::atom_value atom;
  /// E.g. `"trellis::breaker_errc::"`.
  const char* prefix;
  /// Returns the name of `code`, e.g. `"circuit_open"`.
  const char* (*name)(uint8_t code) noexcept;
};

/// Lets `configure` render the errors of `x` as it renders `errc`'s: the
/// prefix and the code's name, then the context's elements, a cause among
/// them by its own category. Call it before `configure`; a library does so
/// while the program initializes, from a header its users include, so that
/// every process that sees its errors renders them. The first registration
/// of an atom stays: returns false if another category holds it.
bool register_error_category(const error_category& x);

/// Returns the categories registered so far, the framework's own first.
std::vector<error_category> error_categories();

} // namespace trellis
