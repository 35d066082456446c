#pragma once

#include <cstdint>
#include <utility>

namespace trellis::detail {

/// Cancels continuations in bulk. A supervisor's operations run as chains
/// of continuations (stop this child, then the next, then start them); a
/// shutdown must drop every chain in flight, or an old chain would go on
/// stopping and starting children beside the shutdown's own.
class continuation_guard {
public:
  /// Wraps `f` so that it does nothing once `cancel_all` ran after this
  /// call. The result runs once, and may hand on what it holds.
  template <class F>
  auto guarded(F f) {
    return [this, gen = generation_, f = std::move(f)](auto&&... xs) mutable {
      if (gen == generation_)
        f(std::forward<decltype(xs)>(xs)...);
    };
  }

  /// Drops every continuation wrapped so far.
  void cancel_all() noexcept {
    ++generation_;
  }

private:
  uint64_t generation_ = 0;
};

} // namespace trellis::detail
