// The chaos soak: a three-level tree of about 1,000 actors, every restart
// type and strategy, under random faults while traffic flows through stable
// handles, while a database that 40 workers depend on is down (storm
// control). TRELLIS_SOAK_SECONDS sets how long the faults go on (default 3;
// `./dev soak SECONDS` for long runs).

#include "test_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "trellis/dependency.hpp"
#include "trellis/incident.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using stop_atom = caf::atom_constant<caf::atom("stop")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using query_atom = caf::atom_constant<caf::atom("query")>;

/// The database of the `deps` subtree, which the soak takes down.
using backend = std::shared_ptr<std::atomic<bool>>;

/// A worker that needs the database: its start fails while it is down, and
/// a query then crashes it.
child_spec db_user(const std::string& id, backend up) {
  return worker(id,
                [up](child_context& ctx) -> start_result {
                  if (!*up)
                    return make_error(errc::unhealthy, "db unreachable");
                  return ctx.spawn([up](caf::event_based_actor*) -> caf::behavior {
                    return {
                      [up](query_atom) {
                        if (!*up)
                          throw std::runtime_error("db unreachable");
                      },
                    };
                  });
                })
    .depends_on("db");
}

/// What the workers saw: per path, the last sequence number, and how often
/// one arrived out of order.
struct order_book {
  std::mutex mtx;
  std::unordered_map<std::string, int64_t> last;
  int64_t violations = 0;
};

caf::behavior echo(caf::event_based_actor*, std::string path,
                   std::shared_ptr<order_book> book) {
  return {
    [=](int64_t seq) {
      std::lock_guard<std::mutex> guard{book->mtx};
      auto& last = book->last[path];
      if (seq <= last)
        ++book->violations;
      last = seq;
      return seq;
    },
  };
}

const restart restart_types[] = {restart::permanent, restart::transient,
                                 restart::temporary};
const strategy strategies[] = {strategy::one_for_one, strategy::one_for_all,
                               strategy::rest_for_one};

constexpr int subtrees_per_group = 10;
constexpr int workers_per_subtree = 30;
constexpr int sessions = 100;
constexpr int fragile_intensity = 3;
constexpr int kept_workers = 10;
constexpr int db_users = 40;
/// Less than `db_users`: without storm control the outage escalates.
constexpr int deps_intensity = 20;

/// root
///   g_<strategy> x3            (level 1; strategies differ)
///     s<j> x10                 (level 2; strategies cycle)
///       <restart type>_<k> x30 (level 3; restart types cycle)
///   g_sessions                 (a dynamic supervisor, 100 transient children)
///   fragile                    (intensity 3: escalates as the rule says)
///   kept                       (10 workers that keep their mailboxes)
///   deps                       (40 workers of one database, which goes down)
supervisor_spec soak_tree(const std::shared_ptr<order_book>& book,
                          std::vector<std::string>& stable_paths,
                          std::vector<std::string>& kept_paths, backend db) {
  auto root = supervisor("root").intensity(1'000'000).period(1h);
  for (auto st : strategies) {
    auto g = supervisor("g_" + to_string(st))
               .strategy(st)
               .intensity(1'000'000)
               .period(1h);
    for (int j = 0; j < subtrees_per_group; ++j) {
      auto s = supervisor("s" + std::to_string(j))
                 .strategy(strategies[j % 3])
                 .intensity(1'000'000)
                 .period(1h);
      for (int k = 0; k < workers_per_subtree; ++k) {
        auto type = restart_types[k % 3];
        auto id = to_string(type) + "_" + std::to_string(k);
        auto path = "root/" + g.id() + "/" + s.id() + "/" + id;
        s.child(worker(id, echo, path, book).restart(type));
        if (k == 0)
          stable_paths.push_back(path);
      }
      g.child(s);
    }
    root.child(g);
  }
  root.child(dynamic_supervisor(
               "g_sessions",
               worker("echo",
                      [book](child_context& ctx) -> start_result {
                        return ctx.spawn(echo, ctx.path(), book);
                      })
                 .restart(restart::transient))
               .intensity(1'000'000)
               .period(1h));
  root.child(supervisor("fragile")
               .intensity(fragile_intensity)
               .period(1h)
               .child(worker("w", echo, std::string{"root/fragile/w"}, book)));
  auto kept = supervisor("kept").intensity(1'000'000).period(1h);
  for (int k = 0; k < kept_workers; ++k) {
    auto id = "k" + std::to_string(k);
    kept_paths.push_back("root/kept/" + id);
    kept.child(worker(id, echo, kept_paths.back(), book).keep_mailbox(true));
  }
  root.child(kept);
  auto deps = supervisor("deps").intensity(deps_intensity).period(1h);
  for (int k = 0; k < db_users; ++k)
    deps.child(db_user("d" + std::to_string(k), db));
  root.child(deps);
  return root;
}

