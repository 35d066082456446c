#pragma once

#include <caf/atom.hpp>

/// @file
/// The request/response protocol of a supervisor, for use from inside actors
/// (`self->request(sup, caf::infinite, start_child_atom::value, spec)`).
/// Plain code uses the blocking helpers of `trellis/supervisor.hpp`, which send
/// the same messages. Every request is answered with the value named here or
/// with a `caf::error` (mostly of category `trellis`, see `errc`). Like OTP's
/// supervisor, a supervisor runs one operation at a time: requests that
/// arrive while it starts, stops or restarts children wait until it is done.

namespace trellis {

/// `(caf::get_atom, started_atom)` asks a supervisor to answer `caf::ok_atom`
/// once all its children started, or the error that made its start fail.
/// Alone, `(started_atom)` is what a child spawned through `ctx.spawn` sends
/// its supervisor when its initialization is done.
using started_atom = caf::atom_constant<caf::atom("tr_started")>;

/// `(which_children_atom)` asks a supervisor for `std::vector<child_info>`.
using which_children_atom = caf::atom_constant<caf::atom("tr_which")>;

/// `(which_child_atom, std::string id)` asks a supervisor for the
/// `child_info` of child `id` alone.
using which_child_atom = caf::atom_constant<caf::atom("tr_whichc")>;

/// `(count_children_atom)` asks a supervisor for `child_counts`.
using count_children_atom = caf::atom_constant<caf::atom("tr_count")>;

/// `(start_child_atom, child_spec)` adds a child to a supervisor and starts
/// it; answers the new `caf::actor` (invalid if the factory answered
/// `ignore`). `(start_child_atom, caf::message args)` starts a child of a
/// dynamic supervisor with `args`.
using start_child_atom = caf::atom_constant<caf::atom("tr_startc")>;

/// `(terminate_child_atom, std::string id)` or `(terminate_child_atom,
/// caf::actor child)` stops a child; answers `caf::ok_atom`.
using terminate_child_atom = caf::atom_constant<caf::atom("tr_termc")>;

/// `(restart_child_atom, std::string id)` starts a stopped child again;
/// answers the new `caf::actor`.
using restart_child_atom = caf::atom_constant<caf::atom("tr_restc")>;

/// `(delete_child_atom, std::string id)` removes a stopped child's spec;
/// answers `caf::ok_atom`.
using delete_child_atom = caf::atom_constant<caf::atom("tr_delc")>;

/// `(get_childspec_atom, std::string id)` answers the child's `child_spec`.
using get_childspec_atom = caf::atom_constant<caf::atom("tr_getspec")>;

/// `(snapshot_atom)` answers a `tree_snapshot` of the supervisor's whole
/// subtree. Unlike the other requests, it is answered at once, even while
/// the supervisor restarts children: the snapshot then shows them restarting.
using snapshot_atom = caf::atom_constant<caf::atom("tr_snap")>;

/// `(lookup_atom, std::string path)` answers the current `caf::actor` of the
/// node at `path` (such as `root/db/writer`) in the supervisor's subtree.
/// Also answered at once.
using lookup_atom = caf::atom_constant<caf::atom("tr_lookup")>;

/// `(dead_letters_atom)` answers the supervisor's quarantined messages as
/// `std::vector<trellis::dead_letter>` (its own children's, including those
/// that are gone). Answered at once.
using dead_letters_atom = caf::atom_constant<caf::atom("tr_dead")>;

/// `(crash_reports_atom)` answers the crash reports the supervisor keeps of
/// its own children as `std::vector<trellis::crash_report>`, oldest first.
/// Answered at once.
using crash_reports_atom = caf::atom_constant<caf::atom("tr_crashes")>;

/// `(events_atom)` answers the `caf::group` on which the supervisor's whole
/// tree publishes `lifecycle_event`s; `self->join(group)` subscribes.
using events_atom = caf::atom_constant<caf::atom("tr_events")>;

/// `(mailbox_probe_atom)` asks any actor that Trellis spawned for its
/// mailbox depth as `uint64_t`; CAF answers it through the actor's default
/// handler, without user code (see `install_mailbox_probe`). Since it is
/// answered after the messages ahead of it, its round trip time is the
/// actor's queueing delay.
using mailbox_probe_atom = caf::atom_constant<caf::atom("tr_mbox")>;

/// `(readiness_atom)` is the health check of a child whose health check
/// asks for the actor's own answer (`health_check::readiness`): answer
/// `caf::ok_atom` when ready, or an error.
using readiness_atom = caf::atom_constant<caf::atom("tr_ready")>;

/// `(unhealthy_atom, caf::actor child, caf::error reason)` tells a
/// supervisor that its child `child` is unhealthy: the supervisor treats it
/// as a failed health check (reports, publishes, kills and forgets that
/// incarnation, restarts by strategy) without waiting for the child to read
/// an exit message. Answers `caf::ok_atom`, or `errc::not_found` if `child`
/// is no longer its current incarnation of any child.
using unhealthy_atom = caf::atom_constant<caf::atom("tr_unhlthy")>;

// -- sys: looking inside a child (see trellis/sys.hpp) -------------------------

/// `(sys_statistics_atom, std::string id, bool on)` switches the statistics
/// of a supervisor's child on or off (answers `caf::ok_atom`);
/// `(sys_statistics_atom, std::string id)` answers its `child_statistics`.
using sys_statistics_atom = caf::atom_constant<caf::atom("tr_sstats")>;

/// `(sys_trace_atom, std::string id, uint64_t n)` traces a child's last `n`
/// messages, 0 for none (answers `caf::ok_atom`); `(sys_trace_atom,
/// std::string id)` answers its trace as `std::vector<traced_message>`.
using sys_trace_atom = caf::atom_constant<caf::atom("tr_strace")>;

/// `(sys_suspend_atom, std::string id)` suspends a child; answers
/// `caf::ok_atom`.
using sys_suspend_atom = caf::atom_constant<caf::atom("tr_ssusp")>;

/// `(sys_resume_atom, std::string id)` resumes a child; answers
/// `caf::ok_atom`. Alone, `(sys_resume_atom)` is what the supervisor sends
/// the child to wake it.
using sys_resume_atom = caf::atom_constant<caf::atom("tr_sresume")>;

/// `(sys_get_state_atom, std::string id, caf::timespan within)` answers a
/// child's state as `std::string`, asking the child (`(sys_get_state_atom)`
/// alone) to render it within `within`.
using sys_get_state_atom = caf::atom_constant<caf::atom("tr_sstate")>;

} // namespace trellis
