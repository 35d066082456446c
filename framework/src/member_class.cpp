#include "trellis/detail/member_class.hpp"

#include <mutex>
#include <typeindex>
#include <unordered_map>

#include <caf/abstract_actor.hpp>

namespace trellis::detail {

namespace {

/// A handful of classes, registered once each and never removed: the
/// entries stay where they are, read without the lock once found.
struct member_classes {
  std::mutex mtx;
  std::unordered_map<std::type_index, member_class> by_type;
};

member_classes& registry() {
  // Never destroyed: actors may be asked about during static destruction.
  static auto instance = new member_classes;
  return *instance;
}

} // namespace

void register_member_class(const std::type_info& type, member_class cls) {
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  r.by_type.emplace(std::type_index{type}, cls);
}

const member_class* member_class_of(const caf::abstract_actor* x) noexcept {
  if (x == nullptr)
    return nullptr;
  // Compared by name: a class template's type_info may exist once per
  // shared object.
  std::type_index type{typeid(*x)};
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto i = r.by_type.find(type);
  return i != r.by_type.end() ? &i->second : nullptr;
}

const tree_member* tree_member_of(const caf::abstract_actor* x) noexcept {
  auto cls = member_class_of(x);
  return cls != nullptr ? &cls->member(*x) : nullptr;
}

bool inspectable(const caf::abstract_actor* x) noexcept {
  auto cls = member_class_of(x);
  return cls != nullptr && cls->control != nullptr;
}

} // namespace trellis::detail
