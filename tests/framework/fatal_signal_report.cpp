#include "test_support.hpp"

#include <csignal>

#include "child_process.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/fatal_signal_report.hpp"

using namespace trellis;
using namespace trellis::test;

namespace {

// A null dereference that the optimizer cannot remove, and that UBSan lets
// through to the signal (it would end the process first).
[[gnu::noinline]] __attribute__((no_sanitize("undefined"))) void
dereference_null() {
  int* volatile p = nullptr;
  *p = 1;
}

} // namespace

TEST_CASE("the fatal signal report names the signal and the child",
          "[fatal_signal]") {
  auto end = run_as_process([](int fd) {
    // The report goes to stderr: into the pipe that run_as_process reads.
    dup2(fd, STDERR_FILENO);
    install_fatal_signal_report();
    // What a blocking child sets while it runs (blocking_child::act).
    struct crasher : detail::tree_member {
      crasher() {
        member_of(this, "root/crasher");
      }
    } child;
    detail::running_in_tree in_tree{static_cast<const detail::tree_member&>(child)};
    dereference_null();
    // Where page 0 is mapped (some sandboxes), the store succeeds: the
    // signal then comes by hand, through the same handler.
    raise(SIGSEGV);
    // The signal ends the process; if it did not, exit with a code.
    std::this_thread::sleep_for(std::chrono::seconds(10));
    return 5;
  });
  INFO(end.describe() << "\n" << end.output);
  CHECK(end.signal == SIGSEGV);
  CHECK_THAT(end.output,
             Catch::Contains("trellis: fatal signal SIGSEGV in child "
                             "root/crasher; frames:"));
}
