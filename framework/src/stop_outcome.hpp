#pragma once

// Whether a child stopped by its supervisor ended as its shutdown policy
// asked, or gets a shutdown_error report. A rule of OTP's
// `supervisor:shutdown/1`, kept apart from the actor so that it is tested as
// a table.

#include <caf/error.hpp>

#include "trellis/errc.hpp"
#include "trellis/restart.hpp"
#include "trellis/shutdown.hpp"
#include "trellis/shutdown_reason.hpp"

namespace trellis::detail {

/// Returns whether `reason`, the exit reason of a child that its supervisor
/// asked to stop with `policy`, is what the supervisor expected. As in OTP:
/// the reason the supervisor sent (`kill` for `brutal_kill`, else
/// `user_shutdown` without a term) is always fine; a non-permanent child may
/// also end `normal`, `user_shutdown` or with a `shutdown_reason` (OTP's
/// `{shutdown, Term}`);
/// a permanent child should never end by itself, so those are reported.
/// `reached_max_restart_intensity` is OTP's `shutdown` of a child
/// supervisor.
inline bool stopped_as_asked(shutdown_kind policy, restart type,
                             const caf::error& reason) {
  bool asked = policy == shutdown_kind::brutal_kill
                 ? is(reason, caf::exit_reason::kill)
                 : (is(reason, caf::exit_reason::user_shutdown)
                    && !is_shutdown_reason(reason))
                     || is(reason, errc::reached_max_restart_intensity);
  if (asked)
    return true;
  return type != restart::permanent && is_normal_exit(reason);
}

} // namespace trellis::detail
