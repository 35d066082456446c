#pragma once

#include <atomic>
#include <utility>

#include <caf/group.hpp>

namespace trellis::detail {

/// A tree's lifecycle event group, shared by all its supervisors. Nobody can
/// listen before the group is handed out (the group is anonymous), so until
/// then the supervisors neither build nor send events: a tree that nobody
/// watches pays nothing for them.
class event_feed {
public:
  explicit event_feed(caf::group group) : group_(std::move(group)) {
    // nop
  }

  /// Returns the group for someone who may listen or publish.
  const caf::group& hand_out() noexcept {
    live_.store(true, std::memory_order_relaxed);
    return group_;
  }

  /// Returns whether events may have a listener.
  bool live() const noexcept {
    return live_.load(std::memory_order_relaxed);
  }

  /// Returns the group without handing it out.
  const caf::group& group() const noexcept {
    return group_;
  }

private:
  caf::group group_;
  std::atomic<bool> live_{false};
};

} // namespace trellis::detail
