#include "test_support.hpp"

#include "stop_outcome.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// A worker that, on any int, blocks in its handler until `release` is set.
auto stuck_until(std::shared_ptr<std::atomic<bool>> release) {
  return [release](caf::event_based_actor*) -> caf::behavior {
    return {[release](int) {
      while (!*release)
        std::this_thread::sleep_for(1ms);
    }};
  };
}

/// A parent actor (OTP's process that calls `supervisor:start_link`): it
/// starts `spec` as its tree, hands the supervisor to `probe`, exits with
/// the reason of a `quit_atom`, and sends an exit signal on `(target,
/// reason)`.
caf::behavior tree_parent(caf::event_based_actor* self, supervisor_spec spec,
                          caf::actor probe) {
  auto sup = spawn_supervisor(self, spec);
  if (!sup) {
    self->quit(sup.error());
    return {};
  }
  self->send(probe, *sup);
  return {
    [self](quit_atom, caf::error& reason) { self->quit(std::move(reason)); },
    [self](const caf::actor& target, caf::error& reason) {
      self->send_exit(target, std::move(reason));
    },
  };
}

/// Receives the supervisor a `tree_parent` hands out.
caf::actor tree_of(caf::scoped_actor& probe) {
  caf::actor result;
  probe->receive([&](caf::actor& x) { result = std::move(x); },
                 caf::after(patience) >> [] {});
  REQUIRE(result);
  return result;
}

/// Waits, within `patience`, until `logs` holds `n` lines of `report`.
std::vector<std::string> await_reports(const log_capture& logs,
                                       const std::string& report, size_t n) {
  INFO("waiting for " << n << " reports " << report);
  auto deadline = std::chrono::steady_clock::now() + patience;
  auto result = logs.reports(report);
  while (result.size() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
    result = logs.reports(report);
  }
  REQUIRE(result.size() >= n);
  return result;
}

} // namespace

TEST_CASE("a tree shuts down in reverse start order, depth first",
          "[supervisor][shutdown]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .child(f.probed("a"))
                       .child(supervisor("sub").child(f.probed("x"))
                                                .child(f.probed("y")))
                       .child(f.probed("b")));
  f.next_events(4);
  CHECK(stop_supervisor(f.sys, sup) == caf::none);
  CHECK(await_exit(f.sys, sup) == caf::exit_reason::user_shutdown);
  CHECK(f.next_events(4)
        == std::vector<std::string>{"stopped:b", "stopped:y", "stopped:x",
                                    "stopped:a"});
}

TEST_CASE("a child's own cleanup has run when its supervisor hears of its "
          "exit, as OTP's terminate/2 runs before the 'EXIT'",
          "[supervisor][shutdown]") {
  // The child attaches its cleanup while it initializes, on whatever thread:
  // the supervisor must still hear of the exit last.
  fixture f;
  auto cleaned = std::make_shared<std::atomic<bool>>(false);
  auto slow_cleanup = [cleaned](caf::event_based_actor* self) -> caf::behavior {
    self->attach_functor([cleaned] {
      std::this_thread::sleep_for(200ms);
      *cleaned = true;
    });
    return {[](int x) { return x; }};
  };
  auto spec = worker("slow", slow_cleanup);
  SECTION("initialized on the supervisor's thread") {
  }
  SECTION("initialized on a thread of its own") {
    spec.detached(true);
  }
  auto sup = f.start(supervisor("root").child(spec));
  REQUIRE(stop_supervisor(f.sys, sup) == caf::none);
  CHECK(*cleaned);
}

TEST_CASE("a child that ignores shutdown is killed after its timeout",
          "[supervisor][shutdown]") {
  fixture f;
  log_capture logs;
  caf::actor probe{f.probe};
  auto sup = f.start(
    supervisor("root")
      .child(f.probed("a"))
      .child(worker("stubborn", stubborn_worker, std::string{"stubborn"}, probe)
               .shutdown(shutdown::timeout(100ms))));
  f.next_events(2);
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  CHECK(f.next_events(3)
        == std::vector<std::string>{"ignored_exit:stubborn", "stopped:stubborn",
                                    "stopped:a"});
  auto errors = logs.reports("shutdown_error supervisor=root child=stubborn");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("kill"));
}

