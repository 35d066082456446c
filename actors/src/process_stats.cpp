#include "trellis/actors/process_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include <caf/error.hpp>
#include <caf/sec.hpp>

namespace trellis {

namespace {

caf::error unreadable(const char* file) {
  return caf::make_error(caf::sec::runtime_error,
                         std::string{"cannot read "} + file);
}

/// utime + stime of /proc/self/stat, in clock ticks.
bool read_cpu_ticks(uint64_t& ticks) {
  std::ifstream in{"/proc/self/stat"};
  std::string line;
  if (!std::getline(in, line))
    return false;
  // The command name (field 2) may contain spaces; fields resume after ')'.
  auto pos = line.rfind(')');
  if (pos == std::string::npos)
    return false;
  std::istringstream rest{line.substr(pos + 2)};
  std::string field;
  uint64_t utime = 0;
  uint64_t stime = 0;
  // Field 3 (state) is the first after ')'; utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    else if (i == 15)
      stime = std::stoull(field);
  }
  ticks = utime + stime;
  return static_cast<bool>(rest);
}

} // namespace

process_sampler::process_sampler()
  : last_time_(std::chrono::steady_clock::now()) {
  read_cpu_ticks(last_cpu_ticks_);
}

caf::expected<process_stats> process_sampler::sample() {
  process_stats result;
  uint64_t ticks = 0;
  if (!read_cpu_ticks(ticks))
    return unreadable("/proc/self/stat");
  auto now = std::chrono::steady_clock::now();
  auto wall = std::chrono::duration<double>(now - last_time_).count();
  static const double ticks_per_second = static_cast<double>(
    sysconf(_SC_CLK_TCK));
  if (wall > 0)
    result.cpu_percent = static_cast<double>(ticks - last_cpu_ticks_)
                         / ticks_per_second / wall * 100.0;
  last_cpu_ticks_ = ticks;
  last_time_ = now;
  std::ifstream status{"/proc/self/status"};
  if (!status)
    return unreadable("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> result.resident_bytes;
      result.resident_bytes *= 1024; // reported in kB
    } else if (key == "Threads:") {
      status >> result.threads;
    }
    status.ignore(4096, '\n');
  }
  status.close(); // Not to be counted among the descriptors below.
  auto dir = opendir("/proc/self/fd");
  if (dir == nullptr)
    return unreadable("/proc/self/fd");
  while (auto entry = readdir(dir))
    if (entry->d_name[0] != '.')
      ++result.open_fds;
  closedir(dir);
  // The directory handle itself was one of the descriptors counted.
  if (result.open_fds > 0)
    --result.open_fds;
  return result;
}

} // namespace trellis
