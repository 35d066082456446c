#include "trellis/fatal_signal_report.hpp"

#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "trellis/detail/running_tree.hpp"

namespace trellis {

namespace {

constexpr int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

// Only write(2) and plain reads below: the handler runs on a thread that
// may hold any lock, malloc's included.
void put(const char* text, size_t n) {
  while (n > 0) {
    auto res = ::write(STDERR_FILENO, text, n);
    if (res <= 0)
      return;
    text += res;
    n -= static_cast<size_t>(res);
  }
}

void put(const char* text) {
  put(text, std::strlen(text));
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "a fatal signal";
  }
}

void on_fatal_signal(int sig) {
  put("trellis: fatal signal ");
  put(signal_name(sig));
  if (auto path = detail::running_path) {
    put(" in child ");
    put(path->data(), path->size());
  } else if (detail::running_tree != nullptr) {
    put(" in a supervised actor");
  } else {
    put(" outside any supervised child");
  }
  put("; frames:\n");
  void* frames[64];
  auto n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  // SA_RESETHAND restored the default action: the process ends as it would
  // have without this report.
  raise(sig);
}

} // namespace

void install_fatal_signal_report() {
  // backtrace loads libgcc_s on its first call, which a signal handler must
  // not do: load it now.
  void* warmup[1];
  backtrace(warmup, 1);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (auto sig : fatal_signals)
    sigaction(sig, &sa, nullptr);
}

} // namespace trellis
