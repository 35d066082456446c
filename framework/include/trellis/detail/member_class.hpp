#pragma once

#include <typeinfo>

#include <caf/fwd.hpp>

namespace trellis::detail {

class sys_control;
class tree_member;

/// What Trellis can ask of an actor of one of its own classes (supervisors,
/// children spawned through `child_context::spawn`), found from the actor
/// alone by its dynamic type, which each class registers once.
///
/// Not through public bases of those classes: CAF casts every job to
/// `abstract_actor` when it resumes it, a cross cast that walks every public
/// base of the actor's class and compares type names on the way. A child
/// with Trellis' interfaces as a line of public bases paid about 475
/// instructions a resume more than a plain CAF actor, against about 150
/// with them as members (callgrind, docs/benchmarks.md).
struct member_class {
  /// Returns the actor's place in its tree.
  const tree_member& (*member)(const caf::abstract_actor& self) noexcept;

  /// Returns the actor's control (trellis/sys.hpp), made first if `make`,
  /// else null when it has none yet. Null for the classes that cannot be
  /// looked inside: supervisors and blocking children.
  sys_control* (*control)(caf::abstract_actor& self, bool make);
};

/// Registers `cls` for the actors whose dynamic type is `type`; any thread.
/// See `register_member_class_once`.
void register_member_class(const std::type_info& type, member_class cls);

/// Registers `cls` for the class `T` at its first call; a load and a branch
/// after. Called by the constructors of Trellis' actor classes.
template <class T>
void register_member_class_once(member_class cls) {
  static const bool done = (register_member_class(typeid(T), cls), true);
  static_cast<void>(done);
}

/// Returns the registered class of `x`, or null for an actor Trellis did not
/// make (a plain CAF actor, a remote actor's proxy) and for null.
const member_class* member_class_of(const caf::abstract_actor* x) noexcept;

/// Returns the tree member `x` is, or null (see `member_class_of`).
const tree_member* tree_member_of(const caf::abstract_actor* x) noexcept;

/// Returns whether `x` can be looked inside (trellis/sys.hpp): an
/// event-based child that its factory spawned through its context.
bool inspectable(const caf::abstract_actor* x) noexcept;

} // namespace trellis::detail
