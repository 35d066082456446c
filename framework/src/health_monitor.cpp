#include "health_monitor.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "trellis/atoms.hpp"
#include "trellis/detail/sys_control.hpp"
#include "trellis/errc.hpp"
#include "trellis/health_check.hpp"

namespace trellis::detail {

health_monitor::health_monitor(caf::event_based_actor* self, host* owner,
                               child_registry& children)
  : self_(self), host_(owner), children_(children) {
  // nop
}

void health_monitor::watch(iterator c) {
  auto& hc = c->spec.health_check();
  if (!hc)
    return;
  auto& health = c->more().health;
  health.missed = 0;
  // The start counts as the first answer: the next comes an interval and a
  // round trip later, as every later one does.
  auto& phi = health.suspicion;
  if (!phi)
    phi = std::make_unique<phi_accrual>(
      100, std::max<caf::timespan>(hc->interval() / 10,
                                   std::chrono::milliseconds(1)));
  else
    phi->reset();
  phi->heartbeat(self_->clock().now());
  schedule(c);
}

double health_monitor::suspicion(const child& c) const {
  // A restarting or stopped child has no incarnation to suspect.
  if (!c.extras || !c.extras->health.suspicion || !c.handle
      || c.state != child_state::running)
    return 0.0;
  return c.extras->health.suspicion->phi(self_->clock().now());
}

void health_monitor::schedule(iterator c) {
  auto& hc = c->spec.health_check();
  if (!hc || !c->handle)
    return;
  auto& health = c->more().health;
  health.token = ++next_token_;
  self_->delayed_send(self_, hc->interval(), tick_atom::value,
                      c->handle.address(), health.token);
}

health_monitor::iterator health_monitor::find(const caf::actor_addr& who,
                                              uint64_t token) {
  auto c = children_.find(who);
  // Ticks and answers of incarnations that ended or are being stopped.
  if (closed_ || c == children_.end() || !c->extras
      || c->extras->health.token != token || c->stop != nullptr)
    return children_.end();
  return c;
}

void health_monitor::on_tick(const caf::actor_addr& who, uint64_t token) {
  auto c = find(who, token);
  if (c == children_.end())
    return;
  auto& hc = *c->spec.health_check();
  auto missed = [this, who, token](caf::error& err) {
    // Its down message tells about an actor that died meanwhile.
    if (err != caf::sec::request_receiver_down)
      on_missed(who, token, std::move(err));
  };
  if (hc.probe() == health_probe::readiness)
    self_->request(c->handle, hc.timeout(), readiness_atom::value)
      .then([this, who, token](caf::ok_atom) { on_passed(who, token); },
            missed);
  else
    self_
      ->request(c->handle, hc.timeout(), caf::sys_atom::value,
                caf::get_atom::value, std::string{"info"})
      .then(
        [this, who, token](caf::ok_atom, std::string&, caf::strong_actor_ptr&,
                           std::string&) { on_passed(who, token); },
        missed);
}

void health_monitor::on_passed(const caf::actor_addr& who, uint64_t token) {
  // Only reschedules: `on_tick` ignores the next check if the child is
  // being stopped by then.
  auto c = children_.find(who);
  if (c != children_.end() && c->extras
      && c->extras->health.token == token) {
    auto& health = c->extras->health;
    health.missed = 0;
    if (health.suspicion)
      health.suspicion->heartbeat(self_->clock().now());
    schedule(c);
  }
}

namespace {

/// Tells a stuck handler from a child behind on its mailbox, if the
/// child's statistics say which.
std::string why_no_answer(const sys_control* sys, const std::string& path) {
  if (sys != nullptr) {
    auto x = sys->read(path);
    if (x.collecting && x.handling)
      return "its handler has been running for "
             + std::to_string(std::chrono::duration_cast<
                                std::chrono::milliseconds>(x.current_handler)
                                .count())
             + "ms, with " + std::to_string(x.mailbox_depth)
             + " messages waiting";
    if (x.collecting)
      return "it is between handlers, with "
             + std::to_string(x.mailbox_depth) + " messages waiting";
  }
  return "it is stuck in a handler or too far behind its mailbox";
}

} // namespace

void health_monitor::on_missed(const caf::actor_addr& who, uint64_t token,
                               caf::error cause) {
  auto c = find(who, token);
  if (c == children_.end())
    return;
  auto& hc = *c->spec.health_check();
  // Found: it has extras.
  auto& health = c->extras->health;
  auto sys = control_of(c->handle);
  // A suspended child holds its checks as it holds its other messages.
  if (sys != nullptr && sys->suspended()) {
    health.missed = 0;
    // Its silence says nothing of its health: suspicion starts afresh.
    if (health.suspicion) {
      health.suspicion->reset();
      health.suspicion->heartbeat(self_->clock().now());
    }
    schedule(c);
    return;
  }
  auto phi = suspicion(*c);
  auto suspected = hc.suspect_at() > 0 && phi >= hc.suspect_at();
  if (++health.missed < hc.max_missed() && !suspected) {
    schedule(c);
    return;
  }
  auto timeout_ms
    = std::chrono::duration_cast<std::chrono::milliseconds>(hc.timeout());
  auto checks = std::to_string(health.missed) + " health checks of "
                + std::to_string(timeout_ms.count()) + "ms";
  if (suspected) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f", phi);
    checks += " (suspicion phi " + std::string{buf} + " >= "
              + std::to_string(static_cast<int>(hc.suspect_at())) + ")";
  }
  auto path = children_.path_of(*c);
  if (is(cause, caf::sec::request_timeout))
    host_->child_unhealthy(c, make_error(errc::hung, path,
                                         "no answer to " + checks + "; "
                                           + why_no_answer(sys, path)));
  else
    host_->child_unhealthy(c, make_error(errc::unhealthy, path,
                                         "failed " + checks,
                                         std::move(cause)));
}

} // namespace trellis::detail
