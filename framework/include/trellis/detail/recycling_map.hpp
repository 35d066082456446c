#pragma once

#include <cstddef>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace trellis::detail {

/// An unordered map that keeps the nodes of erased entries for the next
/// insertions: an entry that comes and goes with every restart (a running
/// incarnation, a pending start) costs no allocation. At most
/// `max_spare_nodes` nodes wait for reuse, emptied (key and value
/// default-constructed), so that a spare node holds on to nothing.
template <class Key, class T, class Hash = std::hash<Key>>
class recycling_map {
public:
  using map_type = std::unordered_map<Key, T, Hash>;
  using iterator = typename map_type::iterator;
  using const_iterator = typename map_type::const_iterator;

  static constexpr size_t max_spare_nodes = 256;

  /// Inserts `(k, T(xs...))` unless `k` is present, like `emplace`.
  template <class K, class... Ts>
  std::pair<iterator, bool> emplace(K&& k, Ts&&... xs) {
    if (spare_.empty())
      return map_.emplace(std::forward<K>(k), T(std::forward<Ts>(xs)...));
    auto node = std::move(spare_.back());
    spare_.pop_back();
    node.key() = std::forward<K>(k);
    node.mapped() = T(std::forward<Ts>(xs)...);
    auto result = map_.insert(std::move(node));
    if (!result.inserted)
      keep(std::move(result.node));
    return {result.position, result.inserted};
  }

  /// Erases the entry at `i`; returns the next one.
  iterator erase(iterator i) {
    auto next = std::next(i);
    if (spare_.size() < max_spare_nodes)
      keep(map_.extract(i));
    else
      map_.erase(i);
    return next;
  }

  /// Erases the entry for `k`, if any; returns how many were erased.
  size_t erase(const Key& k) {
    auto i = map_.find(k);
    if (i == map_.end())
      return 0;
    erase(i);
    return 1;
  }

  void clear() noexcept {
    map_.clear();
  }

  iterator find(const Key& k) {
    return map_.find(k);
  }

  const_iterator find(const Key& k) const {
    return map_.find(k);
  }

  size_t count(const Key& k) const {
    return map_.count(k);
  }

  iterator begin() noexcept {
    return map_.begin();
  }

  iterator end() noexcept {
    return map_.end();
  }

  const_iterator begin() const noexcept {
    return map_.begin();
  }

  const_iterator end() const noexcept {
    return map_.end();
  }

  size_t size() const noexcept {
    return map_.size();
  }

  bool empty() const noexcept {
    return map_.empty();
  }

private:
  void keep(typename map_type::node_type node) {
    node.key() = Key{};
    node.mapped() = T{};
    spare_.push_back(std::move(node));
  }

  map_type map_;
  std::vector<typename map_type::node_type> spare_;
};

} // namespace trellis::detail
