// Restarts: a driver crashes children and waits until their replacements
// announce themselves, under a Trellis supervisor and under a hand-written
// monitor-and-respawn actor in the same actor system, in alternating
// blocks.

#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>
#include <string>

#include "bench_actors.hpp"
#include "cases.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace trellis::bench {

namespace {

/// Blocks per side and repetition (see `interleave`).
constexpr size_t blocks = 20;

/// The supervisor a restart case runs: its strategy, children and budget.
struct tree_shape {
  trellis::strategy strategy = trellis::strategy::one_for_one;
  int32_t children = 1;
  int intensity = 100'000'000;
  caf::timespan period = 1ms;
  /// Trellis' children keep their mailboxes (`child_spec::keep_mailbox`).
  bool keep_mailbox = false;
};

/// Spawns the driver of a tree; it fills the record.
using driver_factory = std::function<caf::actor(
  caf::actor_system&, std::shared_ptr<kick_record>)>;

/// A tree (Trellis' or the baseline's) with the driver that crashes its
/// children.
struct kicked_tree {
  std::shared_ptr<kick_record> rec = std::make_shared<kick_record>();
  caf::actor driver;
  caf::actor root;
  bool is_trellis = true;

  /// Spawns a driver playing `plan` and the tree it kicks: a Trellis
  /// supervisor of `shape`, or else the hand-written baseline.
  kicked_tree(caf::actor_system& sys, const tree_shape& shape,
              const driver_factory& make_driver, bool trellis)
    : driver(make_driver(sys, rec)), is_trellis(trellis) {
    if (!trellis) {
      root = shape.strategy == trellis::strategy::one_for_all
               ? spawn_bare_one_for_all(sys, driver, shape.children)
               : spawn_bare_one_for_one(sys, driver, shape.children);
      return;
    }
    auto spec = supervisor("bench")
                  .strategy(shape.strategy)
                  .intensity(shape.intensity)
                  .period(shape.period);
    for (int32_t i = 0; i < shape.children; ++i)
      spec.child(worker("c" + std::to_string(i), announcing_child, driver, i)
                   .keep_mailbox(shape.keep_mailbox));
    auto sup = start_supervisor(sys, spec);
    if (!sup)
      throw std::runtime_error("tree did not start: "
                               + sys.render(sup.error()));
    root = *sup;
  }

  void stop(caf::actor_system& sys) {
    if (is_trellis)
      stop_supervisor(sys, root);
    else
      stop_bare(sys, root);
    caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
  }

  /// The rate of `per_round` restarts (or cycles) a round over all runs,
  /// with the rounds' latency percentiles.
  sample rate(double per_round) const {
    if (rec->total_seconds == 0) // Not measured (--only).
      return {};
    auto rounds = static_cast<double>(rec->round_seconds.size());
    return {rounds * per_round / rec->total_seconds, round_latencies(*rec)};
  }
};

/// Drivers that play `plan`.
driver_factory kicking(const kick_plan& plan) {
  return [plan](caf::actor_system& sys, std::shared_ptr<kick_record> rec) {
    return spawn_kicker(sys, plan, std::move(rec));
  };
}

/// One repetition: trees `a` and `b` in one actor system, each played by a
/// driver of `make_driver`, in alternating blocks of its rounds.
std::pair<sample, sample> one_rep(int rep, const tree_shape& a_shape,
                                  bool a_trellis, const tree_shape& b_shape,
                                  bool b_trellis,
                                  const driver_factory& make_driver,
                                  double per_round) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  kicked_tree a{sys, a_shape, make_driver, a_trellis};
  kicked_tree b{sys, b_shape, make_driver, b_trellis};
  interleave(
    rep, blocks, [&] { run_and_wait(sys, a.driver); },
    [&] { run_and_wait(sys, b.driver); });
  a.stop(sys);
  b.stop(sys);
  return {a.rate(per_round), b.rate(per_round)};
}

