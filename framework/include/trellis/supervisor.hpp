#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>
#include <caf/message.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <caf/timespan.hpp>

#include "trellis/child_info.hpp"
#include "trellis/crash_report.hpp"
#include "trellis/dead_letter.hpp"
#include "trellis/supervisor_spec.hpp"
#include "trellis/tree_snapshot.hpp"

/// @file
/// Starting, stopping and asking supervisors. The builders of specs live with
/// the type they build: `supervisor` and `dynamic_supervisor` in
/// supervisor_spec.hpp (included here), `worker` in child_spec.hpp.

namespace trellis {

/// How long a blocking helper waits for its answer unless told otherwise;
/// then it fails with `errc::timeout` naming the call. Each helper takes
/// its own bound as its last argument.
inline constexpr caf::timespan default_timeout = std::chrono::seconds(30);

/// Spawns a supervisor running `spec` and returns at once; the supervisor
/// starts its children in order. If a start fails, the supervisor stops the
/// children it started, in reverse order, and exits with
/// `errc::failed_to_start_child`. Monitor the handle, and request
/// `(caf::get_atom::value, started_atom::value)` to learn when the tree is
/// up. Returns `errc::invalid_spec` for an invalid spec, before anything
/// starts.
///
/// This tree has no parent actor: the program is its parent. It stops on
/// `stop_supervisor`, or on an exit signal sent from outside any actor
/// (`caf::anon_send_exit`); an actor's exit signal is a stranger's, ignored
/// and reported (`exit_signal_ignored`), as OTP's supervisor ignores a
/// signal from a process that is not its parent. `caf::exit_reason::kill`
/// cannot be ignored, from anyone.
caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec);

/// Spawns a supervisor as `spawn_supervisor(sys, spec)` does, with `parent`
/// as its parent, linked to it (OTP's `supervisor:start_link` from inside a
/// process). When `parent` exits, for any reason, `normal` included, the
/// tree stops in order with that reason, and so does an exit signal that
/// `parent` sends; other actors' signals are ignored and reported. The
/// tree's abnormal exit (a start that failed, a supervisor that gave up)
/// reaches `parent` as an exit message, which ends it unless it set an exit
/// handler. Use it from inside an actor, with `self`. Fails with
/// `errc::not_found` for a null `parent`.
caf::expected<caf::actor> spawn_supervisor(caf::local_actor* parent,
                                           const supervisor_spec& spec);

/// Starts a supervisor running `spec` and blocks until all its children
/// started (OTP's `supervisor:start_link`). Returns the supervisor, or the
/// error that made the start fail, naming the child. If the tree has not
/// started within `timeout`, it is stopped and the call fails with
/// `errc::timeout`.
caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec,
                                           caf::timespan timeout = default_timeout);

/// Stops a supervisor with `reason`, `normal` included, and blocks until it
/// exited (OTP's `supervisor:stop/3`): its children stop in reverse start
/// order, each by its shutdown policy. It asks by a message, not an exit
/// signal, so it stops any supervisor, nested ones too (whose parent then
/// restarts them if their restart type says so). Returns none once the
/// supervisor is gone, as `terminate_child` does for a child; stopping a
/// supervisor that already exited succeeds too. `await_exit` tells why it
/// exited: `reason`, unless it had exited for another one before. Returns
/// `errc::not_found` for an invalid (null) handle, and `errc::timeout` if
/// it has not exited within `timeout` (it goes on stopping).
caf::error stop_supervisor(caf::actor_system& sys, const caf::actor& sup,
                           caf::error reason = caf::exit_reason::user_shutdown,
                           caf::timespan timeout = default_timeout);

/// Stops the tree under `root`, then waits until `sys` runs no more than
/// `remaining` actors, at most `shutdown_time` in total (OTP's kernel
/// `shutdown_time`). `remaining` counts your own actors that stay up, such
/// as a `caf::scoped_actor` in `main` (hidden ones do not count).
/// Returns none once everything is gone, or `errc::abandoned` with how many
/// actors are still running. CAF's `actor_system` destructor waits for every
/// actor and joins its scheduler threads, forever if a handler never
/// returns (CAF cannot preempt one): on `errc::abandoned`, leave the process
/// with `std::_Exit` (after flushing what must be flushed) instead of
/// destroying the system, as OTP kills a node that does not stop in time.
caf::error shutdown_system(caf::actor_system& sys, const caf::actor& root,
                           caf::timespan shutdown_time, size_t remaining = 0);

/// Blocks until `sup` exited and returns why (at once if it exited before);
/// `errc::not_found` for an invalid (null) handle, `errc::timeout` if it
/// still runs after `timeout`. Unlike the calls above, the reason is the
/// answer here: `caf::exit_reason::user_shutdown` after a `stop_supervisor`.
caf::error await_exit(caf::actor_system& sys, const caf::actor& sup,
                      caf::timespan timeout = default_timeout);

// -- OTP's runtime API, blocking ------------------------------------------------
//
// Each helper sends one request of `trellis/atoms.hpp` and waits for its
// answer, at most `timeout` (`errc::timeout` naming the call). Errors are
// typed: `errc::not_found`, `errc::running`, ..., `errc::not_found` for an
// invalid (null) handle, `errc::shutting_down` if `sup` is stopping, or
// `caf::sec::request_receiver_down` if it is gone (what a request from an
// actor gets, too). Called from an actor of the tree it would ask (a child
// factory, a supervisor, a child's handler), a helper fails at once with
// `errc::calling_self`: the answer could only come after the caller returns
// (docs/concepts.md, "Which calls are safe from where").