TEST_CASE("brutal_kill stops a child at once without a report",
          "[supervisor][shutdown]") {
  fixture f;
  log_capture logs;
  caf::actor probe{f.probe};
  auto sup = f.start(supervisor("root").child(
    worker("stubborn", stubborn_worker, std::string{"stubborn"}, probe)
      .shutdown(shutdown::brutal_kill())));
  f.next_event();
  stop_supervisor(f.sys, sup);
  CHECK(f.next_event() == "stopped:stubborn");
  CHECK(logs.reports("shutdown_error").empty());
}

TEST_CASE("a child that exits normally when asked to stop is reported only "
          "if permanent, as in OTP",
          "[supervisor][shutdown][reports]") {
  fixture f;
  log_capture logs;
  caf::actor probe{f.probe};
  // Traps the shutdown and exits normally, as a child that cleans up would.
  auto tidy = [](caf::event_based_actor* self, std::string id,
                 caf::actor p) -> caf::behavior {
    self->set_exit_handler([self](caf::exit_msg&) { self->quit(); });
    return probed_worker(self, std::move(id), std::move(p));
  };
  SECTION("a permanent child should never exit normally: shutdown_error, "
          "reason normal") {
    auto sup = f.start(supervisor("root").child(
      worker("tidy", tidy, std::string{"tidy"}, probe)));
    f.next_event();
    CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
    CHECK(f.next_event() == "stopped:tidy");
    auto errors = logs.reports("shutdown_error");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0]
          == "shutdown_error supervisor=root child=tidy "
             "reason=\"exit_reason(normal)\"");
  }
  SECTION("transient and temporary children may") {
    auto r = GENERATE(restart::transient, restart::temporary);
    INFO(to_string(r));
    auto sup = f.start(supervisor("root").child(
      worker("tidy", tidy, std::string{"tidy"}, probe).restart(r)));
    f.next_event();
    CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
    CHECK(f.next_event() == "stopped:tidy");
    CHECK(logs.reports("shutdown_error").empty());
  }
}

TEST_CASE("which exits a stopped child may end with, by shutdown policy and "
          "restart type (OTP's supervisor:shutdown/1)",
          "[supervisor][shutdown]") {
  using detail::stopped_as_asked;
  using k = shutdown_kind;
  caf::error normal{caf::exit_reason::normal};
  caf::error shut{caf::exit_reason::user_shutdown};
  caf::error kill{caf::exit_reason::kill};
  auto gave_up = make_error(errc::reached_max_restart_intensity, "sub");
  auto crash = make_error(errc::unhandled_exception, "boom");
  // The reason the supervisor sent is always fine.
  for (auto r : {restart::permanent, restart::transient, restart::temporary}) {
    INFO(to_string(r));
    CHECK(stopped_as_asked(k::brutal_kill, r, kill));
    CHECK(stopped_as_asked(k::timeout, r, shut));
    CHECK(stopped_as_asked(k::infinity, r, shut));
    CHECK(stopped_as_asked(k::infinity, r, gave_up));
    // Killed after the timeout, or crashed: reported.
    CHECK_FALSE(stopped_as_asked(k::timeout, r, kill));
    CHECK_FALSE(stopped_as_asked(k::timeout, r, crash));
    CHECK_FALSE(stopped_as_asked(k::brutal_kill, r, crash));
  }
  // A permanent child should never end by itself.
  CHECK_FALSE(stopped_as_asked(k::timeout, restart::permanent, normal));
  CHECK_FALSE(stopped_as_asked(k::brutal_kill, restart::permanent, normal));
  CHECK_FALSE(stopped_as_asked(k::brutal_kill, restart::permanent, shut));
  // The others may.
  CHECK(stopped_as_asked(k::timeout, restart::transient, normal));
  CHECK(stopped_as_asked(k::brutal_kill, restart::temporary, normal));
  CHECK(stopped_as_asked(k::brutal_kill, restart::transient, shut));
  // OTP's {shutdown, Term}: fine from a non-permanent child only, even to a
  // request to stop with plain shutdown.
  auto why = shutdown_reason(std::string{"draining"});
  CHECK_FALSE(stopped_as_asked(k::timeout, restart::permanent, why));
  CHECK_FALSE(stopped_as_asked(k::brutal_kill, restart::permanent, why));
  CHECK(stopped_as_asked(k::timeout, restart::transient, why));
  CHECK(stopped_as_asked(k::brutal_kill, restart::temporary, why));
}

