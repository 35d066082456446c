#pragma once

#include <string>
#include <utility>

namespace trellis::detail {

/// The tree whose actor runs on this thread (its event feed, compared only),
/// or null. Blocking helpers check it: a call into the tree that runs the
/// caller could only be answered once the caller returns (OTP's
/// `calling_self`).
inline thread_local const void* running_tree = nullptr;

/// The place of an actor Trellis runs in a tree (supervisors, and children
/// spawned through `child_context::spawn`): its tree and its path. A member
/// or a private base of those actors, found from outside through
/// `tree_member_of` (trellis/detail/member_class.hpp).
class tree_member {
public:
  /// Returns the tree this actor belongs to (null outside a tree).
  const void* tree() const noexcept {
    return tree_;
  }

  /// Returns the actor's path in its tree, e.g. `root/db/writer`.
  const std::string& path() const noexcept {
    return path_;
  }

  /// Sets the tree and the path; once, before the actor runs.
  void member_of(const void* tree, std::string path) {
    tree_ = tree;
    path_ = std::move(path);
  }

private:
  const void* tree_ = nullptr;
  std::string path_;
};

/// The path of the child whose handler runs on this thread (e.g.
/// `root/db/writer`), or null: set with `running_tree` by the children that
/// name themselves to `running_in_tree`. Read by the fatal signal report,
/// which may only read memory.
inline thread_local const std::string* running_path = nullptr;

/// Marks this thread as running an actor of `tree` for a scope.
class running_in_tree {
public:
  explicit running_in_tree(const void* tree) noexcept
    : prev_(running_tree), prev_path_(running_path) {
    running_tree = tree;
    running_path = nullptr;
  }

  /// Marks this thread as running `member`, of its tree and at its path.
  explicit running_in_tree(const tree_member& member) noexcept
    : prev_(running_tree), prev_path_(running_path) {
    running_tree = member.tree();
    running_path = &member.path();
  }

  ~running_in_tree() {
    running_tree = prev_;
    running_path = prev_path_;
  }

  running_in_tree(const running_in_tree&) = delete;
  running_in_tree& operator=(const running_in_tree&) = delete;

private:
  const void* prev_;
  const std::string* prev_path_;
};

} // namespace trellis::detail
