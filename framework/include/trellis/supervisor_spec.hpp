#pragma once

/// @file
/// `supervisor_spec`, a supervisor's flags and children, and its builders
/// `supervisor` and `dynamic_supervisor`.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "trellis/auto_shutdown.hpp"
#include "trellis/child_spec.hpp"
#include "trellis/restart_limit.hpp"
#include "trellis/strategy.hpp"

namespace trellis {

/// How deep supervisors may nest, the root counting as one. Deeper trees are
/// refused (`errc::invalid_spec`, field `depth`), at the start or when a
/// subtree is added: operations on a tree walk it level by level, and a
/// generated tree thousands of levels deep would end the stack instead.
constexpr size_t max_tree_depth = 100;

/// Describes a supervisor: its flags (OTP's `sup_flags`) and its children in
/// start order. A supervisor spec reads like the tree it builds:
///
/// ~~~
/// auto tree = trellis::supervisor("root")
///               .strategy(trellis::strategy::one_for_one)
///               .child(trellis::worker("cache", cache_actor))
///               .child(trellis::supervisor("db")
///                        .strategy(trellis::strategy::one_for_all)
///                        .child(trellis::worker("reader", reader_actor))
///                        .child(trellis::worker("writer", writer_actor)));
/// ~~~
///
/// A dynamic supervisor (`strategy::simple_one_for_one`) has exactly one
/// child spec, the template of the children it starts on demand:
///
/// ~~~
/// auto sessions = trellis::dynamic_supervisor(
///                   "sessions", trellis::worker("session", session_factory))
///                   .max_children(10'000);
/// ~~~
///
/// Defaults, as in OTP: `one_for_one`, intensity 1, period 5 seconds,
/// auto_shutdown `never`, no limit on the number of dynamic children.
/// Where Trellis adds to OTP: `kill_timeout`, how long to wait for a killed
/// child before abandoning it (see `trellis::shutdown`).
class supervisor_spec {
public:
  /// A supervisor with the given id (its name in paths such as `root/db`).
  explicit supervisor_spec(std::string id) : id_(std::move(id)) {
    // nop
  }

  /// Copies the spec; the copy shares its children's specs with `x`.
  supervisor_spec(const supervisor_spec& x) = default;

  /// Takes the spec from `x`.
  supervisor_spec(supervisor_spec&& x) = default;

  /// Copies `x`; the copy shares its children's specs with `x`.
  supervisor_spec& operator=(const supervisor_spec& x) = default;

  /// Takes the spec from `x`.
  supervisor_spec& operator=(supervisor_spec&& x) = default;

  /// Releases nested specs level by level, not recursively: a spec built
  /// deeper than `max_tree_depth` is refused when started, and must not end
  /// the stack when it goes.
  ~supervisor_spec();

  /// Returns the id.
  const std::string& id() const noexcept {
    return id_;
  }

  /// Returns the restart strategy.
  trellis::strategy strategy() const noexcept {
    return strategy_;
  }

  /// Sets the restart strategy.
  supervisor_spec& strategy(trellis::strategy x) noexcept {
    strategy_ = x;
    return *this;
  }

  /// Returns the restart intensity: the most restarts allowed in `period`.
  int intensity() const noexcept {
    return intensity_;
  }

  /// Sets the restart intensity. One restart more than this within `period`
  /// makes the supervisor stop its children and exit with
  /// `errc::reached_max_restart_intensity`.
  supervisor_spec& intensity(int x) noexcept {
    intensity_ = x;
    return *this;
  }

  /// Returns the period over which restarts are counted.
  caf::timespan period() const noexcept {
    return period_;
  }

