#include "trellis/stable_handle.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include <caf/all.hpp>

#include "blocking_call.hpp"
#include "forwarding_probe.hpp"
#include "tell.hpp"
#include "trellis/atoms.hpp"
#include "trellis/detail/explained_bounce.hpp"
#include "trellis/errc.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/shutdown_phase.hpp"
#include "trellis/supervisor.hpp"

namespace trellis {

namespace {

struct buffered {
  caf::strong_actor_ptr sender;
  caf::message_id mid;
  caf::message content;
  /// With retry: how often the request was sent again, and the incarnation
  /// it went to last (a re-send waits for a newer one).
  uint32_t resent = 0;
  caf::actor_addr last;
};

struct proxy_state;

using proxy_actor = caf::stateful_actor<proxy_state>;

struct proxy_state {
  /// Answers what the proxy still holds, as it ends (see `end_calls`).
  ~proxy_state();

  /// Set once the proxy runs.
  proxy_actor* self = nullptr;
  caf::actor root;
  std::string path;
  stable_handle_options opts;
  caf::actor target;
  /// Whether the first lookup answered: until then a fail-fast handle holds
  /// messages too, since the child may well run.
  bool looked = false;
  /// The incarnation messages went to last, watched until its down message:
  /// a newer one gets nothing before it, so that no message overtakes one
  /// the older incarnation still has (an orphan of a supervisor that died,
  /// draining its mailbox before its kill). Null once it is down, or once
  /// it may be stuck for good (hung, abandoned).
  caf::actor_addr served;
  /// The incarnation whose wait a timer bounds, and that timer's token.
  caf::actor_addr timed;
  uint64_t wait_token = 0;
  bool gone = false;
  /// Lookups in a row that found no child: a few are a window (a group
  /// restart between stop and start), more mean gone for good.
  int not_found = 0;
  std::deque<buffered> buffer;
  /// With retry: the requests sent and not answered yet, by number (in the
  /// order sent), and the last number.
  std::map<uint64_t, buffered> in_flight;
  uint64_t last_call = 0;
  /// The tree's event group, where dropped messages are published.
  caf::group events;
  static inline const char* name = "trellis.stable_handle";
};

/// Answers the request `mid` of `sender` with `msg`.
void reply(proxy_actor* self, const caf::strong_actor_ptr& sender,
           caf::message_id mid, caf::message msg) {
  if (sender)
    sender->enqueue(self->ctrl(), mid.response_id(), std::move(msg),
                    self->context());
}

/// Answers a message the proxy cannot pass on: a request gets the error; a
/// plain message is dropped as a dead letter, reported and published,
/// since an error message would make CAF's default handler end its sender.
void refuse(proxy_actor* self, const caf::strong_actor_ptr& sender,
            caf::message_id mid, caf::error err, const caf::message& content) {
  if (mid.is_request()) {
    reply(self, sender, mid, caf::make_message(std::move(err)));
    return;
  }
  auto& st = self->state;
  constexpr auto kind = lifecycle_kind::message_dropped;
  detail::tell(self->system(), st.events, kind, [&] {
    auto id = st.path.substr(st.path.rfind('/') + 1);
    return lifecycle_event::about(kind, st.path, std::move(id))
      .with_reason(std::move(err))
      .with_detail(caf::to_string(content).substr(0, 200));
  });
}

caf::error gone_error(proxy_actor* self) {
  return make_error(errc::not_found, self->state.path,
                    "the child is gone for good");
}

/// How long a newer incarnation waits at most for the older one's end.
constexpr auto drain_timeout = std::chrono::seconds(5);

using drained_atom = caf::atom_constant<caf::atom("tr_drained")>;

/// Returns whether `x` is `y`. Compares control blocks: an address per
/// message would cost two atomic operations.
bool same(const caf::actor_addr& x, const caf::actor& y) {
  return caf::actor_cast<caf::actor_control_block*>(x)
         == caf::actor_cast<caf::actor_control_block*>(y);
}

/// Returns whether `st.served` is the target.
bool serves_target(const proxy_state& st) {
  return same(st.served, st.target);
}

bool retrying(const proxy_state& st) {
  return st.opts.retry.attempts > 0;
}

/// Returns whether the target gets messages: it runs, and no older
/// incarnation may still handle some.
bool serving(const proxy_state& st) {
  return st.target && !st.gone && (!st.served || serves_target(st));
}

/// Returns whether messages may go to the target now, watching it first
/// if it is new.
bool may_forward(proxy_actor* self) {
  auto& st = self->state;
  if (st.target && !st.gone && !st.served) {
    st.served = st.target.address();
    self->monitor(st.target);
  }
  return serving(st);
}

void send_tracked(proxy_actor* self, buffered x);

void flush(proxy_actor* self) {
  auto& st = self->state;
  while (!st.buffer.empty() && may_forward(self)) {
    auto& x = st.buffer.front();
    // A request sent again waits for the next incarnation (the proxy may
    // not know yet that this one ended), and what is behind it waits too.
    if (x.last && same(x.last, st.target))
      break;
    if (retrying(st) && x.mid.is_request())
      send_tracked(self, std::move(x));
    else
      st.target->enqueue(std::move(x.sender), x.mid, std::move(x.content),
                         self->context());
    st.buffer.pop_front();
  }
}

// -- retry ---------------------------------------------------------------------

/// Matches no answer: CAF 0.17 hands a response that no handler matches to
/// the error handler as `unexpected_response`, with the answer as the
/// error's context, the only catch-all for responses an event-based actor
/// has (the circuit breaker relays the same way).
using unanswered_atom = caf::atom_constant<caf::atom("tr_unansw")>;

void answered(proxy_actor* self, uint64_t id, caf::error& err);

/// Sends the request `x` to the target as the proxy's own, to relay the
/// answer, or to learn that the incarnation ended without one.
void send_tracked(proxy_actor* self, buffered x) {
  auto& st = self->state;
  auto id = ++st.last_call;
  auto msg = x.content; // kept for a re-send; copied only if written to
  x.last = st.target.address();
  st.in_flight.emplace(id, std::move(x));
  self->request(st.target, caf::infinite, std::move(msg))
    .then([](unanswered_atom) {},
          [self, id](caf::error& err) { answered(self, id, err); });
}

/// Sends the request being handled as the proxy's own (see `send_tracked`).
caf::delegated<caf::message> track(proxy_actor* self, caf::message_view& x) {
  auto sender = self->current_sender();
  auto mid = self->take_current_message_id();
  send_tracked(self, buffered{std::move(sender), mid,
                              x.move_content_to_message(), 0, {}});
  return {};
}

/// The answer to a request that may have run and lost its answer, and that
/// is not sent again.
caf::error in_doubt(const proxy_state& st, caf::error cause) {
  return make_error(errc::in_doubt, st.path,
                    "the request may have run, but its answer was lost; "
                    "it is not idempotent, so it is not sent again",
                    std::move(cause));
}

/// Handles a request whose incarnation ended without answering it: sends
/// it again to the next one if the policy allows, else answers it.
void lost(proxy_actor* self, buffered x, caf::error cause, bool may_have_run) {
  auto& st = self->state;
  auto& policy = st.opts.retry;
  if (may_have_run && !policy.idempotent)
    reply(self, x.sender, x.mid,
          caf::make_message(in_doubt(st, std::move(cause))));
  else if (x.resent >= policy.attempts)
    reply(self, x.sender, x.mid, caf::make_message(std::move(cause)));
  else if (st.gone)
    reply(self, x.sender, x.mid, caf::make_message(gone_error(self)));
  else {
    ++x.resent;
    st.buffer.push_back(std::move(x));
    flush(self);
  }
}

/// Relays the answer to the request numbered `id`, unless its incarnation
/// ended without answering it.
void answered(proxy_actor* self, uint64_t id, caf::error& err) {
  auto& st = self->state;
  auto i = st.in_flight.find(id);
  if (i == st.in_flight.end())
    return; // Given up on already (hung, node lost): answered once.
  auto x = std::move(i->second);
  st.in_flight.erase(i);
  if (is(err, caf::sec::unexpected_response)) {
    reply(self, x.sender, x.mid, err.context());
    return;
  }
  // A bounce has no sender: the request never ran. A handler that answers
  // with such an error itself is its sender, and is relayed.
  if (!self->current_sender()
      && (is(err, caf::sec::request_receiver_down)
          || is(err, caf::exit_reason::remote_link_unreachable))) {
    lost(self, std::move(x), std::move(err), false);
    return;
  }
  // The incarnation crashed on this very request.
  if (is(err, errc::unhandled_exception)) {
    lost(self, std::move(x), std::move(err), true);
    return;
  }
  reply(self, x.sender, x.mid, caf::make_message(std::move(err)));
}

/// Gives up waiting for the answers to the requests sent to `to` (or to
/// any incarnation, if null), which may have run: their incarnation ended
/// in a way that never answers (its node is lost, it is stuck).
void lose_in_flight(proxy_actor* self, const caf::actor_addr& to,
                    const caf::error& cause) {
  auto& st = self->state;
  std::vector<buffered> xs;
  for (auto i = st.in_flight.begin(); i != st.in_flight.end();) {
    if (!to || i->second.last == to) {
      xs.push_back(std::move(i->second));
      i = st.in_flight.erase(i);
    } else {
      ++i;
    }
  }
  for (auto& x : xs)
    lost(self, std::move(x), cause, true);
}

/// Answers every request the proxy still holds, as it ends with `err`.
void end_calls(proxy_actor* self, const caf::error& err) {
  auto& st = self->state;
  for (auto& [id, x] : st.in_flight)
    reply(self, x.sender, x.mid,
          caf::make_message(st.opts.retry.idempotent ? err
                                                     : in_doubt(st, err)));
  st.in_flight.clear();
  for (auto& x : st.buffer)
    refuse(self, x.sender, x.mid, err, x.content);
  st.buffer.clear();
}

/// Stops waiting for the older incarnation: it ended, or may never.
void stop_waiting(proxy_actor* self) {
  self->state.served = nullptr;
  flush(self);
}

/// The answer once the tree ended for `reason`: the same whether a message
/// waited in the buffer or arrives after the proxy quit.
caf::error tree_ended(caf::actor_system& sys, const std::string& path,
                      const caf::error& reason) {
  return detail::receiver_down(sys, "stable_handle " + path, reason,
                               "this stable handle ended with its tree: "
                               "start the tree again and make a new one");
}

proxy_state::~proxy_state() {
  // CAF destroys the state as the actor ends, on its own thread and before
  // its cleanup: the last moment to answer what the proxy holds itself,
  // which CAF's cleanup does not see.
  if (self && (!in_flight.empty() || !buffer.empty()))
    end_calls(self, tree_ended(self->system(), path, self->fail_state()));
}

void give_up(proxy_actor* self, const caf::error& why) {
  auto& st = self->state;
  st.gone = true;
  st.target = nullptr;
  for (auto& x : st.buffer)
    refuse(self, x.sender, x.mid, why, x.content);
  st.buffer.clear();
}

using relocate_atom = caf::atom_constant<caf::atom("tr_reloc")>;

/// How often a proxy whose child is down looks again, and how many lookups
/// in a row must find no child before it gives up.
constexpr auto recheck_interval = std::chrono::milliseconds(100);
constexpr int not_found_limit = 3;

/// Finds the child's current actor: forwards to it; while the child is
/// down, looks again every `recheck_interval` (a child can also end for
/// good without an event, when its supervisor decides after an operation);
/// gives up after `not_found_limit` lookups in a row find no child.
void relocate(proxy_actor* self) {
  self->request(self->state.root, caf::infinite, lookup_atom::value,
                self->state.path)
    .then(
      [self](caf::actor& hdl) {
        auto& ps = self->state;
        ps.looked = true;
        if (ps.gone)
          return;
        ps.not_found = 0;
        ps.target = std::move(hdl);
        // One bound per older incarnation, however often lookups answer.
        if (ps.served && !serves_target(ps)
            && ps.timed != ps.served) {
          ps.timed = ps.served;
          self->delayed_send(self, drain_timeout, drained_atom::value,
                             ++ps.wait_token);
        }
        flush(self);
      },
      [self](caf::error& err) {
        auto& ps = self->state;
        ps.looked = true;
        if (ps.gone || ps.target)
          return;
        if (is(err, errc::not_found) && ++ps.not_found >= not_found_limit) {
          give_up(self, gone_error(self));
          return;
        }
        if (!is(err, errc::not_found))
          ps.not_found = 0;
        self->delayed_send(self, recheck_interval, relocate_atom::value);
      });
}

/// Sent by a proxy's event relay once it joined the tree's event group.
using relay_joined_atom = caf::atom_constant<caf::atom("tr_joined")>;

/// Joins the tree's event group for the proxy `proxy` and passes its events
/// on. A group holds its members strongly: joined by the proxy itself, a
/// handle that its users dropped lived as long as the tree, and kept
/// getting every event. The relay holds the proxy weakly and leaves with it.
caf::behavior event_relay(caf::event_based_actor* self, caf::actor_addr proxy,
                          caf::group events) {
  self->join(events);
  self->monitor(proxy);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  auto pass = [self, proxy](auto&& x) {
    if (auto dest = caf::actor_cast<caf::actor>(proxy))
      self->send(dest, std::forward<decltype(x)>(x));
    else
      self->quit();
  };
  pass(relay_joined_atom::value);
  return {[pass](lifecycle_event& ev) { pass(std::move(ev)); }};
}

caf::behavior proxy(proxy_actor* self, caf::actor root, std::string path,
                    stable_handle_options opts, caf::group events) {
  auto& st = self->state;
  st.self = self;
  st.root = std::move(root);
  st.path = std::move(path);
  st.opts = opts;
  st.events = events;
  // Join first (the relay says when it did), then look up, so that no event
  // between the two is missed; messages wait in the buffer until the lookup
  // answers.
  self->spawn<caf::hidden>(event_relay, self->address(), std::move(events));
  // The handle is of no use once the tree is gone.
  self->monitor(st.root);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.root) {
      give_up(self, tree_ended(self->system(), self->state.path, msg.reason));
      self->quit(msg.reason);
    } else {
      // A remote incarnation's requests are not bounced when its node is
      // lost: their answers never come.
      if (retrying(self->state)
          && (is(msg.reason, caf::exit_reason::remote_link_unreachable)
              || is(msg.reason, errc::node_down)))
        lose_in_flight(self, msg.source, msg.reason);
      if (msg.source == self->state.served)
        stop_waiting(self);
    }
  });
  self->set_default_handler(
    [self](caf::scheduled_actor*,
           caf::message_view& x) -> caf::result<caf::message> {
      auto& ps = self->state;
      if (may_forward(self)) {
        // What waited goes first; a request sent again may still wait.
        flush(self);
        if (ps.buffer.empty()) {
          if (retrying(ps) && self->current_message_id().is_request())
            return track(self, x);
          self->delegate(ps.target, x.move_content_to_message());
          return caf::delegated<caf::message>{};
        }
      }
      // A running child never costs a message: rather than refuse one,
      // stop waiting for the older incarnation.
      if (ps.buffer.size() >= ps.opts.buffer && ps.target && !ps.gone) {
        stop_waiting(self);
        if (retrying(ps) && self->current_message_id().is_request())
          return track(self, x);
        self->delegate(ps.target, x.move_content_to_message());
        return caf::delegated<caf::message>{};
      }
      auto sender = self->current_sender();
      auto mid = self->take_current_message_id();
      if (ps.gone) {
        refuse(self, sender, mid, gone_error(self),
               x.move_content_to_message());
        return caf::delegated<caf::message>{};
      }
      if (!ps.target && ps.looked
          && ps.opts.while_down == down_policy::fail_fast) {
        refuse(self, sender, mid,
               make_error(errc::restarting, ps.path,
                          "the child is down and this stable handle fails "
                          "fast"),
               x.move_content_to_message());
        return caf::delegated<caf::message>{};
      }
      // A draining service waits for no restart: what would wait for one
      // is refused, so that the drain can end (checked only here, off the
      // path of a running child).
      if (!ps.target && ps.looked
          && current_shutdown_phase(self->system()) >= shutdown_phase::drain) {
        refuse(self, sender, mid,
               make_error(errc::shutting_down, ps.path,
                          "the child is down and the service is draining"),
               x.move_content_to_message());
        return caf::delegated<caf::message>{};
      }
      if (ps.buffer.size() >= ps.opts.buffer) {
        refuse(self, sender, mid,
               make_error(errc::overloaded, ps.path,
                          "the child is down and "
                            + std::to_string(ps.opts.buffer)
                            + " messages wait for it"),
               x.move_content_to_message());
        return caf::delegated<caf::message>{};
      }
      ps.buffer.push_back(buffered{std::move(sender), mid,
                                   x.move_content_to_message(), 0, {}});
      return caf::delegated<caf::message>{};
    });
  return {
    [self](relay_joined_atom) {
      if (!self->state.looked)
        relocate(self);
    },
    [self](const lifecycle_event& ev) {
      auto& ps = self->state;
      if (ev.path != ps.path)
        return;
      switch (ev.kind) {
        case lifecycle_kind::child_exited:
          if (ps.gone)
            return;
          // A hung or abandoned incarnation may never end: its replacement
          // does not wait for it (what it still had may come late).
          if (is(ev.reason, errc::hung) || is(ev.reason, errc::unhealthy)
              || is(ev.reason, errc::abandoned))
            ps.served = nullptr;
          // Nor does a stuck incarnation answer what it was sent, nor one
          // whose node is lost. (An unhealthy one reads its kill, and
          // answers or hands on what it has.)
          if (retrying(ps)
              && (is(ev.reason, errc::hung) || is(ev.reason, errc::abandoned)
                  || is(ev.reason, errc::node_down)))
            lose_in_flight(self, nullptr, ev.reason);
          ps.target = nullptr;
          relocate(self);
          break;
        case lifecycle_kind::child_started:
        case lifecycle_kind::child_restarted:
          // Back after all (restart_child, a group restart): serve again.
          ps.gone = false;
          ps.not_found = 0;
          relocate(self);
          break;
        default:
          break;
      }
    },
    [self](drained_atom, uint64_t token) {
      // From the proxy's own timer only.
      if (self->current_sender() == self->ctrl()
          && token == self->state.wait_token && self->state.served)
        stop_waiting(self);
    },
    [self](relocate_atom) {
      if (!self->state.gone && !self->state.target)
        relocate(self);
    },
    [self](caf::get_atom, stable_handle_atom) {
      return caf::make_message(serving(self->state),
                               static_cast<uint64_t>(
                                 self->state.buffer.size()));
    },
  };
}

