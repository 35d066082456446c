#pragma once

// A trellis_node child process for multi-process tests. Each node dies with
// the test process (PR_SET_PDEATHSIG), even when the test crashes or ctest
// kills it for a timeout, and with this object otherwise: no test leaves a
// node behind.

#include <csignal>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace trellis::test {

class node_process {
public:
  /// Starts `exe` with `args` and waits until it prints its port.
  node_process(const std::string& exe, std::vector<std::string> args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    // Built before fork: the child of a threaded process may only make
    // async-signal-safe calls until exec. An allocation there can wait
    // forever on a lock that another thread held at the fork (under
    // AddressSanitizer, the child now and then spun on its allocator's lock).
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (auto& x : args)
      argv.push_back(const_cast<char*>(x.c_str()));
    argv.push_back(nullptr);
    auto parent = getpid();
    pid_ = fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent)
        _exit(1); // The test died before prctl.
      setpgid(0, 0);
      dup2(fds[1], STDOUT_FILENO);
      execv(exe.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
    port_ = read_port();
  }

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  ~node_process() {
    kill();
  }

  uint16_t port() const noexcept {
    return port_;
  }

  /// The node's process id, -1 once killed.
  pid_t pid() const noexcept {
    return pid_;
  }

  /// Returns whether the node still runs (it has not exited or crashed).
  bool running() {
    if (pid_ <= 0)
      return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == 0)
      return true;
    pid_ = -1;
    return false;
  }

  /// The node's address for `nodes`.
  std::string address() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

  /// Sends `sig` (SIGSTOP, SIGCONT) to the node.
  void signal(int sig) {
    if (pid_ > 0)
      ::kill(pid_, sig);
  }

  /// Stops the node (SIGSTOP) and returns whether it is stopped ('T' in
  /// /proc) within 5 s: `kill` returns before the node stops, and a node
  /// still running a moment longer may read what is sent to it next.
  bool pause() {
    if (pid_ <= 0)
      return false;
    ::kill(pid_, SIGSTOP);
    auto stopped = [this] {
      std::ifstream in{"/proc/" + std::to_string(pid_) + "/stat"};
      std::string pid, comm, state;
      in >> pid >> comm >> state;
      return state == "T" || state == "t";
    };
    for (int i = 0; i < 5000 && !stopped(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return stopped();
  }

  /// Sends `sig` and waits at most `limit` for the node to exit; returns its
  /// exit code, 128 + the signal that ended it, or -1 if it still ran (it is
  /// killed then).
  int stop(int sig, std::chrono::seconds limit = std::chrono::seconds(30)) {
    if (pid_ <= 0)
      return -1;
    ::kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill();
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    kill();
    if (WIFEXITED(status))
      return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  }

  /// Kills the node and reaps it.
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (out_ >= 0) {
      close(out_);
      out_ = -1;
    }
  }

  /// Waits up to `limit` for a line of the node's output that starts with
  /// `prefix`, skipping others; returns whether one came.
  bool await_line(const std::string& prefix, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string line;
    while (out_ >= 0 && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0)
        continue;
      char ch;
      if (read(out_, &ch, 1) != 1)
        return false;
      if (ch != '\n') {
        line += ch;
        continue;
      }
      if (line.compare(0, prefix.size(), prefix) == 0)
        return true;
      line.clear();
    }
    return false;
  }

private:
  uint16_t read_port() {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0)
        continue;
      char ch;
      if (read(out_, &ch, 1) != 1)
        break;
      if (ch != '\n') {
        line += ch;
        continue;
      }
      const std::string prefix = "trellis-node port=";
      if (line.compare(0, prefix.size(), prefix) == 0)
        return static_cast<uint16_t>(std::stoul(line.substr(prefix.size())));
      line.clear();
    }
    kill();
    throw std::runtime_error("the node did not print its port");
  }

  pid_t pid_ = -1;
  int out_ = -1;
  uint16_t port_ = 0;
};

} // namespace trellis::test
