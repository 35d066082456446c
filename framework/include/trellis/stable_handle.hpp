#pragma once

/// @file
/// `stable_handle`: an address of a child that outlives its restarts.

#include <cstddef>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>

#include "trellis/stable_handle_options.hpp"

namespace trellis {

/// `(caf::get_atom, stable_handle_atom)` asks a stable handle how it stands:
/// answers `(bool up, uint64_t buffered)`.
using stable_handle_atom = caf::atom_constant<caf::atom("tr_stable")>;

/// Returns a handle to the child at `path` under `root` that keeps working
/// across restarts (OTP gives every caller a dead pid; Akka and CAF give a
/// dead address). The handle is a small proxy actor that follows the
/// tree's lifecycle events:
///
/// - While the child runs, every message is forwarded with its sender and
///   request id, so the child answers the caller directly; without retries,
///   on the sender's thread while nothing else is going on, each sender's
///   messages in order.
/// - While the child is down (exited, restarting, backing off), messages are
///   buffered, at most `buffer` of them, and delivered to the next
///   incarnation in order. Past the bound a request gets `errc::overloaded`
///   as its answer; a plain message is dropped as a dead letter, reported
///   and published (`message_dropped`).
/// - A new incarnation gets nothing before the previous one has ended (the
///   orphan of a supervisor that died still works through its mailbox), so
///   that no message overtakes an earlier one; messages wait meanwhile, at
///   most 5 s and at most `buffer` of them, then go on. An incarnation
///   declared hung or abandoned, which may never end, is not waited for.
/// - While the child is down the proxy also looks it up every 100 ms; once
///   three lookups in a row find no child (stopped, deleted), it is gone:
///   buffered and later messages fail with `errc::not_found`, until the
///   child starts again (`restart_child`, a group restart). A child stopped
///   only until its group's failed restart is retried (one_for_all,
///   rest_for_one) counts as restarting: messages wait for it.
///
/// Messages already in the dead incarnation's mailbox are lost with it (CAF
/// drops a dead actor's mailbox; requests among them fail with
/// `request_receiver_down`), unless the child keeps its mailbox or the
/// handle retries (see the overload with options). The proxy handles
/// `lifecycle_event` messages
/// itself. Stop it like any actor (`caf::exit_reason::user_shutdown`); it
/// also exits when the tree's root does, answering what it buffered, and
/// later requests, with `request_receiver_down` naming the handle and the
/// tree's exit reason.
///
/// Fails with `errc::invalid_spec` for a `buffer` of 0 (messages wait in
/// the buffer until the first lookup answers), with `errc::not_found` for a
/// path with no child, and with the error of `lifecycle_events` for a
/// `root` that is not a running supervisor.
caf::expected<caf::actor> stable_handle(caf::actor_system& sys,
                                        const caf::actor& root,
                                        const std::string& path,
                                        size_t buffer = 1000);

/// Returns a stable handle as above, with `opts`:
///
/// - `opts.while_down == down_policy::fail_fast`: while the child is down,
///   a request gets `errc::restarting` (naming the child) at once and a
///   plain message is dropped as a dead letter, instead of waiting. Until
///   its first lookup answers, and while a new incarnation waits for the
///   older one's end, the handle still holds messages (a running child
///   never costs one). Once the child is up again, it forwards again.
/// - `opts.retry.attempts > 0`: the handle sends each request as its own
///   and relays the answer, so that it learns when the incarnation ended
///   without answering; it then sends the request again to the next
///   incarnation or answers `errc::in_doubt` (see `retry_policy`). Plain
///   messages are forwarded as without retry. A request handed to the next
///   incarnation of a child that keeps its mailbox is answered there, once,
///   and not sent again. Requests sent again wait for the next incarnation
///   even when failing fast: they were taken while the child ran.
///
/// Fails as the overload above does, with `errc::invalid_spec` for a
/// `opts.buffer` of 0.
caf::expected<caf::actor> stable_handle(caf::actor_system& sys,
                                        const caf::actor& root,
                                        const std::string& path,
                                        const stable_handle_options& opts);

} // namespace trellis
