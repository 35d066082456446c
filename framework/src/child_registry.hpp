#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory_resource>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

#include "backoff_state.hpp"
#include "checkpoint_state.hpp"
#include "hash_index.hpp"
#include "health_state.hpp"
#include "node_pool.hpp"
#include "start_state.hpp"
#include "stop_state.hpp"
#include "trellis/child_info.hpp"
#include "trellis/child_spec.hpp"
#include "trellis/detail/kept_mailbox.hpp"
#include "trellis/detail/quarantine.hpp"
#include "trellis/detail/resume_limiter.hpp"

namespace trellis::detail {

/// What a supervisor keeps of one child.
struct child {
  explicit child(child_spec x) : spec(std::move(x)) {
    // nop
  }

  child_spec spec;
  /// The child's path, `<supervisor path>/<id>`, built once.
  std::string path;
  /// The running incarnation; invalid while the child has no actor.
  caf::actor handle;
  /// The incarnation whose exit left a dynamic child restarting, until it
  /// runs again: OTP's `{restarting, OldPid}`, by which `terminate_child`
  /// still finds it.
  caf::actor_addr exited_as;
  child_state state = child_state::stopped;
  /// Whether this incarnation exited and awaits a restart decision.
  bool exit_pending = false;
  uint64_t restart_count = 0;
  caf::error last_reason;
  caf::actor_clock::time_point started_at;
  /// The start arguments of a dynamic child, passed on every restart.
  caf::message args;
  /// Whether the pending start is a restart (for lifecycle events).
  bool restart_pending = false;
  /// Whether the incarnation was spawned through its `child_context`, and
  /// so is no supervisor (see `ask_child_to_stop`).
  bool spawned_by_context = false;
  /// The current incarnation's health checks (see `health_monitor`).
  health_state health;
  /// The backoff's restarts in a row and its pending delayed restart (see
  /// `restart_backoff`).
  backoff_state backoff;
  /// Poison-message bookkeeping shared with the incarnations, if the spec
  /// asks for it.
  std::shared_ptr<quarantine> poison;
  /// What the child's incarnations hand over to the next, if the spec keeps
  /// its mailbox.
  std::shared_ptr<kept_mailbox> kept;
  /// The decider on the incarnations' side and their resumes, if the spec
  /// has a decider.
  std::shared_ptr<resume_limiter> resume;
  /// The decision an incarnation took itself for the exception it crashed
  /// on, until its exit is handled: asked once, on its thread.
  std::optional<decision> decided;
  /// The child's incarnations, for its checkpoints.
  checkpoint_state checkpoints;
  /// The node the current (or last) incarnation runs on; empty if local.
  std::string node;
  /// The current incarnation's start, while it is pending.
  start_state start;
  /// The current incarnation's stop, while one is in flight (see
  /// `shutdown_sequencer`).
  stop_state stop;
};

/// The children of one supervisor in start order, found by id and by actor
/// address in O(1), so that an exit costs the same with 5 or 50,000
/// children. Iterators stay valid until their child is erased.
///
/// The children allocate from a `node_pool` of the registry's own, so that
/// they lie close to each other rather than among the actors; both indexes
/// are `hash_index`es, which keep no keys of their own. The id index is
/// built on the first look-up by id: a dynamic supervisor finds its
/// children by actor (their exits, `terminate_child` with a handle), and its
/// 100,000 starts then pay for no index they never use.
class child_registry {
public:
  using list_type = std::pmr::list<child>;
  using iterator = list_type::iterator;

  /// A registry whose children's paths start with `prefix`.
  explicit child_registry(std::string prefix = {})
    : prefix_(std::move(prefix)),
      children_(&records_),
      by_id_(&entries_),
      by_addr_(&entries_) {
    // nop
  }

  child_registry(const child_registry&) = delete;
  child_registry& operator=(const child_registry&) = delete;

  /// Memory for the registry user's own indexes of children (such as a
  /// supervisor's stops in flight): the pool of the registry's indexes,
  /// apart from the children's records.
  std::pmr::memory_resource* memory() noexcept {
    return &entries_;
  }

