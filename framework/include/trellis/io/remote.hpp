#pragma once

/// @file
/// Children and supervisors that run on other nodes. Part of
/// `trellis::distribution`.

#include <string>
#include <utility>

#include <caf/actor_factory.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include "trellis/child_context.hpp"
#include "trellis/child_spec.hpp"
#include "trellis/supervisor_spec.hpp"

namespace trellis {

namespace detail {

/// Builds the node-side factory of a remote child from `f`, which gets the
/// supervisor that spawns it (its parent), the child's path and its start
/// arguments. The supervisor sends itself along;
/// the factory makes the child die with the connection to it, so that a
/// partitioned node does not keep orphans once it is replaced.
using remote_factory = std::function<caf::actor_factory_result(
  caf::actor_config&, const caf::actor& supervisor, const std::string& path,
  caf::message& args)>;

caf::actor_factory guarded_factory(remote_factory f);

} // namespace detail

/// A worker that runs on another node as the actor type `type`, registered
/// there with `add_remote_type`, spawned with arguments `xs` on every
/// (re)start. Place it with `.nodes({"host:port", ...})`. The supervisor
/// monitors it like a local child; losing its node is a failure like a
/// crash (`errc::node_down`).
template <class... Ts>
child_spec remote_worker(std::string id, std::string type, Ts... xs) {
  auto args = caf::make_message(std::move(xs)...);
  child_spec result{std::move(id),
                    [type, args](child_context& ctx) -> start_result {
                      return ctx.spawn_remote(type, args);
                    }};
  result.remote_type(std::move(type));
  return result;
}

/// A supervisor child that runs on another node as the supervisor type
/// `type`, registered there with `add_remote_supervisor`. Its subtree lives
/// on that node; when it gives up, its exit reason crosses the wire and
/// counts as this child's failure (escalation), as for a local subtree.
child_spec remote_supervisor(std::string id, std::string type);

/// Lets other nodes spawn the actor function `fun` here under `name` (CAF's
/// actor factory, with Trellis' orphan guard). `fun` takes the start
/// arguments of `remote_worker` after its self pointer.
template <class F>
void add_remote_type(caf::actor_system_config& cfg, std::string name, F fun) {
  auto inner = caf::make_actor_factory(std::move(fun));
  cfg.add_actor_factory(
    std::move(name),
    detail::guarded_factory(
      [inner](caf::actor_config& acfg, const caf::actor&, const std::string&,
              caf::message& args) { return inner(acfg, args); }));
}

/// Lets other nodes run a supervisor for `spec` here under `name`, as the
/// child of a `remote_supervisor` spec.
void add_remote_supervisor(caf::actor_system_config& cfg, std::string name,
                           supervisor_spec spec);

} // namespace trellis