TEST_CASE("a child stuck in a handler is abandoned so that shutdown finishes",
          "[supervisor][shutdown]") {
  fixture f;
  log_capture logs;
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto stuck = stuck_until(release);
  auto sup = f.start(supervisor("root")
                       .kill_timeout(100ms)
                       .child(worker("stuck", stuck)
                                .shutdown(shutdown::timeout(100ms))));
  auto hdl = f.actor_of(sup, "stuck");
  f.probe->send(hdl, 1);
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  auto errors = logs.reports("shutdown_error supervisor=root child=stuck");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("abandoned"));
  // Let the stuck actor go, so that the actor system can shut down.
  *release = true;
  f.probe->wait_for(hdl);
}

TEST_CASE("a supervisor that is killed takes its children with it",
          "[supervisor][shutdown]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(f.probed("a")).child(f.probed("b")));
  f.next_events(2);
  caf::anon_send_exit(sup, caf::exit_reason::kill);
  auto events = f.next_events(2);
  std::sort(events.begin(), events.end());
  CHECK(events == std::vector<std::string>{"stopped:a", "stopped:b"});
}

TEST_CASE("a tree whose children all misbehave still stops",
          "[supervisor][shutdown]") {
  fixture f;
  log_capture logs;
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto stuck = stuck_until(release);
  // Throws when asked to stop.
  auto thrower = [](caf::event_based_actor* self) -> caf::behavior {
    self->set_exit_handler([](caf::exit_msg&) {
      throw std::runtime_error("not now");
    });
    return {[](int x) { return x; }};
  };
  auto misbehaving = [&](const std::string& id) {
    return supervisor(id)
      .kill_timeout(100ms)
      .child(worker("ignores", stubborn_worker, id + "/ignores",
                    caf::actor{f.probe})
               .shutdown(shutdown::timeout(100ms)))
      .child(worker("stuck", stuck).shutdown(shutdown::timeout(100ms)))
      .child(worker("throws", thrower).shutdown(shutdown::timeout(100ms)))
      .child(worker("killed", stuck).shutdown(shutdown::brutal_kill()));
  };
  auto sup = f.start(misbehaving("root").child(misbehaving("inner")));
  // Occupy the stuck ones; the thread pool may have as few as two threads
  // (CAF's default is the cores, at least 4), so use one stuck child per
  // tree level at most: the others need a thread to be stopped.
  f.probe->send(f.actor_of(sup, "stuck"), 1);
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  // Each level reports the child that ignored its stop and the one that
  // threw; root also abandons its stuck child (inner's was idle and
  // stopped); brutal kills are not reported.
  for (std::string level : {"root", "root/inner"})
    for (std::string id : {"ignores", "throws"}) {
      INFO(level << "/" << id);
      CHECK(logs.reports("shutdown_error supervisor=" + level + " child=" + id)
              .size()
            == 1);
    }
  auto stuck_errors = logs.reports("shutdown_error supervisor=root child=stuck");
  REQUIRE(stuck_errors.size() == 1);
  CHECK_THAT(stuck_errors[0], Catch::Contains("abandoned"));
  CHECK(logs.reports("shutdown_error supervisor=root/inner child=stuck").empty());
  CHECK(logs.reports("shutdown_error supervisor=root child=killed").empty());
  CHECK(logs.reports("shutdown_error").size() == 5);
  *release = true;
}

