#pragma once

// The cases of the bench, by file, in the order of the table.

#include <vector>

#include "harness.hpp"

namespace trellis::bench {

/// restart_cycle, restart_cycle_exception, restart_budget_flat,
/// restart_storm, restart_keep_mailbox, one_for_all_100 (restart_cases.cpp).
void add_restart_cases(std::vector<bench_case>& xs);

/// message_plain, message_stable (message_cases.cpp).
void add_message_cases(std::vector<bench_case>& xs);

/// memory_per_child, tree_start_stop (scale_cases.cpp).
void add_scale_cases(std::vector<bench_case>& xs);

/// hang_detection (hang_detection.cpp).
void add_hang_cases(std::vector<bench_case>& xs);

/// Runs one side of memory_per_child in this process and prints its result
/// for the parent bench process (the hidden `--memory-probe` mode).
int memory_probe_main(const char* side, size_t children);

/// Runs one repetition of one side of tree_start_stop in this process and
/// prints its result for the parent (the hidden `--start-stop-probe` mode).
int start_stop_probe_main(const char* side, size_t children);

} // namespace trellis::bench