  /// Appends a child; its id must not be present yet.
  iterator add(child_spec spec) {
    auto i = children_.emplace(children_.end(), std::move(spec));
    // Sized once: `prefix_ + id` would leave room for twice the prefix.
    auto& id = i->spec.id();
    i->path.reserve(prefix_.size() + id.size());
    i->path.append(prefix_).append(id);
    if (ids_indexed_)
      by_id_.insert(id_hash(i->spec.id()), i);
    return i;
  }

  /// Returns the child with id `x`, or `end()`.
  iterator find(const std::string& x) {
    if (!ids_indexed_)
      index_ids();
    auto i = by_id_.find(id_hash(x), [&x](iterator c) {
      return c->spec.id() == x;
    });
    return i ? *i : end();
  }

  /// Returns the running incarnation of `x` (null if none), as the indexes
  /// know it: by control block, which the child's handle keeps alive while
  /// it is filed. No reference counts to pay per look-up.
  static const caf::actor_control_block* incarnation(const child& x) noexcept {
    return caf::actor_cast<caf::actor_control_block*>(x.handle);
  }

  /// Returns the hash under which incarnation `x` is filed, for indexes of
  /// running children of the registry's user.
  static uint64_t incarnation_hash(const caf::actor_control_block* x) noexcept {
    // No pointer to follow; `hash_index` mixes the bits.
    return reinterpret_cast<uintptr_t>(x);
  }

  /// Returns the hash under which the running incarnation of `x` is filed.
  static uint64_t incarnation_hash(const child& x) noexcept {
    return incarnation_hash(incarnation(x));
  }

  /// Returns the child whose running incarnation is `x`, or `end()`.
  iterator find(const caf::actor_addr& x) {
    return find_incarnation(caf::actor_cast<caf::actor_control_block*>(x));
  }

  /// Returns the child whose running incarnation is `x`, or `end()`.
  iterator find(const caf::strong_actor_ptr& x) {
    return find_incarnation(caf::actor_cast<caf::actor_control_block*>(x));
  }

  /// Makes `x` the running incarnation of `i`.
  void bind(iterator i, caf::actor x) {
    unbind(i);
    i->handle = std::move(x);
    by_addr_.insert(incarnation_hash(*i), i);
  }

  /// Forgets the incarnation of `i`, if any.
  void unbind(iterator i) {
    if (i->handle) {
      by_addr_.erase(incarnation_hash(*i), i);
      i->handle = nullptr;
    }
  }

  /// Calls `f` with every child that has a running incarnation, without
  /// visiting the others.
  template <class F>
  void for_each_running(F f) {
    by_addr_.for_each([&f](iterator i) { f(*i); });
  }

  /// Removes a child.
  void erase(iterator i) {
    unbind(i);
    if (ids_indexed_)
      by_id_.erase(id_hash(i->spec.id()), i);
    children_.erase(i);
  }

  /// Removes all children.
  void clear() noexcept {
    by_id_.clear();
    ids_indexed_ = false;
    by_addr_.clear();
    children_.clear();
  }

  iterator begin() noexcept {
    return children_.begin();
  }

  iterator end() noexcept {
    return children_.end();
  }

  list_type::const_iterator begin() const noexcept {
    return children_.begin();
  }

  list_type::const_iterator end() const noexcept {
    return children_.end();
  }

  size_t size() const noexcept {
    return children_.size();
  }

  bool empty() const noexcept {
    return children_.empty();
  }

private:
  static uint64_t id_hash(std::string_view x) noexcept {
    return std::hash<std::string_view>{}(x);
  }

  void index_ids() {
    try {
      for (auto i = children_.begin(); i != children_.end(); ++i)
        by_id_.insert(id_hash(i->spec.id()), i);
    } catch (...) {
      // A half-built index would keep entries that erase no longer sees.
      by_id_.clear();
      throw;
    }
    ids_indexed_ = true;
  }

  iterator find_incarnation(const caf::actor_control_block* x) {
    auto i = by_addr_.find(incarnation_hash(x), [x](iterator c) {
      return incarnation(*c) == x;
    });
    return i ? *i : end();
  }

  node_pool records_;
  node_pool entries_;
  std::string prefix_;
  list_type children_;
  hash_index<iterator> by_id_;
  bool ids_indexed_ = false;
  hash_index<iterator> by_addr_;
};

} // namespace trellis::detail
