#include "bench_actors.hpp"

#include <stdexcept>
#include <string>
#include <unordered_map>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "trellis/all.hpp"

namespace trellis::bench {

bench_config::bench_config() {
  trellis::configure(*this);
  set("logger.verbosity", caf::atom("quiet"));
  set("scheduler.max-threads", size_t{2});
}

void setup_reports(reports_mode x) {
  if (x == reports_mode::null_sink) {
    // Registered under Trellis' name before Trellis creates its own, so
    // that Trellis adopts it: reports are rendered, then dropped.
    auto log = spdlog::create<spdlog::sinks::null_sink_mt>(logger_name);
    // Trellis' default level (see `set_log_level`): crash reports are
    // rendered, progress reports are not.
    log->set_level(spdlog::level::warn);
  }
  if (x == reports_mode::off)
    set_log_level(log_level::off);
}

// -- children -----------------------------------------------------------------

caf::behavior announcing_child(caf::event_based_actor* self, caf::actor driver,
                               int32_t index) {
  self->send(driver, announce_atom::value, index);
  return {
    [](int32_t x) { return x; },
    [](crash_atom) { throw std::runtime_error("crash asked by the bench"); },
  };
}

namespace {

caf::error bare_exception_handler(caf::scheduled_actor*,
                                  std::exception_ptr& x) {
  try {
    std::rethrow_exception(x);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
  } catch (...) {
    return caf::make_error(caf::sec::runtime_error);
  }
}

} // namespace

caf::behavior bare_announcing_child(caf::event_based_actor* self,
                                    caf::actor driver, int32_t index) {
  self->set_exception_handler(bare_exception_handler);
  return announcing_child(self, std::move(driver), index);
}

caf::behavior idle_child(caf::event_based_actor*) {
  return {[](int32_t x) { return x; }};
}

// -- kicking driver -----------------------------------------------------------

namespace {

struct kicker_state {
  kick_plan plan;
  std::shared_ptr<kick_record> out;
  /// The current incarnation of each child.
  std::vector<caf::actor> children;
  /// First announcements seen, until all children announced once.
  int32_t announced = 0;
  bool running = false;
  /// Whether the warmup was played (by the first run).
  bool warmed = false;
  /// Rounds of the current run, and the unmeasured ones among them.
  size_t round = 0;
  size_t unmeasured = 0;
  /// Announcements in the current round.
  size_t got = 0;
  clock::time_point round_start;
  clock::time_point measure_start;
  caf::response_promise done;
};

using kicker_actor = caf::stateful_actor<kicker_state>;

void start_round(kicker_actor* self) {
  auto& st = self->state;
  st.got = 0;
  st.round_start = clock::now();
  if (st.round == st.unmeasured)
    st.measure_start = st.round_start;
  for (auto i : st.plan.targets) {
    auto& child = st.children[static_cast<size_t>(i)];
    if (st.plan.kick == kick::kill)
      self->send_exit(child, caf::exit_reason::kill);
    else
      self->send(child, crash_atom::value);
  }
}

void end_round(kicker_actor* self) {
  auto& st = self->state;
  auto now = clock::now();
  if (st.round >= st.unmeasured)
    st.out->round_seconds.push_back(seconds_between(st.round_start, now));
  if (++st.round < st.unmeasured + st.plan.rounds) {
    start_round(self);
    return;
  }
  st.out->total_seconds += seconds_between(st.measure_start, now);
  st.running = false;
  st.done.deliver(caf::ok_atom::value);
}

caf::behavior kicker(kicker_actor* self, kick_plan plan,
                     std::shared_ptr<kick_record> out) {
  auto& st = self->state;
  st.children.resize(static_cast<size_t>(plan.children));
  st.plan = std::move(plan);
  st.out = std::move(out);
  auto ready = [self] {
    return self->state.announced == self->state.plan.children;
  };
  return {
    [self, ready](announce_atom, int32_t index) {
      auto& s = self->state;
      s.children[static_cast<size_t>(index)]
        = caf::actor_cast<caf::actor>(self->current_sender());
      if (!ready()) {
        if (++s.announced == s.plan.children && s.running)
          start_round(self);
        return;
      }
      if (s.running && ++s.got == s.plan.expect)
        end_round(self);
    },
    [self, ready](run_atom) {
      auto& s = self->state;
      s.done = self->make_response_promise();
      s.running = true;
      s.round = 0;
      s.unmeasured = s.warmed ? 0 : s.plan.warmup;
      s.warmed = true;
      if (ready())
        start_round(self);
    },
  };
}

} // namespace

caf::actor spawn_kicker(caf::actor_system& sys, kick_plan plan,
                        std::shared_ptr<kick_record> out) {
  return sys.spawn(kicker, std::move(plan), std::move(out));
}

extras round_latencies(const kick_record& x) {
  std::vector<double> us;
  us.reserve(x.round_seconds.size());
  for (auto s : x.round_seconds)
    us.push_back(s * 1e6);
  return {{"p50_us", percentile(us, 50)}, {"p99_us", percentile(us, 99)}};
}

namespace {

/// Sends `request` to `dest` and waits for `caf::ok_atom`; throws `what`
/// and the error otherwise.
void request_ok(caf::actor_system& sys, const caf::actor& dest,
                caf::message request, const char* what) {
  caf::scoped_actor self{sys};
  caf::error failure;
  self->request(dest, patience, std::move(request))
    .receive([](caf::ok_atom) {},
             [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    throw std::runtime_error(what + (": " + sys.render(failure)));
}

} // namespace

void run_and_wait(caf::actor_system& sys, const caf::actor& driver) {
  request_ok(sys, driver, caf::make_message(run_atom::value),
             "driver failed");
}

// -- hand-written baselines ---------------------------------------------------

namespace {

struct one_for_one_state {
  caf::actor driver;
  std::vector<caf::actor> children;
  std::unordered_map<caf::actor_addr, int32_t> index_of;
};

using one_for_one_actor = caf::stateful_actor<one_for_one_state>;

void respawn(one_for_one_actor* self, int32_t i) {
  auto& st = self->state;
  auto child = self->spawn(bare_announcing_child, st.driver, i);
  self->monitor(child);
  st.index_of.emplace(child.address(), i);
  st.children[static_cast<size_t>(i)] = std::move(child);
}

/// Kills every child in `xs` and ends `self`: the baselines' stop.
template <class Self>
void kill_all_and_quit(Self* self, std::vector<caf::actor>& xs) {
  for (auto& x : xs)
    if (x)
      self->send_exit(x, caf::exit_reason::kill);
  xs.clear();
  self->quit();
}

caf::behavior bare_one_for_one(one_for_one_actor* self, caf::actor driver,
                               int32_t n) {
  self->state.driver = std::move(driver);
  self->state.children.resize(static_cast<size_t>(n));
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.index_of.find(msg.source);
    if (i == st.index_of.end())
      return;
    auto index = i->second;
    st.index_of.erase(i);
    respawn(self, index);
  });
  for (int32_t i = 0; i < n; ++i)
    respawn(self, i);
  return {
    [self](stop_atom) {
      kill_all_and_quit(self, self->state.children);
      return caf::ok_atom::value;
    },
  };
}

struct one_for_all_state {
  caf::actor driver;
  std::vector<caf::actor> children;
  /// The child whose stop the restart awaits, or -1 while all run.
  int32_t stopping = -1;
};

using one_for_all_actor = caf::stateful_actor<one_for_all_state>;

void spawn_all(one_for_all_actor* self) {
  auto& st = self->state;
  for (size_t i = 0; i < st.children.size(); ++i) {
    st.children[i] = self->spawn(bare_announcing_child, st.driver,
                                 static_cast<int32_t>(i));
    self->monitor(st.children[i]);
  }
}

// Stops the newest running child at or below `i`; spawns all once none is
// left.
void stop_from(one_for_all_actor* self, int32_t i) {
  auto& st = self->state;
  while (i >= 0 && !st.children[static_cast<size_t>(i)])
    --i;
  st.stopping = i;
  if (i < 0) {
    spawn_all(self);
    return;
  }
  self->send_exit(st.children[static_cast<size_t>(i)],
                  caf::exit_reason::user_shutdown);
}

caf::behavior bare_one_for_all(one_for_all_actor* self, caf::actor driver,
                               int32_t n) {
  self->state.driver = std::move(driver);
  self->state.children.resize(static_cast<size_t>(n));
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.stopping >= 0) {
      auto& c = st.children[static_cast<size_t>(st.stopping)];
      if (msg.source != c.address())
        return;
      c = nullptr;
      stop_from(self, st.stopping - 1);
      return;
    }
    for (auto& c : st.children) {
      if (c && c.address() == msg.source) {
        c = nullptr;
        stop_from(self, static_cast<int32_t>(st.children.size()) - 1);
        return;
      }
    }
  });
  spawn_all(self);
  return {
    [self](stop_atom) {
      kill_all_and_quit(self, self->state.children);
      return caf::ok_atom::value;
    },
  };
}

