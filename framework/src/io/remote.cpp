#include "trellis/io/remote.hpp"

#include <chrono>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "distribution.hpp"
#include "node_transport.hpp"
#include "report.hpp"
#include "supervisor_actor.hpp"
#include "system_guard.hpp"
#include "trellis/errc.hpp"
#include "trellis/io/node.hpp"

namespace trellis {

namespace {

/// Kills `child` when its supervisor `sup` ends or this node loses the
/// connection to the supervisor's node, and ends with either. CAF fires a
/// monitor on a remote actor when the actor ends or when the BASP broker
/// drops the connection to its node: at once when that node's process dies
/// (its sockets close), after `middleman.connection-timeout` when it hangs
/// (heartbeats). Nothing fires for a node reached only through a third one,
/// whose loss no connection of this node shows: a child whose supervisor
/// is there could never be found orphaned, so it is killed at once.
caf::behavior orphan_guard(caf::event_based_actor* self, caf::actor sup,
                           caf::actor child, std::string path) {
  auto orphaned = [self, sup, child, path](const std::string& why) {
    detail::report::orphan_killed(path, to_string(sup.node()), why);
    self->send_exit(child, caf::exit_reason::kill);
    self->quit();
  };
  self->monitor(sup);
  self->monitor(child);
  self->set_down_handler([self, sup, orphaned](caf::down_msg& msg) {
    if (msg.source == sup.address())
      orphaned("its supervisor ended: " + self->system().render(msg.reason));
    else
      self->quit();
  });
  if (sup.node() != self->node())
    // The broker answers with an empty address for a node it has no direct
    // connection to.
    self
      ->request(self->system().middleman().actor_handle(),
                spawn_timeout(self->system()), caf::get_atom::value,
                sup.node())
      .then(
        [orphaned](const caf::node_id&, const std::string& addr, uint16_t) {
          if (addr.empty())
            orphaned("no direct connection to its supervisor's node, whose "
                     "loss this node would not notice");
        },
        // The monitors still watch; only the route stays unchecked.
        [](const caf::error&) {});
  return {[](caf::ok_atom) {}};
}

/// Renders why connecting to a node failed, with the likely causes of a
/// handshake that CAF only reports as closed.
std::string connect_failure(caf::actor_system& sys, const caf::error& err) {
  auto result = sys.render(err);
  if (err == caf::sec::disconnect_during_handshake)
    result += detail::uses_tls(sys)
                ? " (the TLS or BASP handshake was refused: a certificate not "
                  "signed by a trusted CA on either side, a node without "
                  "TLS, or another application identifier)"
                : " (the BASP handshake was refused: a node that expects "
                  "TLS, or another application identifier)";
  return result;
}

} // namespace

namespace detail {

caf::actor_factory guarded_factory(remote_factory f) {
  return [f](caf::actor_config& cfg,
             caf::message& msg) -> caf::actor_factory_result {
    // spawn_remote sends (supervisor, path, args...).
    if (msg.size() < 2 || !msg.match_element<caf::actor>(0)
        || !msg.match_element<std::string>(1))
      return {};
    auto sup = msg.get_as<caf::actor>(0);
    auto path = msg.get_as<std::string>(1);
    auto args = msg.drop(2);
    auto& sys = cfg.host->system();
    auto result = f(cfg, sup, path, args);
    if (!result.first)
      return result;
    auto hdl = caf::actor_cast<caf::actor>(result.first);
    // Hosted here for a remote parent: stopped in order with this node's
    // other trees when the system goes.
    if (auto guard = system_guard::of(sys))
      if (auto err = guard->hold(hdl)) {
        caf::anon_send_exit(hdl, caf::exit_reason::kill);
        return {};
      }
    if (sup) {
      auto guard = sys.spawn<caf::hidden>(orphan_guard, sup, hdl, path);
      // CAF destroys an actor that nothing references, and monitors do not
      // count: without this the guard went at once, silently. The child
      // keeps its guard until it ends.
      hdl->attach_functor([guard] {});
    }
    return result;
  };
}

} // namespace detail

child_spec remote_supervisor(std::string id, std::string type) {
  auto result = remote_worker(std::move(id), std::move(type));
  result.type(child_type::supervisor);
  return result;
}

void add_remote_supervisor(caf::actor_system_config& cfg, std::string name,
                           supervisor_spec spec) {
  cfg.add_actor_factory(
    std::move(name),
    detail::guarded_factory([spec](caf::actor_config& acfg,
                                   const caf::actor& sup,
                                   const std::string& path, caf::message&) {
      // The subtree publishes on its own node (a feed of its own); the
      // remote supervisor is its parent.
      auto hdl = detail::supervisor_actor::spawn(
        acfg.host->system(), spec, path, nullptr, sup.address());
      return caf::actor_factory_result{
        caf::actor_cast<caf::strong_actor_ptr>(hdl), {}};
    }));
}

namespace detail {

namespace {

/// The distribution over CAF's middleman (see distribution.hpp).
class io_distribution final : public distribution {
public:
  caf::error unreachable(caf::actor_system& sys) const override {
    auto mm = node_transport(sys);
    return mm ? caf::error{} : std::move(mm.error());
  }

