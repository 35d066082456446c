#pragma once

#include <cstddef>

namespace trellis::detail {

/// Counts, on this thread, the supervisors that the spec being validated
/// sits in: each level's `validate` validates the next, so the count bounds
/// the recursion (see `max_tree_depth`). A running supervisor that validates
/// a new child counts its own levels first.
class spec_depth {
public:
  explicit spec_depth(size_t levels = 1) noexcept : levels_(levels) {
    current() += levels_;
  }

  ~spec_depth() {
    current() -= levels_;
  }

  spec_depth(const spec_depth&) = delete;
  spec_depth& operator=(const spec_depth&) = delete;

  /// Returns how many supervisors deep the validation is.
  static size_t& current() noexcept {
    static thread_local size_t levels = 0;
    return levels;
  }

private:
  size_t levels_;
};

} // namespace trellis::detail