struct parent_state {
  std::vector<caf::actor> children;
  size_t window = 0;
  size_t next_stop = 0;
  size_t in_flight = 0;
  size_t alive = 0;
  bool stopping = false;
  caf::response_promise stopped;
};

using parent_actor = caf::stateful_actor<parent_state>;

void continue_stop(parent_actor* self) {
  auto& st = self->state;
  while (st.in_flight < st.window && st.next_stop < st.children.size()) {
    ++st.in_flight;
    self->send_exit(st.children[st.next_stop++],
                    caf::exit_reason::user_shutdown);
  }
  if (st.alive == 0) {
    st.stopped.deliver(caf::ok_atom::value);
    self->quit();
  }
}

caf::behavior bare_parent(parent_actor* self, size_t window) {
  self->state.window = window;
  self->set_down_handler([self](caf::down_msg&) {
    auto& st = self->state;
    --st.alive;
    if (st.stopping) {
      --st.in_flight;
      continue_stop(self);
    }
  });
  return {
    [self](spawn_atom) {
      auto& st = self->state;
      auto child = self->spawn(idle_child);
      self->monitor(child);
      st.children.push_back(child);
      ++st.alive;
      return child;
    },
    [self](stop_atom) {
      auto& st = self->state;
      st.stopped = self->make_response_promise();
      st.stopping = true;
      continue_stop(self);
    },
  };
}

} // namespace

caf::actor spawn_bare_one_for_one(caf::actor_system& sys, caf::actor driver,
                                  int32_t n) {
  return sys.spawn(bare_one_for_one, std::move(driver), n);
}

caf::actor spawn_bare_one_for_all(caf::actor_system& sys, caf::actor driver,
                                  int32_t n) {
  return sys.spawn(bare_one_for_all, std::move(driver), n);
}

caf::actor spawn_bare_parent(caf::actor_system& sys, size_t window) {
  return sys.spawn(bare_parent, window);
}

void stop_bare(caf::actor_system& sys, const caf::actor& bare) {
  caf::scoped_actor self{sys};
  self->monitor(bare);
  request_ok(sys, bare, caf::make_message(stop_atom::value),
             "baseline did not stop");
  bool gone = false;
  self->receive([&](caf::down_msg&) { gone = true; },
                caf::after(patience) >> [] {});
  if (!gone)
    throw std::runtime_error("baseline did not exit");
}

} // namespace trellis::bench
