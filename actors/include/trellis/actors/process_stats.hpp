#pragma once

/// @file
/// What the process uses, read from /proc. Part of `trellis::actors`.

#include <chrono>
#include <cstdint>

#include <caf/expected.hpp>

namespace trellis {

/// What the process uses right now, read from Linux's /proc/self.
struct process_stats {
  /// CPU time over wall time since the previous sample, in percent of one
  /// core (so up to 100 times the number of cores).
  double cpu_percent = 0;
  /// Resident memory (VmRSS), in bytes.
  uint64_t resident_bytes = 0;
  /// Threads of the process.
  uint64_t threads = 0;
  /// Open file descriptors.
  uint64_t open_fds = 0;
};

/// Samples `process_stats`. CPU percent is a rate, so each sample measures
/// the time since the previous one (or since construction).
class process_sampler {
public:
  /// Takes the first CPU reading, the start of the first sample's interval.
  process_sampler();

  /// Reads /proc/self; fails with `caf::sec::runtime_error` naming the file
  /// that could not be read (for example, on a system without /proc).
  caf::expected<process_stats> sample();

private:
  uint64_t last_cpu_ticks_ = 0;
  std::chrono::steady_clock::time_point last_time_;
};

} // namespace trellis
