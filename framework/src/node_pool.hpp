#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory_resource>

namespace trellis::detail {

/// Memory for a supervisor's bookkeeping (its children's records, the slot
/// arrays of its small indexes): small blocks come from chunks of the pool's
/// own, so that records lie close together rather than among the actors'
/// memory, and a freed block waits in a free list of its size for the next
/// allocation of that size (a record that comes and goes with a dynamic
/// child costs a pointer swap). Large blocks, such as a big index's slots,
/// go to the default resource (`new` and `delete`, unless changed). Small
/// blocks return to the system only when the pool goes. Not thread-safe: one
/// actor uses it.
class node_pool final : public std::pmr::memory_resource {
public:
  /// Blocks up to this size are pooled.
  static constexpr size_t max_pooled = 1024;

  node_pool() = default;

  node_pool(const node_pool&) = delete;
  node_pool& operator=(const node_pool&) = delete;

private:
  static constexpr size_t granule = alignof(std::max_align_t);

  struct free_block {
    free_block* next;
  };

  /// Blocks of `bytes` come in multiples of `granule`, at least one, which
  /// holds a free list's link.
  static size_t size_class(size_t bytes) noexcept {
    return (std::max(bytes, size_t{1}) + granule - 1) / granule;
  }

  void* do_allocate(size_t bytes, size_t align) override {
    if (bytes > max_pooled || align > granule)
      return upstream_->allocate(bytes, align);
    auto& head = free_[size_class(bytes)];
    if (head) {
      auto result = head;
      head = head->next;
      return result;
    }
    return chunks_.allocate(size_class(bytes) * granule, granule);
  }

  void do_deallocate(void* p, size_t bytes, size_t align) override {
    if (bytes > max_pooled || align > granule) {
      upstream_->deallocate(p, bytes, align);
      return;
    }
    auto& head = free_[size_class(bytes)];
    head = new (p) free_block{head};
  }

  bool do_is_equal(const memory_resource& other) const noexcept override {
    return this == &other;
  }

  /// Where large blocks and the chunks come from: the default resource as
  /// the pool was made, even if the default changes later.
  std::pmr::memory_resource* upstream_ = std::pmr::get_default_resource();
  /// Hands out small blocks back to back; frees them all at once.
  std::pmr::monotonic_buffer_resource chunks_{upstream_};
  std::array<free_block*, max_pooled / granule + 1> free_{};
};

} // namespace trellis::detail
