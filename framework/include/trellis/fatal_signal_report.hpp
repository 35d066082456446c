#pragma once

/// @file
/// A last word on stderr when a signal ends the process: which supervised
/// child was running and where.

namespace trellis {

/// Installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT that
/// write, async-signal-safely, to stderr the signal, the path of the
/// supervised child that was running on the faulting thread (if any) and
/// the thread's raw frames (`backtrace_symbols_fd`: module+offset, no source
/// lines), then re-raise the signal with its default action, so that the
/// process still ends (and dumps core) as it would have.
///
/// Unlike an exception, such a signal is not a child's failure that the
/// supervisor can restart: after a null dereference or a division by zero
/// the process' state is undefined, so Trellis does not turn signals into
/// exceptions (OTP's equivalent is the whole VM crashing, which its
/// `heart` restarts from outside). Opt-in, as it replaces the handlers of
/// these signals that the program may have installed; call it once, early
/// in `main`. The report names a child's path for the blocking children and
/// the actors that mark themselves with it (see `detail::running_path`), and
/// misses a stack overflow (no alternate signal stack on CAF's threads).
void install_fatal_signal_report();

} // namespace trellis
