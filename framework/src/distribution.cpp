#include "distribution.hpp"

#include <atomic>

namespace trellis::detail {

namespace {

std::atomic<const distribution*> installed{nullptr};

} // namespace

void install_distribution(const distribution* x) noexcept {
  installed.store(x, std::memory_order_release);
}

const distribution* installed_distribution() noexcept {
  return installed.load(std::memory_order_acquire);
}

} // namespace trellis::detail