  /// Sets the period over which restarts are counted.
  template <class Rep, class Period>
  supervisor_spec& period(std::chrono::duration<Rep, Period> x) noexcept {
    period_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns how long a killed child may take to exit before it is abandoned.
  caf::timespan kill_timeout() const noexcept {
    return kill_timeout_;
  }

  /// Sets how long a killed child may take to exit before it is abandoned:
  /// 0 to 1 year (`validate`).
  template <class Rep, class Period>
  supervisor_spec& kill_timeout(std::chrono::duration<Rep, Period> x) noexcept {
    kill_timeout_ = std::chrono::duration_cast<caf::timespan>(x);
    return *this;
  }

  /// Returns when the supervisor shuts itself down after significant
  /// children ended.
  trellis::auto_shutdown auto_shutdown() const noexcept {
    return auto_shutdown_;
  }

  /// Sets when the supervisor shuts itself down after significant children
  /// ended. Not allowed for dynamic supervisors (as in OTP 27).
  supervisor_spec& auto_shutdown(trellis::auto_shutdown x) noexcept {
    auto_shutdown_ = x;
    return *this;
  }

  /// Returns the most children a dynamic supervisor runs at once, if limited.
  std::optional<int> max_children() const noexcept {
    return max_children_;
  }

  /// Limits how many children a dynamic supervisor runs at once; one more
  /// `start_child` fails with `errc::max_children` (Elixir's
  /// `:max_children`). Only for dynamic supervisors.
  supervisor_spec& max_children(int x) noexcept {
    max_children_ = x;
    return *this;
  }

  /// Returns the limit on restarts in this supervisor's subtree, if any.
  const std::optional<trellis::restart_limit>& restart_limit() const noexcept {
    return restart_limit_;
  }

  /// Paces the restarts of this supervisor's whole subtree (on a root: the
  /// tree, within this process) to `x`; see `trellis::restart_limit`.
  supervisor_spec& restart_limit(trellis::restart_limit x) noexcept {
    restart_limit_ = x;
    return *this;
  }

  /// Returns whether the supervisor runs on a thread of its own.
  bool detached() const noexcept {
    return detached_;
  }

  /// Runs the supervisor on a thread of its own (CAF's `detached`), so that
  /// its health checks, restarts and reports go on even when children stuck
  /// in handlers hold every scheduler thread.
  supervisor_spec& detached(bool x) noexcept {
    detached_ = x;
    return *this;
  }

  /// Returns whether this is a dynamic supervisor.
  bool dynamic() const noexcept {
    return strategy_ == trellis::strategy::simple_one_for_one;
  }

  /// Returns the children in start order.
  const std::vector<child_spec>& children() const noexcept {
    return children_;
  }

  /// Appends a child.
  supervisor_spec& child(child_spec x) {
    children_.emplace_back(std::move(x));
    return *this;
  }

  /// Appends a nested supervisor as a child.
  supervisor_spec& child(const supervisor_spec& x) {
    return child(x.as_child());
  }

  /// Returns this supervisor as a child spec of type `child_type::supervisor`
  /// (permanent, shutdown infinity), to adjust before nesting it.
  child_spec as_child() const;

  /// Checks the flags and every child, recursively through nested
  /// supervisors: returns `errc::invalid_spec` naming the field, or none.
  /// Besides each child's own checks: an id without '/', a non-negative
  /// intensity, a kill_timeout of 0 to 1 year, a positive period, unique
  /// child ids, significant children only with an auto_shutdown other than
  /// `never`, a non-negative `max_children` only for a dynamic supervisor, a
  /// `restart_limit` with a positive, finite rate up to 10^9 a second and a
  /// burst of at least 1, and for a
  /// dynamic supervisor exactly one child (its template) and no
  /// auto_shutdown.
  /// The error's context is the field, what is wrong, and the path of the
  /// supervisor spec that holds the field (`root/db`), e.g.
  /// `trellis::errc::invalid_spec: intensity, supervisor 'db' has a negative
  /// intensity, root/db`.
  caf::error validate() const;

  /// Checks that `x` may be significant under this supervisor's
  /// auto_shutdown; returns `errc::invalid_spec` or none.
  caf::error check_significance(const child_spec& x) const;

private:
  std::string id_;
  trellis::strategy strategy_ = trellis::strategy::one_for_one;
  int intensity_ = 1;
  caf::timespan period_ = std::chrono::seconds(5);
  caf::timespan kill_timeout_ = std::chrono::seconds(5);
  trellis::auto_shutdown auto_shutdown_ = trellis::auto_shutdown::never;
  std::optional<int> max_children_;
  bool detached_ = false;
  std::optional<trellis::restart_limit> restart_limit_;
  std::vector<child_spec> children_;
};

/// A supervisor spec with OTP's default flags.
inline supervisor_spec supervisor(std::string id) {
  return supervisor_spec{std::move(id)};
}

/// A dynamic supervisor (OTP's `simple_one_for_one`) whose children all run
/// `child_template`, each with the arguments of its `start_child` call.
/// It starts with no children. Children are restarted alone, with the
/// arguments they were started with (temporary children keep none), and on
/// shutdown they are stopped in parallel (at most 512 at a time, each within
/// its own timeout from when its exit is sent).
inline supervisor_spec dynamic_supervisor(std::string id,
                                          child_spec child_template) {
  supervisor_spec result{std::move(id)};
  result.strategy(strategy::simple_one_for_one).child(std::move(child_template));
  return result;
}

} // namespace trellis
