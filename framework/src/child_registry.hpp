#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory_resource>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

#include "backoff_state.hpp"
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

/// What a supervisor keeps of a child only if the child uses it (a health
/// check, a backoff or a delayed restart, a pause, a quarantine, a kept
/// mailbox, a decider, checkpoints, a node, a dynamic child's restart):
/// made on first use, so that the 100,000 children of a dynamic supervisor
/// that use none of it pay one null pointer each.
struct child_extras {
  /// The incarnation whose exit left a dynamic child restarting, until it
  /// runs again: OTP's `{restarting, OldPid}`, by which `terminate_child`
  /// still finds it.
  caf::actor_addr exited_as;
  /// The current incarnation's health checks (see `health_monitor`).
  health_state health;
  /// The backoff's restarts in a row, a pending delayed restart and a pause
  /// (see `restart_backoff`).
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
  /// The latest incarnation, shared with the checkpoints so that a
  /// superseded incarnation (a hung one, say) cannot save over its
  /// replacement; made by the first checkpoint.
  std::shared_ptr<std::atomic<uint64_t>> latest;
  /// The node the current (or last) incarnation runs on; empty if local.
  std::string node;
};

/// What a supervisor keeps of one child. Small: a dynamic supervisor keeps
/// 100,000 of them. What few children use is in `extras`, and a start's or
/// a stop's state lives only while one is pending (see `child_registry`).
struct child {
  explicit child(child_spec x) : spec(std::move(x)) {
    // nop
  }

  child(const child&) = delete;
  child& operator=(const child&) = delete;

  child_spec spec;
  /// The running incarnation; invalid while the child has no actor.
  caf::actor handle;
  caf::error last_reason;
  caf::actor_clock::time_point started_at;
  /// The start arguments of a dynamic child, passed on every restart: a
  /// message's data, 8 bytes where a `caf::message` (with its vtable) takes
  /// 16.
  caf::message::data_ptr args;
  uint64_t restart_count = 0;
  /// The child's incarnations, counted, so that each checkpoint knows its
  /// own.
  uint64_t incarnations = 0;
  std::unique_ptr<child_extras> extras;
  /// The current incarnation's start, while it is pending (else null).
  start_state* start = nullptr;
  /// The current incarnation's stop, while one is in flight (else null; see
  /// `shutdown_sequencer`).
  stop_state* stop = nullptr;
  child_state state = child_state::stopped;
  /// Whether this incarnation exited and awaits a restart decision.
  bool exit_pending = false;
  /// Whether the pending start is a restart (for lifecycle events).
  bool restart_pending = false;
  /// Whether the incarnation was spawned through its `child_context`, and
  /// so is no supervisor (see `ask_child_to_stop`).
  bool spawned_by_context = false;
  /// The decision an incarnation took itself for the exception it crashed
  /// on, until its exit is handled: asked once, on its thread.
  std::optional<decision> decided;

  /// Returns the child's extras, made on first use.
  child_extras& more() {
    if (!extras)
      extras = std::make_unique<child_extras>();
    return *extras;
  }

  /// Counts a new incarnation, which supersedes every older one; returns
  /// its number.
  uint64_t next_incarnation() {
    auto n = ++incarnations;
    if (extras && extras->latest)
      extras->latest->store(n, std::memory_order_release);
    return n;
  }

  /// Returns the delayed restart that is due (0: none).
  uint64_t due_token() const noexcept {
    return extras ? extras->backoff.due_token : 0;
  }

  /// Returns the dependency incident the child is paused for (0: none).
  uint32_t paused_for() const noexcept {
    return extras ? extras->backoff.paused_for : 0;
  }

  /// Returns the incarnation whose exit left the child restarting, if any.
  const caf::actor_addr* exited_as() const noexcept {
    return extras && extras->exited_as ? &extras->exited_as : nullptr;
  }

  /// Returns the child's quarantine, if its spec asks for one.
  quarantine* poison() const noexcept {
    return extras ? extras->poison.get() : nullptr;
  }

  /// Returns the child's kept mailbox, if its spec keeps one.
  kept_mailbox* kept() const noexcept {
    return extras ? extras->kept.get() : nullptr;
  }

  /// Returns the child's resume limiter, if its spec has a decider.
  resume_limiter* resume() const noexcept {
    return extras ? extras->resume.get() : nullptr;
  }

  /// Returns the node the child's incarnation runs on, or "" if local.
  const std::string& node() const noexcept {
    static const std::string local;
    return extras ? extras->node : local;
  }
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
    if (ids_indexed_)
      by_id_.insert(id_hash(i->spec.id()), i);
    return i;
  }

  /// Returns the path of `x`, `<supervisor path>/<id>`: built when asked
  /// for (in reports and errors), not kept per child.
  std::string path_of(const child& x) const {
    auto& id = x.spec.id();
    std::string result;
    // Sized once: `prefix_ + id` would leave room for twice the prefix.
    result.reserve(prefix_.size() + id.size());
    result.append(prefix_).append(id);
    return result;
  }

  /// Marks the start of `x` pending: its state lives until `end_start`.
  start_state& begin_start(child& x) {
    return held(x.start);
  }

  /// Forgets the pending start of `x`, if any.
  void end_start(child& x) noexcept {
    destroy(x.start);
  }

  /// Marks a stop of `x` in flight: its state lives until `end_stop`.
  stop_state& begin_stop(child& x) {
    return held(x.stop);
  }

  /// Forgets the stop of `x` in flight, if any.
  void end_stop(child& x) noexcept {
    destroy(x.stop);
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

  /// Every child is about to stop, and the registry to go with its
  /// supervisor: the index of incarnations keeps its memory until then.
  void all_stopping() noexcept {
    by_addr_.keep_capacity();
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
    end_start(*i);
    end_stop(*i);
    children_.erase(i);
  }

  /// Removes all children.
  void clear() noexcept {
    by_id_.clear();
    ids_indexed_ = false;
    by_addr_.clear();
    for (auto& x : children_) {
      end_start(x);
      end_stop(x);
    }
    children_.clear();
  }

  ~child_registry() {
    clear();
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

  /// A start's or a stop's state, from the records' pool (one comes and
  /// goes with every restart): `x`, made first if null.
  template <class T>
  T& held(T*& x) {
    if (x == nullptr)
      x = new (records_.allocate(sizeof(T), alignof(T))) T{};
    return *x;
  }

  template <class T>
  void destroy(T*& x) noexcept {
    if (x == nullptr)
      return;
    x->~T();
    records_.deallocate(x, sizeof(T), alignof(T));
    x = nullptr;
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
