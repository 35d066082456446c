#pragma once

/// @file
/// The framework's core in one include, like caf/all.hpp: supervision trees
/// (specs, supervisors, restarts, shutdown, health checks, checkpoints, stable
/// handles, events, errors), with CAF's core alone (trellis::framework).
///
/// Left out, each with a target of its own to link:
/// - trellis/io/all.hpp, trees that span nodes through CAF's I/O module
///   (trellis::distribution);
/// - trellis/observer/observer.hpp, the HTTP observer (%trellis::observer);
/// - the ready-made actors, trellis/actors/alarm.hpp, circuit_breaker.hpp,
///   process_stats.hpp and resource_monitor.hpp (trellis::actors).
///
/// Left out as not for applications: trellis/detail/, machinery that the
/// public templates need.

#include "trellis/atoms.hpp"
#include "trellis/auto_shutdown.hpp"
#include "trellis/checkpoint.hpp"
#include "trellis/checkpoint_store.hpp"
#include "trellis/child_context.hpp"
#include "trellis/child_info.hpp"
#include "trellis/child_spec.hpp"
#include "trellis/child_statistics.hpp"
#include "trellis/child_type.hpp"
#include "trellis/configure.hpp"
#include "trellis/coordinated_shutdown.hpp"
#include "trellis/crash_handler.hpp"
#include "trellis/crash_report.hpp"
#include "trellis/dead_letter.hpp"
#include "trellis/decision.hpp"
#include "trellis/dependency.hpp"
#include "trellis/errc.hpp"
#include "trellis/fatal_signal_report.hpp"
#include "trellis/fault_injection.hpp"
#include "trellis/fwd.hpp"
#include "trellis/health_check.hpp"
#include "trellis/incident.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/log.hpp"
#include "trellis/mailbox_probe.hpp"
#include "trellis/phi_accrual.hpp"
#include "trellis/restart.hpp"
#include "trellis/restart_backoff.hpp"
#include "trellis/restart_limit.hpp"
#include "trellis/shutdown.hpp"
#include "trellis/shutdown_phase.hpp"
#include "trellis/shutdown_reason.hpp"
#include "trellis/stable_handle.hpp"
#include "trellis/stack_trace.hpp"
#include "trellis/stable_handle_options.hpp"
#include "trellis/start_result.hpp"
#include "trellis/stop_signal.hpp"
#include "trellis/strategy.hpp"
#include "trellis/supervisor.hpp"
#include "trellis/supervisor_spec.hpp"
#include "trellis/sys.hpp"
#include "trellis/systemd_notifier.hpp"
#include "trellis/traced_message.hpp"
#include "trellis/tree_snapshot.hpp"