/// Whether CAF's `consume` or the proxy's behavior could take `x` for
/// itself: a response, a system message CAF handles before any behavior,
/// or a message of one of the proxy's own handlers' types. By type token
/// (integers compared; CAF's `match_elements` would compare type names), so
/// conservative: a message of the user's with one of these shapes takes the
/// longer way, to the same result.
bool for_the_proxy(const caf::mailbox_element& x) {
  if (x.mid.is_response())
    return true;
  using caf::atom_value;
  using caf::make_type_token;
  switch (x.content().type_token()) {
    case make_type_token<caf::exit_msg>():
    case make_type_token<caf::down_msg>():
    case make_type_token<caf::error>():
    case make_type_token<caf::timeout_msg>():
    case make_type_token<caf::open_stream_msg>():
    case make_type_token<caf::upstream_msg>():
    case make_type_token<caf::downstream_msg>():
    case make_type_token<atom_value, atom_value, std::string>():
    case make_type_token<atom_value, uint64_t>():
    case make_type_token<atom_value>():
    case make_type_token<atom_value, atom_value>():
      return true;
    case make_type_token<lifecycle_event>():
      // The token of any one value of a type CAF does not number.
      return x.content().match_element<lifecycle_event>(0);
    default:
      return false;
  }
}

/// Whether the proxy, as it stands, would hand `x`'s kind of message to the
/// target at once: it serves a watched incarnation, holds nothing, and
/// tracks no requests.
bool serves_at_once(const proxy_state& st) {
  return !retrying(st) && st.buffer.empty() && st.looked && st.target
         && !st.gone && st.served && serves_target(st);
}