TEST_CASE("shutdown_system gives up on actors that never end, within its "
          "time",
          "[supervisor][shutdown]") {
  fixture f;
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto forever = stuck_until(release);
  SECTION("a tree that stops") {
    auto sup = f.start(supervisor("root").child(f.probed("a")));
    // The fixture's probe is a scoped actor that stays.
    CHECK(!shutdown_system(f.sys, sup, 10s, 1));
    CHECK(f.sys.registry().running() == 1);
  }
  SECTION("a child stuck for good, with shutdown infinity") {
    auto sup = f.start(supervisor("root").child(
      worker("stuck", forever).detached(true).shutdown(shutdown::infinity())));
    f.probe->send(f.actor_of(sup, "stuck"), 1);
    auto err = shutdown_system(f.sys, sup, 300ms, 1);
    CHECK(is(err, errc::abandoned));
    // A real program would _Exit now; the test lets the actor go instead.
    *release = true;
    f.probe->wait_for(sup);
  }
}

TEST_CASE("stop_supervisor stops a tree in order with any reason, normal "
          "included",
          "[supervisor][shutdown]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .child(f.probed("a"))
                       .child(supervisor("sub").child(f.probed("x")))
                       .child(f.probed("b")));
  f.next_events(3);
  auto reason = GENERATE(caf::error{},
                         caf::error{caf::exit_reason::user_shutdown},
                         shutdown_reason(std::string{"upgrade"}));
  INFO(f.render(reason));
  CHECK(stop_supervisor(f.sys, sup, reason, patience) == caf::none);
  CHECK(await_exit(f.sys, sup) == reason);
  CHECK(f.next_events(3)
        == std::vector<std::string>{"stopped:b", "stopped:x", "stopped:a"});
}

// OTP: a supervisor started with start_link from a process is linked to it;
// when that parent exits, or sends it an exit signal, for any reason, normal
// included, the supervisor terminates its children in order and exits with
// that reason (gen_server's parent rule, supervisor_SUITE's sup_stop_*).
TEST_CASE("a tree started from inside an actor stops in order with its "
          "parent's reason, normal included, when the parent exits or "
          "signals",
          "[supervisor][shutdown][parent]") {
  fixture f;
  auto spec = supervisor("root").child(f.probed("a")).child(f.probed("b"));
  auto parent = f.sys.spawn(tree_parent, spec, caf::actor{f.probe});
  auto sup = tree_of(f.probe);
  CHECK(f.next_events(2) == std::vector<std::string>{"started:a", "started:b"});
  auto reason = GENERATE(caf::error{},
                         caf::error{caf::exit_reason::user_shutdown},
                         shutdown_reason(std::string{"upgrade"}));
  INFO(f.render(reason));
  SECTION("the parent exits") {
    f.probe->send(parent, quit_atom::value, reason);
  }
  SECTION("the parent sends an exit signal") {
    f.probe->send(parent, sup, reason);
  }
  auto result = await_exit(f.sys, sup, patience);
  CHECK(f.render(result) == f.render(reason));
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:b", "stopped:a"});
  f.probe->send_exit(parent, caf::exit_reason::kill);
}

// OTP: a supervisor that reaches its restart intensity exits with reason
// shutdown, which its link carries to the parent (ending it unless it traps
// exits): escalation.
TEST_CASE("a tree that gives up ends its parent, as OTP's link does",
          "[supervisor][shutdown][parent]") {
  fixture f;
  auto spec = supervisor("root").intensity(0).child(f.probed("a"));
  auto parent = f.sys.spawn(tree_parent, spec, caf::actor{f.probe});
  auto sup = tree_of(f.probe);
  f.next_event();
  f.probe->monitor(parent);
  f.crash(sup, "a");
  caf::error parent_reason;
  f.probe->receive(
    [&](caf::down_msg& msg) { parent_reason = std::move(msg.reason); },
    caf::after(patience) >> [] { FAIL("the parent did not end"); });
  CHECK(is(parent_reason, errc::reached_max_restart_intensity));
}