/// Keeps four requests in flight per stable handle, each with the next
/// sequence number, until told to stop; then answers once all are resolved.
struct traffic_state {
  std::vector<caf::actor> handles;
  std::vector<int64_t> next;
  int64_t sent = 0;
  int64_t replied = 0;
  int64_t timeouts = 0;
  /// Requests that died in a dead incarnation's mailbox.
  int64_t receiver_down = 0;
  /// Requests failed with `not_found`: the handle took its child for gone.
  int64_t not_found = 0;
  /// Any other error, by its text.
  std::map<std::string, int64_t> errors;
  size_t in_flight = 0;
  bool stopping = false;
  std::optional<caf::response_promise> drained;
};

void fire(caf::stateful_actor<traffic_state>* self, size_t i);

void resolved(caf::stateful_actor<traffic_state>* self, size_t i) {
  auto& st = self->state;
  --st.in_flight;
  if (!st.stopping)
    fire(self, i);
  else if (st.in_flight == 0 && st.drained)
    st.drained->deliver(caf::ok_atom::value);
}

void fire(caf::stateful_actor<traffic_state>* self, size_t i) {
  auto& st = self->state;
  auto seq = ++st.next[i];
  ++st.sent;
  ++st.in_flight;
  self->request(st.handles[i], 10s, seq)
    .then([self, i](int64_t) {
            ++self->state.replied;
            resolved(self, i);
          },
          [self, i](caf::error& err) {
            auto& ts = self->state;
            if (err == caf::sec::request_timeout)
              ++ts.timeouts;
            else if (err == caf::sec::request_receiver_down)
              ++ts.receiver_down;
            else if (is(err, errc::not_found))
              ++ts.not_found;
            else
              ++ts.errors[self->system().render(err)];
            resolved(self, i);
          });
}

caf::behavior traffic(caf::stateful_actor<traffic_state>* self,
                      std::vector<caf::actor> handles) {
  self->state.next.assign(handles.size(), 0);
  self->state.handles = std::move(handles);
  for (size_t i = 0; i < self->state.handles.size(); ++i)
    for (int k = 0; k < 4; ++k)
      fire(self, i);
  return {
    [self](stop_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      st.stopping = true;
      if (st.in_flight == 0)
        return caf::ok_atom::value;
      st.drained = self->make_response_promise();
      return *st.drained;
    },
    [self](stats_atom) {
      auto& st = self->state;
      return caf::make_message(st.sent, st.replied, st.timeouts,
                               st.receiver_down, st.not_found,
                               caf::deep_to_string(st.errors));
    },
  };
}

/// What a traffic actor counted (see `traffic_state`).
struct traffic_stats {
  int64_t sent = 0;
  int64_t replied = 0;
  int64_t timeouts = 0;
  int64_t receiver_down = 0;
  int64_t not_found = 0;
  std::string errors;
};

