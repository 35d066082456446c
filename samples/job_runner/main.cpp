// job_runner: a dynamic supervisor runs jobs, at most three at a time.
// Each job is a transient child started with typed arguments (its id and
// the number to work on): it sums 1..n, reports the sum and exits normally,
// so it is not restarted. Every third job fails on its first try (it
// throws), so it is restarted with the same arguments and succeeds. A start
// past max_children fails with errc::max_children: the runner waits for a
// job to finish and tries again.
//
//   root (one_for_one)
//   └── jobs (dynamic, transient children, at most 3 at a time)
//       └── job#N     worker: job(id, n), sums 1..n and exits

#include <chrono>
#include <deque>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>

#include <caf/all.hpp>

#include "stop_on_signal.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace {

using work_atom = caf::atom_constant<caf::atom("work")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

// After 50 ms of "work", sums 1..n, reports (done, id, sum, restarts) to `runner` and exits
// normally. A job whose id is a multiple of 3 throws on its first try.
caf::behavior job(caf::event_based_actor* self, int id, int n,
                  size_t restarts, caf::actor runner) {
  // A job takes a while, so that three run at once and the runner meets
  // max_children.
  self->delayed_send(self, 50ms, work_atom::value);
  return {[=](work_atom) {
    if (id % 3 == 0 && restarts == 0)
      throw std::runtime_error("job " + std::to_string(id) + ": flaky input");
    long sum = 0;
    for (int i = 1; i <= n; ++i)
      sum += i;
    self->send(runner, done_atom::value, id, sum, restarts);
    self->quit();
  }};
}

} // namespace

int main(int argc, char** argv) {
  // SIGINT and SIGTERM: the scenario (seconds) ends, then the tree stops in
  // order and the sample exits 0. With --linger the tree keeps running after
  // the scenario until one comes (as the signal tests need).
  trellis::stop_signal stop;
  // Each line appears as it happens, also through a pipe.
  std::cout << std::unitbuf;
  caf::actor_system_config cfg;
  trellis::configure(cfg);
  caf::actor_system sys{cfg};
  trellis::set_log_level(trellis::log_level::off); // the failures are planned
  caf::scoped_actor self{sys};
  caf::actor runner{self};

  auto tree = trellis::supervisor("root").child(
    trellis::dynamic_supervisor(
      "jobs",
      trellis::worker("job",
                      [runner](trellis::child_context& ctx, int id, int n) {
                        return ctx.spawn(job, id, n, ctx.restart_count(),
                                         runner);
                      })
        .restart(trellis::restart::transient))
      .intensity(10)
      .period(10s)
      .max_children(3));
  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "job_runner: start failed: " << sys.render(root.error())
              << '\n';
    return 1;
  }
  auto jobs = *trellis::lookup(sys, *root, "root/jobs");
  std::cout << "job_runner: started; 8 jobs, at most 3 at a time\n";

  std::deque<std::pair<int, int>> queue; // (id, n)
  for (int id = 1; id <= 8; ++id)
    queue.emplace_back(id, id * 100);
  int done = 0;
  size_t restarts = 0;
  int refused = 0;
  auto on_done = [&](done_atom, int id, long sum, size_t r) {
    ++done;
    restarts += r;
    std::cout << "  job " << id << " done: " << sum
              << (r > 0 ? " (after " + std::to_string(r) + " restart)" : "")
              << '\n';
  };
  // Waits for a job to report, at most `timeout`; returns whether one did.
  auto await_job = [&](caf::timespan timeout) {
    bool got = true;
    self->receive(on_done, caf::after(timeout) >> [&] { got = false; });
    return got;
  };
  while (!queue.empty()) {
    auto [id, n] = queue.front();
    auto started = trellis::start_child(sys, jobs, caf::make_message(id, n));
    if (started) {
      queue.pop_front();
    } else if (trellis::is(started.error(), trellis::errc::max_children)) {
      // Full: try again once a job finished (or a little later, since its
      // slot is freed when the supervisor sees it exit).
      ++refused;
      await_job(20ms);
    } else {
      std::cout << "  job " << id
                << " failed to start: " << sys.render(started.error()) << '\n';
      queue.pop_front();
    }
  }
  while (done < 8 && await_job(20s))
    ; // the last jobs
  std::cout << "job_runner: " << done << " jobs done, " << restarts
            << " restarts, " << refused
            << " starts refused by max_children and retried\n";

  samples::linger(argc, argv, "job_runner", stop);
  if (stop.requested())
    return samples::stopped_by_signal("job_runner", sys, *root, stop);
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, *root);
  if (!reason)
    reason = trellis::await_exit(sys, *root);
  std::cout << "job_runner: tree stopped: " << sys.render(reason) << '\n';
  // Every job done, each flaky one (3 and 6) after one restart.
  if (done != 8 || restarts != 2 || reason != caf::exit_reason::user_shutdown) {
    std::cout << "job_runner: FAILED\n";
    return 1;
  }
  std::cout << "job_runner: done\n";
  return 0;
}
