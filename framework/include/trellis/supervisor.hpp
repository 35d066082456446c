#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/expected.hpp>

#include "trellis/supervisor_spec.hpp"

namespace trellis {

/// Spawns a supervisor running `spec` and returns at once; the supervisor
/// starts its children in order. If a start fails, the supervisor stops the
/// children it started, in reverse order, and exits with
/// `errc::failed_to_start_child`. Use this from inside an actor: monitor the
/// handle, and request `(caf::get_atom::value, started_atom::value)` to learn
/// when the tree is up. Returns `errc::invalid_spec` for an invalid spec,
/// before anything starts.
caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec);

/// Starts a supervisor running `spec` and blocks until all its children
/// started (OTP's `supervisor:start_link`). Returns the supervisor, or the
/// error that made the start fail, naming the child.
caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec);

/// Stops a supervisor and blocks until it exited: its children stop in
/// reverse start order, each by its shutdown policy. Returns the supervisor's
/// exit reason (`reason` itself, unless the supervisor had already exited
/// for another one).
caf::error stop_supervisor(caf::actor_system& sys, const caf::actor& sup,
                           caf::error reason = caf::exit_reason::user_shutdown);

/// Blocks until `sup` exited and returns why.
caf::error await_exit(caf::actor_system& sys, const caf::actor& sup);

} // namespace trellis