traffic_stats stats_of(fixture& f, const caf::actor& load) {
  traffic_stats x;
  f.probe->request(load, patience, stats_atom::value)
    .receive(
      [&](int64_t sent, int64_t replied, int64_t timeouts,
          int64_t receiver_down, int64_t not_found, std::string& errors) {
        x = traffic_stats{sent,          replied,   timeouts,
                          receiver_down, not_found, std::move(errors)};
      },
      [](caf::error& err) { FAIL("traffic's stats: " << to_string(err)); });
  return x;
}

/// Records every lifecycle event of the tree (spawned in its group, so
/// that it sees every event after the spawn).
struct recorder_state {
  std::vector<lifecycle_event> events;
};

caf::behavior recorder(caf::stateful_actor<recorder_state>* self) {
  return {
    [self](lifecycle_event& ev) { self->state.events.push_back(std::move(ev)); },
    [self](caf::get_atom) { return self->state.events; },
  };
}

std::string leaf(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

/// Every child of a tree by path.
std::map<std::string, const tree_snapshot*> by_path(const tree_snapshot& x) {
  std::map<std::string, const tree_snapshot*> result;
  std::function<void(const tree_snapshot&)> walk = [&](const tree_snapshot& y) {
    result.emplace(y.path, &y);
    for (auto& z : y.children)
      walk(z);
  };
  walk(x);
  return result;
}

bool is_fault(const caf::error& reason) {
  if (reason == caf::exit_reason::kill)
    return true;
  auto details = crash_details_of(reason);
  return details && details->type == "trellis::injected_fault";
}

int soak_seconds() {
  auto env = std::getenv("TRELLIS_SOAK_SECONDS");
  return env ? std::max(1, std::atoi(env)) : 3;
}

/// Waits until every permanent and transient child in the tree runs.
tree_snapshot await_healed(fixture& f, const caf::actor& root) {
  for (int i = 0; i < 2000; ++i) {
    auto snap = snapshot(f.sys, root);
    REQUIRE(snap);
    bool healed = true;
    std::function<void(const tree_snapshot&)> walk = [&](const tree_snapshot& x) {
      if (x.restart_type != restart::temporary
          && x.state != child_state::running)
        healed = false;
      for (auto& y : x.children)
        walk(y);
    };
    walk(*snap);
    if (healed)
      return *snap;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("the tree did not heal");
  return {};
}

} // namespace

TEST_CASE("a tree of about 1,000 actors heals under random faults while "
          "traffic flows",
          "[soak]") {
  fixture f;
  auto baseline = f.sys.registry().running();
  auto book = std::make_shared<order_book>();
  std::vector<std::string> stable_paths;
  std::vector<std::string> kept_paths;
  REQUIRE_FALSE(declare_dependency(f.sys, dependency_policy{"db"}
                                            .incident_after(3, 10s)
                                            .probe_after(100ms, 1s)
                                            .settle(200ms)
                                            .resume_over(500ms)));
  auto db = std::make_shared<std::atomic<bool>>(true);
  auto root = f.start(soak_tree(book, stable_paths, kept_paths, db));
  auto group = lifecycle_events(f.sys, root);
  REQUIRE(group);
  auto rec = f.sys.spawn_in_group(*group, recorder);
  f.probe->join(*group);
  auto sessions_sup = lookup(f.sys, root, "root/g_sessions");
  REQUIRE(sessions_sup);
  for (int i = 0; i < sessions; ++i)
    REQUIRE(start_child(f.sys, *sessions_sup, caf::make_message()));
  auto initial = snapshot(f.sys, root);
  REQUIRE(initial);
  size_t actors = 0;
  std::function<void(const tree_snapshot&)> count = [&](const tree_snapshot& x) {
    ++actors;
    for (auto& y : x.children)
      count(y);
  };
  count(*initial);
  CHECK(actors > 1000);
  // Traffic through stable handles, which promise order and no silent loss.
  std::vector<caf::actor> handles;
  auto handles_to = [&](const std::vector<std::string>& paths) {
    std::vector<caf::actor> result;
    for (auto& path : paths) {
      auto h = stable_handle(f.sys, root, path, 10'000);
      REQUIRE(h);
      result.push_back(*h);
      handles.push_back(*h);
    }
    return result;
  };
  auto load = f.sys.spawn(traffic, handles_to(stable_paths));
  auto kept_load = f.sys.spawn(traffic, handles_to(kept_paths));
  // Faults everywhere but the fragile subtree, supervisors included.
  chaos_config cfg;
  cfg.seed = 2026;
  cfg.interval = 2ms;
  cfg.kinds = {fault_kind::kill, fault_kind::exception,
               fault_kind::start_failure, fault_kind::slow_start};
  cfg.under = "root/g_";
  cfg.supervisors = true;
  cfg.duration = 1ms;
  auto monkey = spawn_chaos_monkey(f.sys, root, cfg);
  // Kills and exceptions on the workers that keep their mailboxes.
  chaos_config kept_cfg;
  kept_cfg.seed = 2027;
  kept_cfg.interval = 2ms;
  kept_cfg.kinds = {fault_kind::kill, fault_kind::exception};
  kept_cfg.under = "root/kept/";
  auto kept_monkey = spawn_chaos_monkey(f.sys, root, kept_cfg);
  // The database goes down for the length of the fault schedule, and every
  // worker of it fails.
  *db = false;
  auto deps_sup = lookup(f.sys, root, "root/deps");
  REQUIRE(deps_sup);
  for (auto& x : f.children(*deps_sup))
    f.probe->send(x.actor, query_atom::value);
  // Meanwhile, the fragile subtree escalates exactly at its limit.
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::seconds(soak_seconds());
  int escalations = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i <= fragile_intensity; ++i) {
      auto old = f.actor_of(lookup(f.sys, root, "root/fragile").value(), "w");
      REQUIRE(old);
      f.probe->send_exit(old, caf::exit_reason::kill);
      if (i < fragile_intensity) {
        auto ev = await_event_if(f.probe, [](const lifecycle_event& x) {
          return x.path == "root/fragile/w"
                 || x.kind == lifecycle_kind::restart_given_up;
        });
        while (ev.kind == lifecycle_kind::child_exited)
          ev = await_event_if(f.probe, [](const lifecycle_event& x) {
            return x.path == "root/fragile/w"
                   || x.kind == lifecycle_kind::restart_given_up;
          });
        // Below the limit: restarted, never given up.
        REQUIRE(ev.kind == lifecycle_kind::child_restarted);
      }
    }
    await_event_if(f.probe, [](const lifecycle_event& x) {
      return x.kind == lifecycle_kind::restart_given_up
             && x.path == "root/fragile";
    });
    ++escalations;
    // Its parent restarts the whole subtree with a fresh budget.
    await_event_if(f.probe, [](const lifecycle_event& x) {
      return x.kind == lifecycle_kind::child_restarted
             && x.path == "root/fragile";
    });
    std::this_thread::sleep_for(100ms);
  }
  CHECK(escalations > 0);
  // Storm control held the database's workers: one incident, all paused.
  auto outage = open_incidents(f.sys);
  REQUIRE(outage.size() == 1);
  CHECK(outage[0].dependency == "db");
  CHECK(outage[0].failures >= static_cast<uint64_t>(db_users));
  *db = true;
  // Stop the faults (asking first what they were), then the traffic, and
  // let the tree heal.
  std::vector<fault> faults;
  f.probe->request(monkey, patience, caf::get_atom::value, faults_atom::value)
    .receive([&](std::vector<fault>& xs) { faults = std::move(xs); },
             [](caf::error& err) { FAIL("the monkey's faults: " << to_string(err)); });
  f.probe->send_exit(monkey, caf::exit_reason::user_shutdown);
  f.probe->send_exit(kept_monkey, caf::exit_reason::user_shutdown);
  f.probe->wait_for(monkey, kept_monkey);
  for (auto& x : {load, kept_load})
    f.probe->request(x, 30s, stop_atom::value)
      .receive([](caf::ok_atom) {},
               [](caf::error& err) { FAIL("traffic did not drain: " << to_string(err)); });
  auto healed = await_healed(f, root);
  std::vector<lifecycle_event> events;
  f.probe->request(rec, patience, caf::get_atom::value)
    .receive([&](std::vector<lifecycle_event>& xs) { events = std::move(xs); },
             [](caf::error& err) { FAIL(to_string(err)); });
  INFO(events.size() << " events, " << faults.size() << " faults");
  // The healed tree is the initial one: every permanent and transient child
  // back and running, every subtree back, nothing new. The sessions
  // supervisor starts empty if chaos restarted it (its children were
  // started at run time, as in OTP); otherwise all its sessions are back.
  auto sessions_restarted = std::any_of(
    events.begin(), events.end(), [](const lifecycle_event& ev) {
      return ev.path == "root/g_sessions"
             && (ev.kind == lifecycle_kind::child_restarted
                 || ev.kind == lifecycle_kind::child_started);
    });
  auto before = by_path(*initial);
  auto after = by_path(healed);
  size_t missing = 0;
  for (auto& [path, x] : before) {
    bool session = path.rfind("root/g_sessions/", 0) == 0;
    if (x->restart_type == restart::temporary
        || (session && sessions_restarted))
      continue;
    auto i = after.find(path);
    if (i == after.end() || i->second->state != child_state::running) {
      UNSCOPED_INFO("not back: " << path);
      ++missing;
    }
  }
  CHECK(missing == 0);
  size_t unknown = 0;
  for (auto& [path, x] : after)
    if (before.count(path) == 0) {
      UNSCOPED_INFO("new in the tree: " << path);
      ++unknown;
    }
  CHECK(unknown == 0);
  if (sessions_restarted)
    CHECK(after.at("root/g_sessions")->children.empty());
  else
    CHECK(after.at("root/g_sessions")->children.size() == sessions);
  // Traffic: every request was answered or failed with a reason; none got
  // lost silently, none overtook another. A stable handle lets two
  // failures through, as it documents: a request that died in a dead
  // incarnation's mailbox, and `not_found` once three lookups in a row found
  // its child not running (a member of a group whose restart waits for a
  // retry shows as stopped meanwhile). Nothing else.
  auto plain = stats_of(f, load);
  INFO("sent " << plain.sent << ", replied " << plain.replied << ", "
               << plain.receiver_down << " receivers down, " << plain.not_found
               << " not found, other errors " << plain.errors);
  CHECK(plain.sent > 0);
  CHECK(plain.timeouts == 0);
  CHECK(plain.errors == "{}");
  CHECK(plain.replied + plain.receiver_down + plain.not_found == plain.sent);
  CHECK(plain.replied > plain.sent / 2);
  // Through a handle to a child that keeps its mailbox, a crash or kill
  // costs no request: each is answered by the child, in order.
  auto kept = stats_of(f, kept_load);
  INFO("kept: sent " << kept.sent << ", replied " << kept.replied << ", "
                     << kept.timeouts << " timeouts, " << kept.receiver_down
                     << " receivers down, " << kept.not_found
                     << " not found, other errors " << kept.errors);
  CHECK(kept.sent > 0);
  CHECK(kept.replied == kept.sent);
  auto handovers = std::count_if(
    events.begin(), events.end(), [](const lifecycle_event& ev) {
      return ev.kind == lifecycle_kind::messages_kept
             && ev.path.rfind("root/kept/", 0) == 0;
    });
  auto kept_losses = std::count_if(
    events.begin(), events.end(), [](const lifecycle_event& ev) {
      return ev.kind == lifecycle_kind::messages_lost
             && ev.path.rfind("root/kept/", 0) == 0;
    });
  CHECK(handovers > 0);
  CHECK(kept_losses == 0);
  {
    std::lock_guard<std::mutex> guard{book->mtx};
    CHECK(book->violations == 0);
  }
  // Faults: all aimed under root/g_, at children of the tree, of the kinds
  // asked for. Every exit a fault caused there is one the monkey injected,
  // on that path (a few may come after the monkey answered, before it
  // stopped); most kills and exceptions land.
  std::map<std::string, size_t> injected;
  size_t crashing = 0;
  for (auto& x : faults) {
    CHECK(x.path.rfind("root/g_", 0) == 0);
    CHECK((x.kind != fault_kind::hang));
    if (x.kind == fault_kind::kill || x.kind == fault_kind::exception) {
      ++injected[x.path];
      ++crashing;
    }
  }
  // Restarts: every fault that hit a permanent or transient child, worker
  // or supervisor, was followed by its restart (or a fresh start under a
  // restarted supervisor); no temporary worker ever came back.
  size_t exits = 0;
  size_t landed = 0;
  size_t repaired = 0;
  size_t unaccounted = 0;
  std::set<std::string> temporary_restarted;
  std::map<std::string, size_t> last_start;
  for (size_t i = events.size(); i-- > 0;) {
    auto& ev = events[i];
    if (ev.kind == lifecycle_kind::child_restarted
        || ev.kind == lifecycle_kind::child_started) {
      last_start.emplace(ev.path, i);
      if (ev.kind == lifecycle_kind::child_restarted
          && leaf(ev.path).rfind("temporary", 0) == 0)
        temporary_restarted.insert(ev.path);
    }
    if (ev.kind != lifecycle_kind::child_exited || !is_fault(ev.reason)
        || ev.path.rfind("root/g_", 0) != 0)
      continue;
    ++exits;
    auto k = injected.find(ev.path);
    if (k == injected.end() || k->second == 0)
      ++unaccounted;
    else
      --k->second;
    auto x = before.find(ev.path);
    if (x == before.end() || x->second->restart_type == restart::temporary)
      continue;
    ++landed;
    auto j = last_start.find(ev.path);
    if (j != last_start.end() && j->second > i)
      ++repaired;
    else
      UNSCOPED_INFO("not repaired: " << ev.path);
  }
  INFO(exits << " exits by faults, " << landed << " on restartable "
              << "children, of " << crashing << " kills and exceptions");
  CHECK(unaccounted <= 5);
  CHECK(landed > 0);
  CHECK(2 * exits >= crashing);
  CHECK(repaired == landed);
  CHECK(temporary_restarted.empty());
  // The outage: one incident opened and closed by a canary, the workers
  // all back (see await_healed), and their supervisor never gave up.
  auto kind_count = [&](lifecycle_kind kind) {
    return std::count_if(events.begin(), events.end(),
                         [&](const lifecycle_event& ev) {
                           return ev.kind == kind && ev.id == "db";
                         });
  };
  CHECK(kind_count(lifecycle_kind::incident_opened) == 1);
  CHECK(kind_count(lifecycle_kind::incident_closed) == 1);
  CHECK(std::none_of(events.begin(), events.end(),
                     [](const lifecycle_event& ev) {
                       return ev.kind == lifecycle_kind::restart_given_up
                              && ev.path == "root/deps";
                     }));
  CHECK(open_incidents(f.sys).empty());
  // Shutdown: the whole tree stops, and no actor outlives it.
  for (auto& h : handles)
    f.probe->send_exit(h, caf::exit_reason::user_shutdown);
  f.probe->send_exit(load, caf::exit_reason::user_shutdown);
  f.probe->send_exit(kept_load, caf::exit_reason::user_shutdown);
  f.probe->send_exit(rec, caf::exit_reason::user_shutdown);
  CHECK(stop_and_await(f.sys, root) == caf::exit_reason::user_shutdown);
  for (int i = 0; i < 2000 && f.sys.registry().running() > baseline; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(f.sys.registry().running() == baseline);
}