TEST_CASE("spawn_supervisor refuses a null parent",
          "[supervisor][shutdown][parent]") {
  fixture f;
  auto sup = spawn_supervisor(static_cast<caf::local_actor*>(nullptr),
                              supervisor("root").child(f.probed("a")));
  REQUIRE_FALSE(sup);
  CHECK(is(sup.error(), errc::not_found));
}

// OTP: a supervisor traps exits; an 'EXIT' from a process that is neither
// its parent nor a child changes nothing (OTP drops it; Trellis also writes
// a report, as OTP does for any other unexpected message).
TEST_CASE("a supervisor ignores and reports exit signals from strangers",
          "[supervisor][shutdown][parent]") {
  fixture f;
  log_capture logs;
  auto sup = f.start(supervisor("root")
                       .child(f.probed("a"))
                       .child(supervisor("sub").child(f.probed("x"))));
  f.next_events(2);
  auto a = f.actor_of(sup, "a");
  auto sub = f.actor_of(sup, "sub");
  // An actor's signal, even normal, is a stranger's to a root started
  // outside any actor; the supervisor above a nested one is its parent.
  f.probe->send_exit(sup, caf::exit_reason::user_shutdown);
  f.probe->send_exit(sup, caf::exit_reason::normal);
  f.probe->send_exit(sub, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  // A linked actor that fails (OTP: a stray link).
  auto stray = f.sys.spawn([sup](caf::event_based_actor* self) {
    self->link_to(sup);
    self->quit(make_error(errc::start_failed, "stray"));
  });
  auto lines = await_reports(logs, "exit_signal_ignored", 5);
  CHECK(logs.reports("exit_signal_ignored supervisor=root sender=").size()
        == 3);
  CHECK(logs.reports("exit_signal_ignored supervisor=root/sub sender=").size()
        == 2);
  CHECK(logs.reports("exit_signal_ignored supervisor=root/sub "
                     "sender=anonymous")
          .size()
        == 1);
  // Nothing stopped, nothing restarted.
  CHECK(f.actor_of(sup, "a") == a);
  CHECK(f.actor_of(sup, "sub") == sub);
  CHECK(f.child(sup, "sub").restart_count == 0);
  CHECK(f.actor_of(sub, "x"));
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:x", "stopped:a"});
}

TEST_CASE("a tree started outside any actor stops on an anonymous exit "
          "signal, its program's",
          "[supervisor][shutdown][parent]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(f.probed("a")));
  f.next_event();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  CHECK(await_exit(f.sys, sup, patience) == caf::exit_reason::user_shutdown);
  CHECK(f.next_event() == "stopped:a");
}

// A child of an unexpected kind: a factory that starts a tree of its own
// rather than nesting a supervisor spec. That supervisor's parent is the
// program, so it would ignore its supervisor's exit signal; it is asked to
// stop by message instead, and stops in order, with no timeout to wait.
TEST_CASE("a tree that a factory started on its own stops with the "
          "supervisor it was returned to",
          "[supervisor][shutdown][parent]") {
  fixture f;
  log_capture logs;
  auto inner = supervisor("inner").child(f.probed("x")).child(f.probed("y"));
  auto sup = f.start(supervisor("root").child(
    worker("own_tree",
           [inner](child_context& ctx) -> start_result {
             auto own = spawn_supervisor(ctx.system(), inner);
             if (!own)
               return own.error();
             return *own;
           })
      .shutdown(shutdown::infinity())));
  CHECK(f.next_events(2) == std::vector<std::string>{"started:x", "started:y"});
  CHECK(stop_and_await(f.sys, sup, caf::exit_reason::user_shutdown, patience)
        == caf::exit_reason::user_shutdown);
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:y", "stopped:x"});
  CHECK(logs.reports("exit_signal_ignored").empty());
  CHECK(logs.reports("shutdown_error").empty());
}
