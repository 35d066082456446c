#pragma once

namespace trellis::detail {

/// The tree whose actor runs on this thread (its event feed, compared only),
/// or null. Blocking helpers check it: a call into the tree that runs the
/// caller could only be answered once the caller returns (OTP's
/// `calling_self`).
inline thread_local const void* running_tree = nullptr;

/// Marks this thread as running an actor of `tree` for a scope.
class running_in_tree {
public:
  explicit running_in_tree(const void* tree) noexcept : prev_(running_tree) {
    running_tree = tree;
  }

  ~running_in_tree() {
    running_tree = prev_;
  }

  running_in_tree(const running_in_tree&) = delete;
  running_in_tree& operator=(const running_in_tree&) = delete;

private:
  const void* prev_;
};

/// A base of the actors Trellis runs in a tree (supervisors, and children
/// spawned through `child_context::spawn`): names their tree.
class tree_member {
public:
  virtual ~tree_member() = default;

  /// Returns the tree this actor belongs to (null outside a tree).
  const void* tree() const noexcept {
    return tree_;
  }

protected:
  /// Sets the tree; once, before the actor runs.
  void tree(const void* x) noexcept {
    tree_ = x;
  }

private:
  const void* tree_ = nullptr;
};

} // namespace trellis::detail
