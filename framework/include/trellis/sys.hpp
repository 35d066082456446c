#pragma once

/// @file
/// Looking inside a running child, as OTP's `sys` module does for a
/// process: its statistics, a trace of the messages it handles, its state,
/// and suspending and resuming it.

#include <cstddef>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "trellis/child_statistics.hpp"
#include "trellis/supervisor.hpp"
#include "trellis/traced_message.hpp"

namespace trellis {

// Each function asks the supervisor `sup` about its child `id` and blocks
// for at most `timeout` (then `errc::timeout`); from inside an actor, send
// the messages of trellis/atoms.hpp instead. They apply to a local,
// event-based worker spawned through `child_context::spawn` (as `worker`
// does): a supervisor, a blocking or a remote child gets
// `errc::not_supported`; an unknown id `errc::not_found`; a child that is
// not running `errc::not_found` (stopped) or `errc::restarting`.
//
// The switches (`set_statistics`, `set_trace`) stay with the child: its
// spec changes, so later incarnations start with them, and
// `get_childspec` shows them. Suspension is the incarnation's own: a
// restarted child runs (as a restarted process in OTP does).
//
// Off, a child pays the branch per message it paid already, and each send to
// it loads one pointer more (see docs/benchmarks.md, `message_plain` and
// `message_statistics`). Once looked inside (any switch on, a suspension or
// a `get_state`), it checks its control on every message.

/// Switches the statistics of child `id` on (afresh if they were off, as
/// OTP's `sys:statistics(Name, true)`) or off. Trellis sends the child a
/// message, ahead of its backlog, so that it begins collecting at once
/// unless its handler is busy.
caf::error set_statistics(caf::actor_system& sys, const caf::actor& sup,
                          const std::string& id, bool on,
                          caf::timespan timeout = default_timeout);

/// Returns the statistics of child `id`'s current incarnation (see
/// `child_statistics`), read without a message to the child, so that they
/// come while its handler is stuck. With statistics off, `enabled` is false
/// and the figures are zero.
caf::expected<child_statistics>
get_statistics(caf::actor_system& sys, const caf::actor& sup,
               const std::string& id, caf::timespan timeout = default_timeout);

/// Traces the last `n` messages child `id` handles (at most
/// `max_traced_messages`); 0 switches the trace off and drops it. A new `n`
/// keeps the newest entries that fit. Like OTP's `sys:log(Name, {true, N})`.
caf::error set_trace(caf::actor_system& sys, const caf::actor& sup,
                     const std::string& id, size_t n,
                     caf::timespan timeout = default_timeout);

/// Returns the trace of child `id`'s current incarnation, oldest first
/// (OTP's `sys:log(Name, get)`); empty while the trace is off.
caf::expected<std::vector<traced_message>>
get_trace(caf::actor_system& sys, const caf::actor& sup, const std::string& id,
          caf::timespan timeout = default_timeout);

/// Suspends child `id`: it handles no more messages of its own until
/// resumed; they wait in its mailbox, in order. System messages still reach
/// it: it stops when its supervisor stops it, answers `get_state`, and its
/// health checks do not count as missed while it is suspended. Unlike in
/// OTP's `sys:suspend`, its behavior's timeout (`caf::after`) and its down
/// and exit handlers still run: they are CAF's system messages, which a
/// child must see to stop. Suspending a suspended child is no error.
caf::error suspend_child(caf::actor_system& sys, const caf::actor& sup,
                         const std::string& id,
                         caf::timespan timeout = default_timeout);

/// Resumes child `id`, which handles what waited first, in order: the child
/// ends its suspension itself, as it handles the message this sends it
/// (ahead of its backlog), so nothing newer overtakes what it held; until
/// then `child_statistics::suspended` stays true. Resuming a child that is
/// not suspended is no error.
caf::error resume_child(caf::actor_system& sys, const caf::actor& sup,
                        const std::string& id,
                        caf::timespan timeout = default_timeout);

/// Returns child `id`'s state, rendered on its own thread by its spec's
/// `format_state` hook, at most `max_rendered_state` characters (OTP's
/// `sys:get_state`, with `format_status`). Fails with `errc::not_supported`
/// without a hook, with `errc::unhealthy` naming what the hook threw, and
/// with `errc::hung` saying how long its handler has been running if the
/// child does not answer within most of `timeout` (the request goes ahead
/// of the child's backlog). The child checks for such requests from then
/// on, at the cost of a branch per message.
caf::expected<std::string> get_state(caf::actor_system& sys,
                                     const caf::actor& sup,
                                     const std::string& id,
                                     caf::timespan timeout = default_timeout);

} // namespace trellis