/// Adds `spec` to a static supervisor and starts it (OTP's `start_child/2`).
/// Returns the new actor, or an invalid handle if its factory answered
/// `ignore`. Fails with `errc::invalid_spec`, `errc::already_started` (the id
/// runs), `errc::already_present` (the id exists, stopped), the start error
/// (the spec is then dropped), or `errc::not_supported` for a dynamic
/// supervisor.
caf::expected<caf::actor> start_child(caf::actor_system& sys,
                                      const caf::actor& sup, child_spec spec,
                                      caf::timespan timeout = default_timeout);

/// Starts a child of a dynamic supervisor with `args` (OTP's `start_child/2`
/// for `simple_one_for_one`). Fails with `errc::max_children`, the start
/// error, or `errc::not_supported` for a static supervisor.
caf::expected<caf::actor> start_child(caf::actor_system& sys,
                                      const caf::actor& sup,
                                      caf::message args,
                                      caf::timespan timeout = default_timeout);

/// Stops the child `id` by its shutdown policy (OTP's `terminate_child/2`).
/// A static child stays in the list, stopped, until `delete_child`; a
/// temporary or dynamic child is removed. Stopping a stopped child succeeds.
caf::error terminate_child(caf::actor_system& sys, const caf::actor& sup,
                           const std::string& id,
                           caf::timespan timeout = default_timeout);

/// Stops the child whose current actor is `child`; `errc::not_found` if no
/// child of `sup` runs it. A dynamic supervisor, as OTP's
/// simple_one_for_one, also finds a restarting child by the actor whose exit
/// it restarts from (the child is removed and its retries end), and answers
/// ok for an actor that has exited already.
caf::error terminate_child(caf::actor_system& sys, const caf::actor& sup,
                           const caf::actor& child,
                           caf::timespan timeout = default_timeout);

/// Starts a stopped child again (OTP's `restart_child/2`); it keeps its
/// restart count and does not charge the restart budget. Fails with
/// `errc::running`, `errc::restarting`, `errc::not_found`, the start error
/// (the child stays stopped), or `errc::not_supported` (dynamic).
caf::expected<caf::actor> restart_child(caf::actor_system& sys,
                                        const caf::actor& sup,
                                        const std::string& id,
                                        caf::timespan timeout = default_timeout);

/// Removes a stopped child's spec (OTP's `delete_child/2`). Fails with
/// `errc::running`, `errc::restarting`, `errc::not_found`, or
/// `errc::not_supported` (dynamic).
caf::error delete_child(caf::actor_system& sys, const caf::actor& sup,
                        const std::string& id,
                        caf::timespan timeout = default_timeout);

/// Returns what the supervisor knows of each child, in start order.
///
/// Where Trellis differs from OTP: OTP lists a static supervisor's children
/// newest first (it keeps them in reverse start order), and documents no
/// order; Trellis lists them in start order, as snapshots and specs read.
caf::expected<std::vector<child_info>>
which_children(caf::actor_system& sys, const caf::actor& sup,
               caf::timespan timeout = default_timeout);

/// Returns what the supervisor knows of child `id`, the entry
/// `which_children` would list for it, without building the whole list;
/// fails with `errc::not_found` if `sup` has no child `id`. A dynamic
/// supervisor's children are found by their ids (`session#1`). OTP 28's
/// `supervisor:which_child/2`, by id only (OTP also takes a pid).
caf::expected<child_info> which_child(caf::actor_system& sys,
                                      const caf::actor& sup,
                                      const std::string& id,
                                      caf::timespan timeout = default_timeout);

/// Returns the supervisor's child counts; a restarting child is not active.
/// A dynamic supervisor counts one spec, its template, as in OTP.
caf::expected<child_counts> count_children(caf::actor_system& sys,
                                           const caf::actor& sup,
                                           caf::timespan timeout = default_timeout);

/// Returns the spec of child `id` (OTP's `get_childspec/2`); a dynamic
/// child's spec is its template under the child's own id.
caf::expected<child_spec> get_childspec(caf::actor_system& sys,
                                        const caf::actor& sup,
                                        const std::string& id,
                                        caf::timespan timeout = default_timeout);

/// Returns a snapshot of the whole tree under `sup`.
caf::expected<tree_snapshot> snapshot(caf::actor_system& sys,
                                      const caf::actor& sup,
                                      caf::timespan timeout = default_timeout);

/// Returns the group on which the tree of `sup` publishes its
/// `lifecycle_event`s; `self->join(*group)` subscribes an actor.
caf::expected<caf::group> lifecycle_events(caf::actor_system& sys,
                                           const caf::actor& sup,
                                           caf::timespan timeout = default_timeout);

/// Returns the current actor of the node at `path` under `root`, such as
/// `root/db/writer`; fails with `errc::not_found` for an unknown path or a
/// stopped child and `errc::restarting` for a child between incarnations.
caf::expected<caf::actor> lookup(caf::actor_system& sys,
                                 const caf::actor& root,
                                 const std::string& path,
                                 caf::timespan timeout = default_timeout);

/// Returns the messages quarantined under `sup` (its own children's,
/// including children that are gone; see `child_spec::quarantine_after`).
caf::expected<std::vector<dead_letter>> dead_letters(caf::actor_system& sys,
                                                     const caf::actor& sup,
                                                     caf::timespan timeout = default_timeout);

/// Returns the crash reports `sup` keeps of its own children, oldest first:
/// the last 64 crashes, each with the throw's stack, the message and the
/// state as far as they were recorded (see `crash_report`); the newest 8
/// keep the child's last messages too. Render one with
/// `to_string`, which symbolizes its stack on the caller's thread.
caf::expected<std::vector<crash_report>>
crash_reports(caf::actor_system& sys, const caf::actor& sup,
              caf::timespan timeout = default_timeout);

} // namespace trellis