using direct_atom = caf::atom_constant<caf::atom("tr_direct")>;

/// The proxy, answering requests that reach it after it ended (its tree
/// ended) with the reason.
///
/// While it serves a running child with nothing held, it forwards on the
/// sender's thread: `enqueue` hands the message to the child as `delegate`
/// would (same sender, same request id), and the proxy is not resumed. A
/// sender's messages keep their order across the switches, which all
/// happen under `mtx_`:
/// - Off: any message the proxy must see itself (a system message, an
///   event, a response, one of its own shapes) turns forwarding off before
///   it enters the mailbox; every message after it enters the mailbox too.
/// - On: the proxy, idle with nothing held, arms: it sends itself a marker
///   and, until the marker comes, every message waits beside the mailbox
///   (`arriving_`). Once the marker comes, all that entered the mailbox
///   before it was handled, if the mailbox is empty (a high-priority message
///   may come after the marker); if so, the proxy still serves, and only
///   messages for the child waited, they go to it in order and forwarding is
///   on; else they enter the mailbox in order and forwarding stays off.
/// A message a sender forwards just before forwarding goes off reaches the
/// incarnation the proxy was serving, as one the proxy handled just before
/// would.
///
/// No code of anyone else's runs under `mtx_`, only pushes onto the
/// proxy's own mailbox: an `enqueue` may run its receiver on the calling
/// thread (CAF's test scheduler does), and the receiver, the proxy itself
/// or a child sending to it, would take `mtx_` again.
class stable_proxy final
  : public detail::explained_bounce<caf::stateful_actor<proxy_state>> {
public:
  using super = detail::explained_bounce<caf::stateful_actor<proxy_state>>;

  stable_proxy(caf::actor_config& cfg, caf::actor root, std::string path,
               const stable_handle_options& opts, caf::group events)
    : explained_bounce(cfg),
      root_(std::move(root)),
      path_(std::move(path)),
      opts_(opts),
      events_(std::move(events)) {
    // nop
  }

  caf::behavior make_behavior() override {
    return proxy(this, std::move(root_), path_, opts_, std::move(events_));
  }

  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* host) override {
    if (!x) {
      super::enqueue(std::move(x), host);
      return;
    }
    caf::strong_actor_ptr target;
    {
      std::unique_lock<std::mutex> guard{mtx_};
      switch (mode_) {
        case forwarding::on:
          if (!for_the_proxy(*x)) {
            target = direct_;
            break;
          }
          mode_ = forwarding::off;
          direct_ = nullptr;
          [[fallthrough]];
        case forwarding::off: {
          // Under the lock: ahead of any marker the proxy sends later.
          auto wakes = push(std::move(x));
          guard.unlock();
          if (wakes)
            wake(host);
          return;
        }
        case forwarding::arming:
          arriving_.push_back(std::move(x));
          return;
        case forwarding::closed:
          break;
      }
    }
    if (target)
      target->enqueue(std::move(x), host);
    else
      super::enqueue(std::move(x), host);
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    if (x.content().match_elements<direct_atom>() && x.sender == ctrl()) {
      switch_on();
      return caf::invoke_message_result::consumed;
    }
    auto result = consume_impl(x);
    if (serves_at_once(state)) {
      std::unique_lock<std::mutex> guard{mtx_};
      if (mode_ == forwarding::off) {
        mode_ = forwarding::arming;
        auto wakes = push(caf::make_mailbox_element(
          ctrl(), caf::make_message_id(), {}, direct_atom::value));
        guard.unlock();
        if (wakes)
          wake(context());
      }
    }
    return result;
  }

  bool cleanup(caf::error&& reason, caf::execution_unit* host) override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      mode_ = forwarding::closed;
      direct_ = nullptr;
      // Into the mailbox, whose closing answers the requests among them;
      // under the lock, ahead of what comes once the mode is closed. Nobody
      // is to wake: the mailbox closes next.
      for (auto& x : arriving_)
        push(std::move(x));
      arriving_.clear();
    }
    return super::cleanup(std::move(reason), host);
  }

  /// Internal, for tests: whether senders' messages go to the child on
  /// their own threads now.
  bool forwards_directly() {
    std::lock_guard<std::mutex> guard{mtx_};
    return mode_ == forwarding::on;
  }

