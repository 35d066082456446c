#include "test_support.hpp"

#include <ctime>

#include "trellis/actors/process_stats.hpp"

using namespace trellis;

TEST_CASE("the process sampler reads sane values", "[actors][process_stats]") {
  process_sampler sampler;
  // Burn 100 ms of this process' own CPU time, so the rate has something to
  // measure even on a loaded machine (wall time could pass with none).
  volatile uint64_t x = 0;
  auto start = std::clock();
  while (std::clock() - start < CLOCKS_PER_SEC / 10)
    x = x + 1;
  auto stats = sampler.sample();
  REQUIRE(stats);
  CHECK(stats->cpu_percent > 0);
  CHECK(stats->cpu_percent
        <= 100.0 * std::max(1u, std::thread::hardware_concurrency()) + 5);
  CHECK(stats->resident_bytes > 1'000'000);   // any C++ test binary has more
  CHECK(stats->resident_bytes < 24ull << 30); // than a megabyte, less than RAM
  CHECK(stats->threads >= 1);
  CHECK(stats->open_fds >= 3); // stdin, stdout, stderr
  // A thread and a descriptor more show up in the next sample.
  std::atomic<bool> done{false};
  std::thread t{[&] {
    while (!done)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }};
  auto fd = std::fopen("/proc/self/status", "r");
  auto more = sampler.sample();
  REQUIRE(more);
  CHECK(more->threads == stats->threads + 1);
  CHECK(more->open_fds == stats->open_fds + 1);
  std::fclose(fd);
  done = true;
  t.join();
}
