// flaky_backend: backoff against a flaky dependency behind a circuit
// breaker. The backend throws on every request while it is "down"; each
// crash restarts it after a growing delay (100 ms, then 200 ms, ...). The
// client calls it through a breaker: two failures in a row open it, and
// calls then fail fast without reaching the backend; after 250 ms it is
// half open and lets one trial call through, which opens it again while
// the backend is still down and closes it once the backend is back.
//
//   root (one_for_one, at most 20 restarts in 10 s)
//   ├── backend    worker: doubles numbers, throws while down; restarts
//   │              with backoff 100 ms .. 800 ms
//   └── breaker    circuit breaker in front of root/backend (2 failures,
//                  200 ms call timeout, 250 ms reset timeout)
//
// The client subscribes to the tree's lifecycle events and prints them
// between its calls, with the backend's restart_due_in from
// which_children after each crash.

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "stop_on_signal.hpp"
#include "trellis/all.hpp"
#include "trellis/actors/circuit_breaker.hpp"

using namespace std::chrono_literals;

namespace {

caf::behavior backend(caf::event_based_actor*,
                      std::shared_ptr<std::atomic<bool>> down) {
  return {[down](int x) {
    if (down->load())
      throw std::runtime_error("backend unavailable");
    return x * 2;
  }};
}

struct client {
  caf::actor_system& sys;
  caf::scoped_actor& self;
  caf::actor root;
  caf::actor breaker;

  void print(const trellis::lifecycle_event& ev) {
    std::string line = "  event: " + trellis::to_string(ev.kind) + " "
                       + ev.path;
    if (!ev.detail.empty())
      line += " " + ev.detail;
    std::cout << line + '\n';
  }

  // Prints the events that arrived so far.
  void drain() {
    for (bool more = true; more;)
      self->receive([this](const trellis::lifecycle_event& ev) { print(ev); },
                    caf::after(0ms) >> [&] { more = false; });
  }

  // Prints events until the breaker reports `state`; false after 2 s.
  bool await_breaker(const std::string& state) {
    for (;;) {
      bool found = false;
      bool timed_out = false;
      self->receive(
        [&](const trellis::lifecycle_event& ev) {
          print(ev);
          found = ev.kind == trellis::breaker_state_changed
                  && ev.detail.rfind("state=" + state, 0) == 0;
        },
        caf::after(2s) >> [&] { timed_out = true; });
      if (found || timed_out)
        return found;
    }
  }

  // Calls the backend through the breaker; returns the error, if any.
  caf::error call(int x) {
    caf::error result;
    self->request(breaker, 1s, x)
      .receive(
        [&](int y) { std::cout << "call " << x << " -> " << y << '\n'; },
        [&](caf::error& err) {
          std::cout << "call " << x << " -> " << sys.render(err) << '\n';
          result = std::move(err);
        });
    if (result && trellis::is(result, trellis::errc::unhandled_exception))
      show_backoff(); // the backend crashed on it
    return result;
  }

  // Prints how long the backend waits before its next restart.
  void show_backoff() {
    for (int i = 0; i < 200; ++i) {
      if (auto children = trellis::which_children(sys, root))
        for (auto& child : *children)
          if (child.id == "backend"
              && child.restart_due_in > caf::timespan{0}) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              child.restart_due_in);
            std::cout << "  backend restarting: restart_due_in=" << ms.count()
                      << " ms\n";
            return;
          }
      std::this_thread::sleep_for(1ms);
    }
  }
};

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

  auto down = std::make_shared<std::atomic<bool>>(false);
  auto tree = trellis::supervisor("root")
                .intensity(20)
                .period(10s)
                .child(trellis::worker("backend", backend, down)
                         .backoff(trellis::restart_backoff{100ms, 800ms, 0.0}))
                .child(trellis::circuit_breaker(
                  "breaker", trellis::circuit_breaker_config{}
                               .target("root/backend")
                               .failure_threshold(2)
                               .call_timeout(200ms)
                               .reset_timeout(250ms)));
  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "flaky_backend: start failed: " << sys.render(root.error())
              << '\n';
    return 1;
  }
  caf::scoped_actor self{sys};
  self->join(*trellis::lifecycle_events(sys, *root));
  client c{sys, self, *root, *trellis::lookup(sys, *root, "root/breaker")};
  std::cout << "flaky_backend: started\n";

  std::cout << "\n1. the backend is up:\n";
  bool ok = !c.call(1) && !c.call(2);

  std::cout << "\n2. the backend goes down; two failures open the breaker, "
               "the next call fails fast:\n";
  down->store(true);
  caf::error last;
  for (int x = 3; x <= 5; ++x)
    last = c.call(x);
  ok = ok && trellis::is(last, trellis::breaker_errc::circuit_open);
  c.drain();

  std::cout << "\n3. half open: trial calls until one succeeds (the backend "
               "comes back after the first):\n";
  bool closed = false;
  for (int round = 0; round < 5 && !closed; ++round) {
    if (!c.await_breaker("half_open"))
      break;
    if (!c.call(10 + round)) {
      closed = c.await_breaker("closed");
      break;
    }
    c.await_breaker("open");
    down->store(false);
  }
  c.drain();
  std::cout << (closed ? "the breaker is closed again\n"
                       : "the breaker did not close\n");

  samples::linger(argc, argv, "flaky_backend", stop);
  if (stop.requested())
    return samples::stopped_by_signal("flaky_backend", sys, *root, stop);
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, *root);
  if (!reason)
    reason = trellis::await_exit(sys, *root);
  std::cout << "\nflaky_backend: tree stopped: " << sys.render(reason) << '\n';
  if (!ok || !closed || reason != caf::exit_reason::user_shutdown) {
    std::cout << "flaky_backend: FAILED\n";
    return 1;
  }
  std::cout << "flaky_backend: done\n";
  return 0;
}