/// Trellis against the hand-written baseline, both running `plan` on
/// `shape`.
result against_baseline(const options& opts, std::string name,
                        std::string unit, double target,
                        const tree_shape& shape, const kick_plan& plan,
                        double per_round) {
  auto m = paired(opts.reps, [&](int rep) {
    return one_rep(rep, shape, true, shape, false, kicking(plan), per_round);
  });
  return compare(std::move(name), std::move(unit), target, better::higher, m);
}

kick_plan cycle_plan(const options& opts, kick how) {
  kick_plan plan;
  plan.warmup = opts.scaled(1'000);
  plan.rounds = opts.scaled(1'000);
  plan.kick = how;
  return plan;
}

result restart_cycle(const options& opts) {
  return against_baseline(opts, "restart_cycle", "restarts/s", 0.95,
                          tree_shape{}, cycle_plan(opts, kick::kill), 1);
}

result restart_cycle_exception(const options& opts) {
  return against_baseline(opts, "restart_cycle_exception", "restarts/s", 0.90,
                          tree_shape{}, cycle_plan(opts, kick::exception), 1);
}

result restart_budget_flat(const options& opts) {
  // The hour remembers every restart of the repetition, the warmup's
  // included (50,000 by its end); the millisecond only the last few.
  auto plan = cycle_plan(opts, kick::kill);
  plan.warmup = opts.scaled(30'000);
  tree_shape hour;
  hour.period = 1h;
  tree_shape millisecond;
  millisecond.period = 1ms;
  auto m = paired(opts.reps, [&](int rep) {
    return one_rep(rep, hour, true, millisecond, true, kicking(plan), 1);
  });
  return compare("restart_budget_flat", "restarts/s", 0.9, better::higher, m);
}

result restart_storm(const options& opts) {
  tree_shape shape;
  shape.children = 1'000;
  kick_plan plan;
  plan.children = shape.children;
  plan.targets.clear();
  for (int32_t i = 0; i < shape.children; ++i)
    plan.targets.push_back(i);
  plan.expect = static_cast<size_t>(shape.children);
  plan.warmup = 1;
  plan.rounds = opts.scaled(1);
  return against_baseline(opts, "restart_storm", "restarts/s", 0.90, shape,
                          plan, shape.children);
}

result one_for_all_100(const options& opts) {
  tree_shape shape;
  shape.strategy = trellis::strategy::one_for_all;
  shape.children = 100;
  kick_plan plan;
  plan.children = shape.children;
  plan.expect = static_cast<size_t>(shape.children);
  plan.warmup = 5;
  plan.rounds = opts.scaled(15);
  return against_baseline(opts, "one_for_all_100", "cycles/s", 0.85, shape,
                          plan, 1);
}

/// What a replaying driver plays: each round crashes the child with `queued`
/// requests behind the crash, and ends once every request was answered and
/// the next incarnation announced itself; the first run plays `warmup`
/// rounds more, unmeasured.
struct replay_plan {
  int32_t queued = 100;
  size_t warmup = 0;
  size_t rounds = 1;
};

struct replayer_state {
  replay_plan plan;
  std::shared_ptr<kick_record> out;
  /// The child's current incarnation.
  caf::actor child;
  /// Whether the round's next incarnation announced itself.
  bool fresh = false;
  /// Requests whose incarnation ended before it answered, for the next one.
  std::vector<int32_t> retry;
  int32_t answered = 0;
  bool running = false;
  bool warmed = false;
  size_t round = 0;
  size_t unmeasured = 0;
  clock::time_point round_start;
  clock::time_point measure_start;
  caf::response_promise done;
};

using replayer_actor = caf::stateful_actor<replayer_state>;

void replay_round(replayer_actor* self);

void round_done(replayer_actor* self) {
  auto& st = self->state;
  if (!st.fresh || st.answered < st.plan.queued)
    return;
  auto now = clock::now();
  if (st.round >= st.unmeasured)
    st.out->round_seconds.push_back(seconds_between(st.round_start, now));
  if (++st.round < st.unmeasured + st.plan.rounds) {
    replay_round(self);
    return;
  }
  st.out->total_seconds += seconds_between(st.measure_start, now);
  st.running = false;
  st.done.deliver(caf::ok_atom::value);
}

/// Asks the current incarnation for `x`; what its incarnation did not
/// answer goes to the next one, as code that keeps no mailbox must do.
void ask_child(replayer_actor* self, int32_t x) {
  self->request(self->state.child, caf::infinite, x)
    .then(
      [self](int32_t) {
        ++self->state.answered;
        round_done(self);
      },
      [self, x](caf::error& err) {
        auto& st = self->state;
        if (err != caf::sec::request_receiver_down) {
          st.done.deliver(std::move(err));
          self->quit();
        } else if (st.fresh) {
          ask_child(self, x);
        } else {
          st.retry.push_back(x);
        }
      });
}

void replay_round(replayer_actor* self) {
  auto& st = self->state;
  st.answered = 0;
  st.fresh = false;
  st.round_start = clock::now();
  if (st.round == st.unmeasured)
    st.measure_start = st.round_start;
  self->send(st.child, crash_atom::value);
  for (int32_t x = 0; x < st.plan.queued; ++x)
    ask_child(self, x);
}

caf::behavior replayer(replayer_actor* self, replay_plan plan,
                       std::shared_ptr<kick_record> out) {
  self->state.plan = plan;
  self->state.out = std::move(out);
  return {
    [self](announce_atom, int32_t) {
      auto& st = self->state;
      auto first = !st.child;
      st.child = caf::actor_cast<caf::actor>(self->current_sender());
      if (first) {
        if (st.running)
          replay_round(self);
        return;
      }
      st.fresh = true;
      for (auto x : std::exchange(st.retry, {}))
        ask_child(self, x);
      round_done(self);
    },
    [self](run_atom) {
      auto& st = self->state;
      st.done = self->make_response_promise();
      st.running = true;
      st.round = 0;
      st.unmeasured = st.warmed ? 0 : st.plan.warmup;
      st.warmed = true;
      if (st.child)
        replay_round(self);
    },
  };
}

result restart_keep_mailbox(const options& opts) {
  replay_plan plan;
  plan.warmup = opts.scaled(200);
  plan.rounds = opts.scaled(300);
  driver_factory replaying = [plan](caf::actor_system& sys,
                                    std::shared_ptr<kick_record> rec) {
    return sys.spawn(replayer, plan, std::move(rec));
  };
  tree_shape kept;
  kept.keep_mailbox = true;
  auto m = paired(opts.reps, [&](int rep) {
    return one_rep(rep, kept, true, tree_shape{}, false, replaying, 1);
  });
  return compare("restart_keep_mailbox", "restarts/s", 1.0, better::higher, m);
}

} // namespace

void add_restart_cases(std::vector<bench_case>& xs) {
  xs.push_back({"restart_cycle",
                "one_for_one, one permanent child killed and replaced",
                120s, restart_cycle});
  xs.push_back({"restart_cycle_exception",
                "the same, the child throws inside its handler", 120s,
                restart_cycle_exception});
  xs.push_back({"restart_budget_flat",
                "restart_cycle, intensity 1e8 over 1 h against over 1 ms",
                180s, restart_budget_flat});
  xs.push_back({"restart_storm",
                "1,000 one_for_one children killed at once, all replaced",
                120s, restart_storm});
  xs.push_back({"restart_keep_mailbox",
                "restart_cycle_exception with 100 requests queued behind the "
                "crash, kept against re-sent by hand",
                120s, restart_keep_mailbox});
  xs.push_back({"one_for_all_100",
                "100 one_for_all children, one killed, all restarted", 120s,
                one_for_all_100});
}

} // namespace trellis::bench
