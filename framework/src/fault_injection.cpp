#include "trellis/fault_injection.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "blocking_call.hpp"
#include "trellis/atoms.hpp"
#include "trellis/detail/default_handler.hpp"
#include "trellis/errc.hpp"
#include "trellis/supervisor.hpp"
#include "trellis/tree_snapshot.hpp"

namespace trellis {

std::string to_string(fault_kind x) {
  switch (x) {
    case fault_kind::kill:
      return "kill";
    case fault_kind::exception:
      return "exception";
    case fault_kind::hang:
      return "hang";
    case fault_kind::slow_start:
      return "slow_start";
    case fault_kind::start_failure:
      return "start_failure";
  }
  return "unknown";
}

std::string to_string(const fault& x) {
  auto result = to_string(x.kind) + ' ' + x.path;
  if (x.kind == fault_kind::hang || x.kind == fault_kind::slow_start)
    result += " for "
              + std::to_string(std::chrono::duration_cast<
                                 std::chrono::milliseconds>(x.duration)
                                 .count())
              + "ms";
  return result;
}

namespace {

bool needs_actor(fault_kind x) {
  return x == fault_kind::kill || x == fault_kind::exception
         || x == fault_kind::hang;
}

/// Splits `root/a/b` into the supervisor's path and the child's id.
std::pair<std::string, std::string> split_path(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return {std::string{}, path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

} // namespace

namespace detail {

bool fault_hook(caf::scheduled_actor*, caf::message_view& x,
                caf::result<caf::message>&) {
  auto& content = x.content();
  if (!content.match_elements<fault_atom, fault_kind, caf::timespan>())
    return false;
  switch (content.get_as<fault_kind>(1)) {
    case fault_kind::exception:
      throw injected_fault{"injected fault"};
    case fault_kind::hang:
      // Blocks this actor's thread, as a handler stuck in a loop would.
      std::this_thread::sleep_for(content.get_as<caf::timespan>(2));
      break;
    default:
      break;
  }
  return true;
}

void install_fault_hooks(caf::scheduled_actor* self) {
  chain_default_handler(self, fault_hook);
}

} // namespace detail

caf::error inject(caf::actor_system& sys, const caf::actor& root,
                  const fault& f) {
  if (needs_actor(f.kind)) {
    auto hdl = lookup(sys, root, f.path);
    if (!hdl)
      return std::move(hdl.error());
    if (f.kind == fault_kind::kill)
      caf::anon_send_exit(*hdl, caf::exit_reason::kill);
    else
      caf::anon_send(*hdl, fault_atom::value, f.kind, f.duration);
    return caf::none;
  }
  auto [parent, id] = split_path(f.path);
  auto sup = lookup(sys, root, parent);
  if (!sup)
    return std::move(sup.error());
  return detail::call_for_ok(sys, detail::call_timeout(default_timeout), *sup, fault_atom::value, f.kind, id,
                             f.duration);
}

// -- chaos monkey -------------------------------------------------------------

namespace {

using tick_atom = caf::atom_constant<caf::atom("tr_tick")>;

/// A node a fault may hit, and the supervisor that starts it.
struct target {
  const tree_snapshot* node;
  caf::actor parent;
};

struct monkey_state {
  chaos_config cfg;
  caf::actor root;
  std::mt19937_64 rng;
  std::vector<fault> done;
  static inline const char* name = "trellis.chaos_monkey";
};

void collect(const tree_snapshot& node, const chaos_config& cfg,
             std::vector<target>& out) {
  for (auto& child : node.children) {
    auto eligible = (cfg.supervisors || child.type == child_type::worker)
                    && child.path.compare(0, cfg.under.size(), cfg.under)
                         == 0;
    if (eligible)
      out.push_back(target{&child, node.actor});
    collect(child, cfg, out);
  }
}

void strike(caf::stateful_actor<monkey_state>* self, const tree_snapshot& snap) {
  auto& st = self->state;
  std::uniform_int_distribution<size_t> pick_kind{0, st.cfg.kinds.size() - 1};
  auto kind = st.cfg.kinds[pick_kind(st.rng)];
  std::vector<target> targets;
  collect(snap, st.cfg, targets);
  // Only a running child has an actor to kill, crash or hang, and only a
  // running child's next start comes from a restart.
  targets.erase(std::remove_if(targets.begin(), targets.end(),
                               [](const target& x) {
                                 return x.node->state != child_state::running
                                        || !x.node->actor;
                               }),
                targets.end());
  if (targets.empty())
    return;
  std::sort(targets.begin(), targets.end(),
            [](const target& x, const target& y) {
              return x.node->path < y.node->path;
            });
  std::uniform_int_distribution<size_t> pick{0, targets.size() - 1};
  auto& t = targets[pick(st.rng)];
  fault f{kind, t.node->path, st.cfg.duration};
  switch (kind) {
    case fault_kind::kill:
      caf::anon_send_exit(t.node->actor, caf::exit_reason::kill);
      break;
    case fault_kind::exception:
    case fault_kind::hang:
      caf::anon_send(t.node->actor, fault_atom::value, kind, f.duration);
      break;
    case fault_kind::slow_start:
    case fault_kind::start_failure:
      // A child that left meanwhile makes this fail: nothing was injected.
      self->request(t.parent, caf::infinite, fault_atom::value, kind,
                    t.node->id, f.duration)
        .then([](caf::ok_atom) {}, [](caf::error&) {});
      break;
  }
  st.done.push_back(std::move(f));
}

caf::behavior chaos_monkey(caf::stateful_actor<monkey_state>* self,
                           caf::actor root, chaos_config cfg) {
  auto& st = self->state;
  st.rng.seed(cfg.seed);
  st.cfg = std::move(cfg);
  st.root = root;
  if (st.cfg.kinds.empty())
    st.cfg.kinds.push_back(fault_kind::exception);
  self->monitor(root);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->delayed_send(self, st.cfg.interval, tick_atom::value);
  return {
    [self](tick_atom) {
      self->request(self->state.root, caf::infinite, snapshot_atom::value)
        .then(
          [self](tree_snapshot& snap) {
            strike(self, snap);
            auto& conf = self->state.cfg;
            if (conf.max_faults > 0 && self->state.done.size() >= conf.max_faults)
              return;
            self->delayed_send(self, conf.interval, tick_atom::value);
          },
          [self](caf::error&) { self->quit(); });
    },
    [self](caf::get_atom, faults_atom) { return self->state.done; },
  };
}

} // namespace

caf::actor spawn_chaos_monkey(caf::actor_system& sys, const caf::actor& root,
                              chaos_config cfg) {
  return sys.spawn(chaos_monkey, root, std::move(cfg));
}

} // namespace trellis
