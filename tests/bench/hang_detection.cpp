// Hang detection: a health-checked child gets stuck inside a handler; how
// long until its replacement answers, against the check's interval plus
// timeout (the longest a hang can stay unnoticed with max_missed 1).

#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>

#include "bench_actors.hpp"
#include "cases.hpp"
#include "trellis/all.hpp"

namespace trellis::bench {

/// Set to let a stuck handler return, so that the process can exit.
using release_flag = std::shared_ptr<std::atomic<bool>>;

} // namespace trellis::bench

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(trellis::bench::release_flag)

using namespace std::chrono_literals;

namespace trellis::bench {

namespace {

using hang_atom = caf::atom_constant<caf::atom("b_hang")>;

constexpr auto interval = 100ms;
constexpr auto timeout = 100ms;

/// Announces itself to `driver`, echoes `int32_t`s, and on `hang_atom`
/// stays inside the handler until released, as a handler blocked on a lock
/// would (polling, so that it holds its thread but hardly a core).
caf::behavior hanging_child(caf::event_based_actor* self, caf::actor driver) {
  self->send(driver, announce_atom::value, int32_t{0});
  return {
    [](int32_t x) { return x; },
    [](hang_atom, const release_flag& release) {
      while (!release->load())
        std::this_thread::sleep_for(100us);
    },
  };
}

/// Releases every stuck handler when the case ends, even by an exception,
/// so that the actor system can shut down. Declare it after the system.
struct release_on_exit {
  std::vector<release_flag> flags;
  ~release_on_exit() {
    for (auto& x : flags)
      x->store(true);
  }
};

/// Waits for the next announcement and returns its sender.
caf::actor await_announcement(caf::scoped_actor& self) {
  caf::actor result;
  self->receive(
    [&](announce_atom, int32_t) {
      result = caf::actor_cast<caf::actor>(self->current_sender());
    },
    caf::after(std::chrono::seconds(10)) >> [] {});
  if (!result)
    throw std::runtime_error("no replacement announced itself within 10s");
  return result;
}

result hang_detection(const options& opts) {
  auto hangs = 2 * opts.reps;
  bench_config cfg;
  caf::actor_system sys{cfg};
  release_on_exit guard;
  caf::scoped_actor self{sys};
  // Detached: the stuck incarnation holds a thread of its own, not one of
  // the two scheduler threads the supervisor and the replacement need.
  auto sup = start_supervisor(
    sys, supervisor("bench").intensity(1'000).child(
           worker("stuck", hanging_child, caf::actor{self})
             .detached(true)
             .health_check(health_check{interval, timeout, 1})));
  if (!sup)
    throw std::runtime_error("tree did not start: " + sys.render(sup.error()));
  auto child = await_announcement(self);
  // Hangs start at random points of the check cycle.
  std::mt19937 rng{42};
  std::uniform_int_distribution<int> phase_us{0, 100'000};
  std::vector<double> ms;
  for (int i = 0; i < hangs; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(phase_us(rng)));
    auto release = std::make_shared<std::atomic<bool>>(false);
    guard.flags.push_back(release);
    auto t0 = clock::now();
    self->send(child, hang_atom::value, release);
    child = await_announcement(self);
    bool answered = false;
    self->request(child, std::chrono::seconds(10), int32_t{1})
      .receive([&](int32_t) { answered = true; }, [](caf::error&) {});
    if (!answered)
      throw std::runtime_error("the replacement did not answer");
    ms.push_back(seconds_between(t0, clock::now()) * 1e3);
    release->store(true);
  }
  stop_supervisor(sys, *sup);
  auto bound = std::chrono::duration<double, std::milli>(interval + timeout);
  measured m;
  m.trellis = {median(ms), {{"p99_ms", percentile(ms, 99)}}};
  m.baseline = {bound.count(), {}};
  std::vector<double> ratios;
  for (auto x : ms)
    ratios.push_back(x / m.baseline.value);
  set_ratios(m, ratios);
  return compare("hang_detection", "ms", 1.5, better::lower, m);
}

} // namespace

void add_hang_cases(std::vector<bench_case>& xs) {
  xs.push_back({"hang_detection",
                "a detached child stuck in a handler, health_check{100ms, "
                "100ms, 1}: until the replacement answers",
                60s, hang_detection});
}

} // namespace trellis::bench