protected:
  caf::error receiver_down(const caf::error& reason) const override {
    return tree_ended(home_system(), path_, reason);
  }

private:
  enum class forwarding { off, arming, on, closed };

  caf::invoke_message_result consume_impl(caf::mailbox_element& x) {
    // A running child's messages that reach the mailbox go straight to it,
    // as the default handler would send them: CAF's own consume first tries
    // its system messages and the proxy's handlers on each (400 to 600 of
    // about 6,000 instructions a request, measured).
    auto& st = state;
    if (st.buffer.empty() && !(retrying(st) && x.mid.is_request())
        && !for_the_proxy(x) && may_forward(this)) {
      current_mailbox_element(&x);
      delegate(st.target, x.move_content_to_message());
      return caf::invoke_message_result::consumed;
    }
    return super::consume(x);
  }

  /// The marker came: everything before it was handled (see the class).
  /// What waited goes to the child outside the lock, in batches, the mode
  /// still arming: what arrives meanwhile waits behind it.
  void switch_on() {
    std::unique_lock<std::mutex> guard{mtx_};
    if (mode_ != forwarding::arming)
      return;
    auto target = caf::actor_cast<caf::strong_actor_ptr>(state.target);
    std::vector<caf::mailbox_element_ptr> batch;
    for (;;) {
      auto only_for_the_child
        = std::none_of(arriving_.begin(), arriving_.end(),
                       [](const caf::mailbox_element_ptr& x) {
                         return for_the_proxy(*x);
                       });
      // CAF serves its mailbox's queues in rounds: high-priority messages
      // that came before the marker may still wait behind it. Nothing
      // enters the mailbox while arming, so empty now means handled.
      if (!serves_at_once(state) || !only_for_the_child
          || !mailbox().empty()) {
        // The proxy runs: its own pushes wake nobody.
        for (auto& x : arriving_)
          push(std::move(x));
        arriving_.clear();
        mode_ = forwarding::off;
        return;
      }
      if (arriving_.empty()) {
        direct_ = std::move(target);
        mode_ = forwarding::on;
        return;
      }
      batch.swap(arriving_);
      guard.unlock();
      for (auto& x : batch)
        target->enqueue(std::move(x), context());
      batch.clear();
      guard.lock();
    }
  }

  /// Pushes `x` onto the mailbox, under `mtx_`; returns whether the proxy
  /// waits for messages and must be woken (`wake`, after the lock). The
  /// mailbox is open: it closes in `cleanup`, after the mode is closed.
  bool push(caf::mailbox_element_ptr x) {
    return mailbox().push_back(std::move(x))
           == caf::intrusive::inbox_result::unblocked_reader;
  }

  /// Schedules the proxy after `push` found it waiting, as CAF's
  /// `scheduled_actor::enqueue` does for an actor on the scheduler (a proxy
  /// never has a thread of its own).
  void wake(caf::execution_unit* host) {
    intrusive_ptr_add_ref(ctrl());
    if (host != nullptr)
      host->exec_later(this);
    else
      home_system().scheduler().enqueue(this);
  }

  caf::actor root_;
  std::string path_;
  stable_handle_options opts_;
  caf::group events_;
  /// Guards the forwarding's mode and what waits while it arms.
  std::mutex mtx_;
  forwarding mode_ = forwarding::off;
  caf::strong_actor_ptr direct_;
  std::vector<caf::mailbox_element_ptr> arriving_;
};

} // namespace

