#pragma once

// Runs a scenario in a forked child process, so that a test can watch how a
// whole program ends (an exit code, a crash, a hang) without ending itself.

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace trellis::test {

/// How a child process ended.
struct process_end {
  /// The exit code, or -1 if a signal ended it or it hung.
  int code = -1;
  /// The signal that ended it, or 0.
  int signal = 0;
  /// Whether it was still running after the limit (it is killed then).
  bool hung = false;
  /// What the scenario wrote to its output (see `run_as_process`).
  std::string output;

  std::string describe() const {
    if (hung)
      return "still running after the limit (hung), killed";
    if (signal != 0)
      return "ended by signal " + std::to_string(signal) + " ("
             + strsignal(signal) + ")";
    return "exited with code " + std::to_string(code);
  }
};

/// Writes `line` and a newline to `fd`, from any thread of the child.
inline void write_line(int fd, const std::string& line) {
  auto x = line + '\n';
  auto res = ::write(fd, x.data(), x.size());
  static_cast<void>(res);
}

/// Runs `scenario` in a child process and returns how the process ended:
/// `scenario(fd)`'s return value is the exit code, after every local of it
/// (the actor system too) was destroyed, as when `main` returns; what it
/// writes to `fd` (`write_line`) comes back as `output`. Waits at most
/// `limit`, then kills the child.
inline process_end run_as_process(const std::function<int(int)>& scenario,
                                  std::chrono::seconds limit
                                  = std::chrono::seconds(60)) {
  process_end result;
  int fds[2];
  if (pipe(fds) != 0)
    return result;
  auto pid = fork();
  if (pid == 0) {
    close(fds[0]);
    int code = 2;
    try {
      code = scenario(fds[1]);
    } catch (...) {
      code = 3;
    }
    // No atexit handlers or static destructors of the test runner.
    _exit(code);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return result;
  }
  // Drained while it runs, so that a chatty child never blocks on a full
  // pipe.
  std::thread reader{[&result, fd = fds[0]] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0)
      result.output.append(buf, static_cast<size_t>(n));
  }};
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    auto res = waitpid(pid, &status, WNOHANG);
    if (res == pid)
      break;
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.hung = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reader.join();
  close(fds[0]);
  if (result.hung)
    return result;
  if (WIFEXITED(status))
    result.code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    result.signal = WTERMSIG(status);
  return result;
}

} // namespace trellis::test