  caf::actor spawn_on(caf::actor_system& sys, const std::string& host,
                      uint16_t port, const caf::actor& supervisor,
                      const std::string& path, const std::string& type,
                      caf::message args, std::string& why) const override {
    auto mm = node_transport(sys);
    if (!mm) {
      why = sys.render(mm.error());
      return {};
    }
    auto timeout = trellis::spawn_timeout(sys);
    caf::scoped_actor self{sys, true};
    caf::error err;
    caf::node_id nid;
    // CAF 0.17.6 starts a new connection's last_seen at the clock's epoch,
    // so a heartbeat tick before the peer's first byte closes it with
    // connection_timeout at once (docs/distribution.md): ask again while
    // the spawn timeout allows.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      err = caf::error{};
      self->request(*mm, timeout, caf::connect_atom::value, host, port)
        .receive([&](caf::node_id& x, caf::strong_actor_ptr&,
                     std::set<std::string>&) { nid = std::move(x); },
                 [&](caf::error& x) { err = std::move(x); });
    } while (err == caf::sec::connection_timeout
             && std::chrono::steady_clock::now() < deadline);
    caf::strong_actor_ptr hdl;
    if (!err)
      // What guarded_factory unpacks on the other side.
      self
        ->request(*mm, timeout, caf::spawn_atom::value, nid, type,
                  caf::make_message(supervisor, path) + args,
                  std::set<std::string>{})
        .receive([&](caf::strong_actor_ptr& x) { hdl = std::move(x); },
                 [&](caf::error& x) { err = std::move(x); });
    if (!err && hdl)
      return caf::actor_cast<caf::actor>(std::move(hdl));
    why = err ? connect_failure(sys, err) : "no actor";
    return {};
  }

  void probe(caf::event_based_actor* self, const std::string& host,
             uint16_t port, std::function<void()> reachable) const override {
    auto mm = node_transport(self->system());
    if (!mm)
      return;
    self
      ->request(*mm, trellis::spawn_timeout(self->system()),
                caf::connect_atom::value, host, port)
      .then(
        [reachable](caf::node_id&, caf::strong_actor_ptr&,
                    std::set<std::string>&) { reachable(); },
        [](caf::error&) {
          // Still gone; the next tick asks again.
        });
  }

  caf::timespan spawn_timeout(const caf::actor_system& sys) const override {
    return trellis::spawn_timeout(sys);
  }

  caf::timespan
  takeover_interval(const caf::actor_system& sys) const override {
    return trellis::takeover_interval(sys);
  }
};

} // namespace

const distribution* io_distribution_instance() {
  // Never destroyed: a system that goes during static destruction may still
  // ask it.
  static const auto* instance = new io_distribution;
  return instance;
}

} // namespace detail

} // namespace trellis
