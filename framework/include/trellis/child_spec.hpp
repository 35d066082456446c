#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/error.hpp>

#include "trellis/child_context.hpp"
#include "trellis/child_type.hpp"
#include "trellis/restart.hpp"
#include "trellis/shutdown.hpp"
#include "trellis/start_result.hpp"

namespace trellis {

class supervisor_spec;

/// Starts a child: called by the supervisor, inside the supervisor, for the
/// first start and for every restart. May fail (return an error, throw, or
/// return an invalid handle) or answer `ignore`.
using child_factory = std::function<start_result(child_context&)>;

/// Describes one child of a supervisor (OTP's child specification). A plain
/// value: build it with `worker(...)` or `supervisor(...)`, adjust it with the
/// chainable setters, and hand it to a supervisor spec.
///
/// Defaults, as in OTP: `restart::permanent`; shutdown after a 5 second
/// timeout for workers and `shutdown::infinity()` for supervisors.
class child_spec {
public:
  child_spec() = default;

  /// A worker child with the given id and factory.
  child_spec(std::string id, child_factory start)
    : id_(std::move(id)), start_(std::move(start)) {
    // nop
  }

  /// Returns the id, unique within the supervisor.
  const std::string& id() const noexcept {
    return id_;
  }

  /// Sets the id.
  child_spec& id(std::string x) {
    id_ = std::move(x);
    return *this;
  }

  /// Returns the factory.
  const child_factory& start() const noexcept {
    return start_;
  }

  /// Sets the factory.
  child_spec& start(child_factory x) {
    start_ = std::move(x);
    return *this;
  }

  /// Returns when the child gets restarted.
  trellis::restart restart() const noexcept {
    return restart_;
  }

  /// Sets when the child gets restarted.
  child_spec& restart(trellis::restart x) noexcept {
    restart_ = x;
    return *this;
  }

  /// Returns how the child is stopped: the explicit policy, or the default
  /// for its type.
  trellis::shutdown shutdown() const noexcept {
    if (shutdown_)
      return *shutdown_;
    return type_ == child_type::supervisor
             ? trellis::shutdown::infinity()
             : trellis::shutdown::timeout(std::chrono::seconds(5));
  }

  /// Sets how the child is stopped.
  child_spec& shutdown(trellis::shutdown x) noexcept {
    shutdown_ = x;
    return *this;
  }

  /// Returns whether the child is a worker or a supervisor.
  child_type type() const noexcept {
    return type_;
  }

  /// Sets whether the child is a worker or a supervisor.
  child_spec& type(child_type x) noexcept {
    type_ = x;
    return *this;
  }

  /// Returns the spec of the supervisor this child runs, if it is one built
  /// by `supervisor_spec::as_child`, or null.
  const std::shared_ptr<const supervisor_spec>& nested() const noexcept {
    return nested_;
  }

  /// Checks the spec: a non-empty id, a factory, a non-negative shutdown
  /// timeout, and for a nested supervisor its whole spec. Returns an `errc::invalid_spec` naming
  /// the field, or none.
  caf::error validate() const;

private:
  std::string id_;
  child_factory start_;
  trellis::restart restart_ = trellis::restart::permanent;
  std::optional<trellis::shutdown> shutdown_;
  child_type type_ = child_type::worker;
  std::shared_ptr<const supervisor_spec> nested_;

  friend class supervisor_spec;
};

/// A worker whose factory is `fun` itself: a callable taking a
/// `child_context&` and returning something convertible to `start_result`.
template <class F, class = std::enable_if_t<
                     std::is_invocable_r_v<start_result, F, child_context&>>>
child_spec worker(std::string id, F fun) {
  return child_spec{std::move(id), child_factory{std::move(fun)}};
}

/// A worker that runs the actor function `fun` with arguments `xs`, copied
/// for every restart, with Trellis' crash handler installed.
template <class F, class... Ts,
          class = std::enable_if_t<
            !std::is_invocable_r_v<start_result, F, child_context&>>>
child_spec worker(std::string id, F fun, Ts... xs) {
  return child_spec{std::move(id),
                    [fun, xs...](child_context& ctx) -> start_result {
                      return ctx.spawn(fun, xs...);
                    }};
}

/// A worker that runs the actor class `Impl`, constructed with `xs`, copied
/// for every restart, with Trellis' crash handler installed.
template <class Impl, class... Ts>
child_spec worker(std::string id, Ts... xs) {
  return child_spec{std::move(id),
                    [xs...](child_context& ctx) -> start_result {
                      return ctx.spawn<Impl>(xs...);
                    }};
}

} // namespace trellis