caf::expected<caf::actor> stable_handle(caf::actor_system& sys,
                                        const caf::actor& root,
                                        const std::string& path,
                                        size_t buffer) {
  stable_handle_options opts;
  opts.buffer = buffer;
  return stable_handle(sys, root, path, opts);
}

caf::expected<caf::actor> stable_handle(caf::actor_system& sys,
                                        const caf::actor& root,
                                        const std::string& path,
                                        const stable_handle_options& opts) {
  // Messages wait in the buffer until the first lookup answers, even while
  // the child runs: without one they would all be refused.
  if (opts.buffer == 0)
    return make_error(errc::invalid_spec, "buffer",
                      "a stable handle needs room for at least one message");
  if (auto err = detail::refuse_calling_self(root, "stable_handle"))
    return err;
  auto events = lifecycle_events(sys, root);
  if (!events)
    return events.error();
  // Refuse a path with no child at all now, rather than after retries.
  auto hdl = lookup(sys, root, path);
  if (!hdl && !is(hdl.error(), errc::restarting))
    return hdl.error();
  return sys.spawn<stable_proxy>(root, path, opts, std::move(*events));
}

namespace detail {

bool forwards_directly(const caf::actor& handle) {
  auto proxy
    = dynamic_cast<stable_proxy*>(caf::actor_cast<caf::abstract_actor*>(handle));
  return proxy != nullptr && proxy->forwards_directly();
}

} // namespace detail

} // namespace trellis
