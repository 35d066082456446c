#include "supervisor_actor.hpp"

#include <algorithm>
#include <thread>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>
#include <caf/type_nr.hpp>

#include "actor_name.hpp"
#include "branch_hint.hpp"
#include "report.hpp"
#include "stop_outcome.hpp"
#include "system_guard.hpp"
#include "tell.hpp"
#include "trellis/atoms.hpp"
#include "trellis/crash_handler.hpp"
#include "trellis/decision.hpp"
#include "trellis/errc.hpp"
#include "trellis/fault_injection.hpp"
#include "trellis/health_check.hpp"
#include "trellis/mailbox_probe.hpp"

namespace trellis::detail {

namespace {

/// A restart delayed by backoff is due.
using restart_due_atom = caf::atom_constant<caf::atom("tr_due")>;

start_result call_factory(const child_spec& spec, child_context& ctx) {
  // A factory runs inside its supervisor: a blocking call into the tree
  // from there is refused (`errc::calling_self`).
  running_in_tree in_tree{ctx.feed().get()};
  try {
    return spec.start()(ctx);
  } catch (...) {
    return crash_reason(std::current_exception());
  }
}

} // namespace

supervisor_actor::supervisor_actor(caf::actor_config& cfg,
                                   supervisor_spec spec, std::string path,
                                   std::shared_ptr<event_feed> feed,
                                   caf::actor_addr parent)
  : super(cfg),
    spec_(std::move(spec)),
    // A supervisor spawned outside a tree (a bare child_context) gets a feed
    // of its own.
    feed_(feed ? std::move(feed)
               : std::make_shared<event_feed>(system().groups().anonymous())),
    parent_(std::move(parent)),
    children_(path + '/'),
    budget_(static_cast<size_t>(std::max(spec_.intensity(), 0)),
            spec_.period()),
    checkpoints_(make_memory_checkpoint_store()) {
  member_of(feed_.get(), std::move(path));
  register_member_class_once<supervisor_actor>({member_fn, nullptr});
  if (auto guard = system_guard::of(system()))
    pacers_ = guard->pacers_for(tree(), this->path(), spec_.restart_limit());
  // A dynamic supervisor's only spec is a template, not a child.
  if (!spec_.dynamic())
    for (auto& child : spec_.children())
      children_.add(child);
}

caf::actor supervisor_actor::spawn(caf::actor_system& sys,
                                   const supervisor_spec& spec,
                                   std::string path,
                                   std::shared_ptr<event_feed> feed,
                                   caf::actor_addr parent) {
  if (spec.detached())
    return sys.spawn<supervisor_actor, caf::detached>(
      spec, std::move(path), std::move(feed), std::move(parent));
  return sys.spawn<supervisor_actor>(spec, std::move(path), std::move(feed),
                                     std::move(parent));
}

void supervisor_actor::ask_to_stop(const caf::actor& hdl, caf::error reason) {
  auto ptr = caf::actor_cast<caf::abstract_actor*>(hdl);
  if (dynamic_cast<supervisor_actor*>(ptr) != nullptr)
    caf::anon_send(hdl, stop_atom::value, std::move(reason));
  else
    // What `anon_send_exit` does, with any reason, not only an exit_reason.
    caf::anon_send<caf::message_priority::high>(
      hdl, caf::exit_msg{caf::actor_addr{}, std::move(reason)});
}

const tree_member&
supervisor_actor::member_fn(const caf::abstract_actor& x) noexcept {
  return static_cast<const supervisor_actor&>(x);
}

const char* supervisor_actor::name() const {
  return "trellis.supervisor";
}

caf::behavior supervisor_actor::make_behavior() {
  install_handlers(this);
  started_at_ = clock().now();
  set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  set_exit_handler([this](caf::exit_msg& msg) { on_exit_signal(msg); });
  // Start all children in order; the first failure undoes the start.
  auto all = std::make_shared<std::vector<iterator>>();
  for (auto i = children_.begin(); i != children_.end(); ++i)
    all->push_back(i);
  start_group(all, 0, true,
              guarded([this](iterator failed, caf::error err) {
                if (failed == children_.end()) {
                  started_ = true;
                  answer_started(caf::none);
                  ops_.end(false);
                  return;
                }
                report::start_error(system(), path(), failed->spec.id(), err,
                                    failed->restart_count);
                start_failure_ = make_error(errc::failed_to_start_child,
                                            failed->spec.id(), err);
                answer_started(start_failure_);
                quit(start_failure_);
              }));
  return api_handlers().or_else(sys_handlers()).or_else(
    [this](caf::get_atom, started_atom) {
      // Answered at once once up; held until the start ends otherwise.
      auto rp = make_response_promise();
      if (started_)
        rp.deliver(caf::ok_atom::value);
      else if (start_failure_)
        rp.deliver(start_failure_);
      else
        started_waiters_.emplace_back(std::move(rp));
    },
    [this](try_again_atom, const std::string& id) {
      when_idle([this, id] {
        auto c = children_.find(id);
        // The child may have been removed or stopped since the retry was
        // queued.
        if (!shutting_down_ && c != children_.end()
            && c->state == child_state::restarting && !c->handle)
          retry_restart(c);
      });
    },
    [this](stop_atom, caf::error& reason) { shutdown(std::move(reason)); },
    [this](shutdown_sequencer::timeout_atom, uint64_t token) {
      stops_.on_timeout(token);
    },
    [this](takeover_tick_atom) { on_takeover_tick(); },
    [this](health_monitor::tick_atom, const caf::actor_addr& who,
           uint64_t token) {
      health_.on_tick(who, token);
    },
    [this](restart_due_atom, const std::string& id, uint64_t token) {
      when_idle([this, id, token] { on_restart_due(id, token); });
    },
    [this](dependency_canary_atom, uint64_t incident, uint64_t epoch,
           const std::string& id) {
      when_idle([this, incident, epoch, id] { on_canary(incident, epoch, id); });
    },
    [this](dependency_resume_atom, uint64_t incident, const std::string& id,
           caf::timespan delay) {
      when_idle([this, incident, id, delay] {
        on_dependency_back(incident, id, delay);
      });
    },
    [this](events_atom) { return feed_->hand_out(); },
    [this](resumed_atom, caf::error& reason, uint64_t resumes) {
      on_resumed(std::move(reason), resumes);
    },
    [this](fault_atom, fault_kind kind, const std::string& id,
           caf::timespan duration) -> caf::result<caf::ok_atom> {
      if (kind != fault_kind::slow_start && kind != fault_kind::start_failure)
        return make_error(errc::not_supported, path(),
                          "a supervisor arms only start faults; send "
                            + to_string(kind) + " to the child");
      if (children_.find(id) == children_.end())
        return no_child(id);
      armed_faults_[id] = fault{kind, child_path(*children_.find(id)),
                                duration};
      return caf::ok_atom::value;
    },
    [this](unhealthy_atom, const caf::actor& who,
           caf::error& reason) -> caf::result<caf::ok_atom> {
      auto c = who ? children_.find(who.address()) : children_.end();
      if (c == children_.end() || shutting_down_ || c->stop != nullptr)
        return make_error(errc::not_found, path(),
                          "no running child is actor "
                            + std::to_string(who ? who.id() : 0));
      if (!is(reason, errc::unhealthy))
        reason = make_error(errc::unhealthy, child_path(*c), reason);
      child_unhealthy(c, std::move(reason));
      return caf::ok_atom::value;
    });
}

caf::invoke_message_result
supervisor_actor::consume(caf::mailbox_element& x) {
  running_in_tree in_tree{feed_.get()};
  // The message that ends every start (see `crash_handled`) is the most
  // frequent: it skips CAF's message categories and behavior matching.
  auto& content = x.content();
  if (x.mid.is_async()
      && content.type_token() == caf::make_type_token<caf::atom_value>()
      && content.get_as<caf::atom_value>(0) == started_atom::value) {
    // As CAF's own `consume` does, for whatever the handling reads.
    current_mailbox_element(&x);
    auto c = children_.find(x.sender);
    if (c != children_.end() && c->start != nullptr)
      on_started(c);
    return caf::invoke_message_result::consumed;
  }
  return super::consume(x);
}

void supervisor_actor::on_exit() {
  // Whatever is still running dies with us (what a link would do), killed so
  // that no child outlives its supervisor.
  children_.for_each_running(
    [this](child& c) { send_exit(c.handle, caf::exit_reason::kill); });
  for (auto& c : children_)
    if (c.kept())
      discard_kept(c, true);
  for (auto& kvp : abandoned_)
    send_exit(kvp.second.handle, caf::exit_reason::kill);
  abandoned_.clear();
  if (board_)
    board_->forget(address());
  if (!started_)
    answer_started(start_failure_ ? start_failure_
                                  : caf::error{caf::exit_reason::user_shutdown});
  refuse_waiting(shutting_down_error());
  // CAF keeps a dead actor's object while handles to it exist: drop the
  // children's specs and start arguments now.
  stops_.clear();
  restarting_by_old_.clear();
  children_.clear();
  super::on_exit();
}

void supervisor_actor::on_exit_signal(caf::exit_msg& msg) {
  // CAF's `anon_send_exit` names the receiver as the source.
  auto anonymous = !msg.source || msg.source == address();
  // OTP's parent rule (gen_server's, which a supervisor is): the parent's
  // signal stops the tree with its reason, normal included.
  if (parent_ ? msg.source == parent_ : anonymous) {
    shutdown(std::move(msg.reason));
    return;
  }
  // A child's exit is handled through its monitor.
  if (children_.find(msg.source) != children_.end())
    return;
  report::exit_signal_ignored(system(), path(),
                              anonymous ? "anonymous" : name_of(msg.source),
                              msg.reason);
}

void supervisor_actor::enqueue(caf::mailbox_element_ptr x,
                               caf::execution_unit* host) {
  if (!bouncer_.bounced(this, x, explain()))
    super::enqueue(std::move(x), host);
}

bool supervisor_actor::cleanup(caf::error&& reason, caf::execution_unit* host) {
  bouncer_.close(this, reason, explain());
  return super::cleanup(std::move(reason), host);
}

caf::error supervisor_actor::receiver_down(const caf::error& reason) const {
  return detail::receiver_down(home_system(), path(), reason,
                               "its children ended with it, and no call to "
                               "it can be answered: start the tree again, or "
                               "give the supervisor a parent that restarts "
                               "it");
}

// -- starting -----------------------------------------------------------------

void supervisor_actor::start_child(iterator c, start_continuation k) {
  c->exit_pending = false;
  // Each feature costs a child without it one test here.
  if (TRELLIS_UNLIKELY(c->extras || c->spec.quarantine_after() > 0
                       || c->spec.keep_mailbox() || c->spec.decider()))
    prepare_start(*c);
  child_context ctx{system(),         caf::actor_cast<caf::actor>(this),
                    child_path(*c),   c->spec.id(),
                    c->restart_count, caf::message{c->args},
                    feed_,            c->spec.detached()};
  auto& start = ctx.start_;
  start.store = store_of(*c);
  start.fresh = spec_.dynamic() && c->restart_count == 0;
  // Older incarnations, hung ones included, may no longer save.
  start.incarnation = c->next_incarnation();
  if (auto& x = c->extras) {
    start.latest = x->latest;
    start.poison = x->poison;
    start.kept = x->kept;
    start.resume = x->resume;
  }
  start.forensics = c->spec.forensics();
  if (TRELLIS_UNLIKELY(!c->spec.nodes().empty())) {
    start.nodes = c->spec.nodes();
    start.lost = lost_nodes_;
  }
  start.listener = address();
  start.host = context();
  auto res = start_or_fault(c, ctx);
  if (TRELLIS_UNLIKELY(c->extras || ctx.latest() || !ctx.node().empty()
                       || !lost_nodes_.empty()))
    keep_placement(c, ctx);
  // An actor spawned through the context is monitored already, initialized
  // on this thread, or says when it is done (see `crash_handled`).
  auto init = ctx.initialization_of(res.actor());
  // Whatever is not a new actor of the declared kind: see `refuse_start`.
  if (TRELLIS_UNLIKELY(ctx.recovery_error() || res.ignored()
                       || ctx.refused_option() || res.error() || !res.actor()
                       || !init || c->spec.type() == child_type::supervisor)
      && refuse_start(c, res, ctx, k))
    return;
  auto& hdl = res.actor();
  c->spawned_by_context = init.has_value();
  if (!c->spawned_by_context)
    monitor(hdl);
  children_.bind(c, hdl);
  // Running once initialized (`on_started`); a snapshot meanwhile shows a
  // restart as still restarting.
  auto token = ++next_token_;
  auto& st = children_.begin_start(*c);
  st.token = token;
  st.k = std::move(k);
  ++pending_starts_;
  if (init == detail::init_outcome::done) {
    on_started(c);
    return;
  }
  if (!c->spawned_by_context)
    await_start(c, hdl, token);
}

void supervisor_actor::prepare_start(child& c) {
  // Whatever starts the child now supersedes a delayed restart, and a pause.
  if (c.extras) {
    c.extras->backoff.due_token = 0;
    unpause(c);
  }
  if (c.spec.quarantine_after() > 0 && !c.poison())
    c.more().poison = std::make_shared<quarantine>(child_path(c));
  if (c.spec.keep_mailbox() && !c.kept())
    c.more().kept = std::make_shared<kept_mailbox>(child_path(c));
  // Only a worker can resume: a supervisor child decides nothing itself.
  if (c.spec.decider() && c.spec.type() == child_type::worker && !c.resume())
    c.more().resume = std::make_shared<resume_limiter>(c.spec, address());
  if (auto kept = c.kept()) {
    // What did not fit is lost now, whatever the next incarnation handles.
    publish_lost(c, kept->take_lost());
    if (auto n = kept->held(); n > 0) {
      constexpr auto kind = lifecycle_kind::messages_kept;
      detail::tell(system(), listened(feed_.get()), kind, [&] {
        return event_about(kind, c, c.last_reason)
          .with_detail("messages=" + std::to_string(n));
      });
    }
  }
}

void supervisor_actor::keep_placement(iterator c, child_context& ctx) {
  // The first checkpoint made the child's `latest`: kept for the next.
  if (auto& latest = ctx.latest(); latest && !c->more().latest)
    c->extras->latest = latest;
  if (!ctx.node().empty() || c->extras)
    c->more().node = ctx.node();
  // A node that took a child is back.
  if (!lost_nodes_.empty())
    lost_nodes_.erase(std::remove(lost_nodes_.begin(), lost_nodes_.end(),
                                  c->node()),
                      lost_nodes_.end());
}

bool supervisor_actor::refuse_start(iterator c, start_result& res,
                                    child_context& ctx,
                                    start_continuation& k) {
  if (auto& err = ctx.recovery_error()) {
    if (res.actor())
      send_exit(res.actor(), caf::exit_reason::kill);
    res = err;
  }
  if (res.ignored()) {
    c->state = child_state::stopped;
    k(caf::none);
    return true;
  }
  if (auto option = ctx.refused_option()) {
    if (res.actor())
      send_exit(res.actor(), caf::exit_reason::kill);
    res = make_error(errc::invalid_spec, option,
                     "child '" + c->spec.id()
                       + "' is a blocking actor, whose mailbox and receive "
                         "loop its own thread holds: only event-based "
                         "children support "
                       + std::string{option});
  }
  // Not killed: the actor is another's, or the supervisor itself.
  auto adopted = !ctx.initialization_of(res.actor());
  if (adopted)
    if (auto err = check_adopted(*c, res.actor()))
      res = std::move(err);
  if (auto err = check_kind(*c, res.actor(), adopted)) {
    send_exit(res.actor(), caf::exit_reason::kill);
    res = std::move(err);
  }
  if (res.error() || !res.actor()) {
    c->state = child_state::restarting;
    c->last_reason = res.error()
                       ? res.error()
                       : make_error(errc::start_failed,
                                    "the factory returned an invalid actor "
                                    "handle");
    k(c->last_reason);
    return true;
  }
  return false;
}

void supervisor_actor::await_start(iterator c, const caf::actor& hdl,
                                   uint64_t token) {
  auto who = hdl.address();
  // Any other worker has started once it answers a system message, which CAF
  // answers after the actor's initialization, without user code. A
  // supervisor has started once all its children have.
  // The child may have gone, or started again, by the time the answer comes:
  // found by its incarnation and its start's token.
  auto starting = [this, who, token] {
    auto i = children_.find(who);
    return i != children_.end() && i->start != nullptr
               && i->start->token == token
             ? i
             : children_.end();
  };
  auto started = [this, starting] {
    if (auto i = starting(); i != children_.end())
      on_started(i);
  };
  auto on_error = [this, starting](caf::error& err) {
    auto i = starting();
    // The actor died before answering: its down message tells why.
    if (i == children_.end() || is(err, caf::sec::request_receiver_down))
      return;
    fail_start(i, std::move(err));
  };
  if (c->spec.type() == child_type::supervisor)
    request(hdl, caf::infinite, caf::get_atom::value, started_atom::value)
      .then([started](caf::ok_atom) { started(); }, on_error);
  else
    request(hdl, caf::infinite, caf::sys_atom::value, caf::get_atom::value,
            std::string{"info"})
      .then([started](caf::ok_atom, std::string&, caf::strong_actor_ptr&,
                      std::string&) { started(); },
            on_error);
}

caf::error supervisor_actor::check_kind(const child& c, const caf::actor& hdl,
                                        bool adopted) const {
  if (!hdl)
    return caf::none;
  // Its start would wait for an answer that its own receive loop keeps
  // from coming: CAF answers system messages for event-based actors only.
  if (adopted
      && dynamic_cast<caf::blocking_actor*>(
        caf::actor_cast<caf::abstract_actor*>(hdl)))
    return make_error(errc::start_failed, child_path(c),
                      "the factory returned a blocking actor that its "
                      "child_context did not spawn: no supervisor can tell "
                      "when it has started; spawn it with ctx.spawn");
  // A child declared a supervisor gets supervisors' requests (its start,
  // snapshots, lookups): a local actor of another kind would never answer.
  if (c.spec.type() != child_type::supervisor
      || hdl->node() != system().node()
      || dynamic_cast<supervisor_actor*>(
           caf::actor_cast<caf::abstract_actor*>(hdl)))
    return caf::none;
  return make_error(errc::start_failed, child_path(c),
                    "declared a supervisor (child_type::supervisor) but its "
                    "actor is not a Trellis supervisor: use supervisor(...) "
                    "for a subtree, or leave the type a worker");
}

caf::error supervisor_actor::check_adopted(const child& c,
                                           const caf::actor& hdl) {
  if (!hdl)
    return caf::none;
  auto why = [&](std::string what) {
    return make_error(errc::start_failed, child_path(c),
                      "the factory returned " + std::move(what)
                        + ": each child needs an actor of its own, such as "
                          "one spawned through its child_context");
  };
  // Its system would wait for ever, at its end, for an actor that this one
  // watches, and this one cannot stop it in order.
  if (&hdl->home_system() != &home_system())
    return why("an actor of another actor_system");
  auto addr = hdl.address();
  if (addr == address())
    return why("its own supervisor (ctx.supervisor())");
  if (addr == parent_)
    return why("the supervisor of its supervisor");
  if (auto i = children_.find(addr); i != children_.end())
    return why("the actor of child '" + i->spec.id()
               + "', which this supervisor supervises already");
  return caf::none;
}

start_result supervisor_actor::start_or_fault(iterator c, child_context& ctx) {
  // Most supervisors never arm a fault: no lookup by id per start.
  auto i = armed_faults_.empty() ? armed_faults_.end()
                                 : armed_faults_.find(c->spec.id());
  if (i == armed_faults_.end())
    return call_factory(c->spec, ctx);
  auto f = i->second;
  armed_faults_.erase(i);
  if (f.kind == fault_kind::start_failure)
    return make_error(errc::start_failed, child_path(*c), "injected fault");
  // A slow init blocks its supervisor, in OTP as here.
  std::this_thread::sleep_for(f.duration);
  return call_factory(c->spec, ctx);
}

void supervisor_actor::on_started(iterator c) {
  auto k = end_start(c);
  c->state = child_state::running;
  c->started_at = clock().now();
  // Each feature below costs a child without it one inline test.
  if (c->extras)
    forget_exit(*c);
  // OTP writes no progress report for a simple_one_for_one child: a large
  // dynamic supervisor would flood the log.
  if (!spec_.dynamic())
    report::child_started(path(), c->spec.id(),
                          c->handle ? c->handle.id() : caf::invalid_actor_id,
                          c->restart_count, c->node());
  publish(c->restart_pending ? lifecycle_kind::child_restarted
                             : lifecycle_kind::child_started,
          *c);
  c->restart_pending = false;
  if (c->spec.health_check())
    health_.watch(c);
  if (c->spec.takeover())
    arm_takeover(*c);
  if (!canaries_.empty())
    canary_ran(*c, true);
  k(caf::none);
}

supervisor_actor::start_continuation supervisor_actor::end_start(iterator c) {
  --pending_starts_;
  auto k = std::move(c->start->k);
  children_.end_start(*c);
  return k;
}

void supervisor_actor::fail_start(iterator c, caf::error reason) {
  auto k = end_start(c);
  c->state = child_state::restarting;
  if (c->handle) {
    // The actor may still run (it answered with an error): make sure it ends.
    demonitor(c->handle.address());
    send_exit(c->handle, caf::exit_reason::kill);
    children_.unbind(c);
  }
  c->last_reason = reason;
  if (c->extras)
    c->extras->backoff.ran_for = caf::timespan{0};
  k(std::move(reason));
}

/// A start of a group in progress (see `start_group`).
struct supervisor_actor::group_start {
  group g;
  size_t pos;
  bool undo;
  std::function<void(iterator, caf::error)> k;
  /// Whether `start_next` waits in `start_child` for the child at `pos`.
  bool waiting = false;
  /// Whether that child started before `start_child` returned.
  bool started_at_once = false;
};

void supervisor_actor::start_group(
  group g, size_t pos, bool undo,
  std::function<void(iterator, caf::error)> k) {
  start_next(std::make_shared<group_start>(
    group_start{std::move(g), pos, undo, std::move(k)}));
}

void supervisor_actor::start_next(std::shared_ptr<group_start> st) {
  // A child that started before `start_child` returned (it initialized on
  // this thread) goes on with this loop rather than call it again: a group
  // of thousands would recurse as deep.
  auto& g = *st->g;
  for (;;) {
    while (st->pos < g.size() && g[st->pos] == children_.end())
      ++st->pos;
    if (st->pos == g.size()) {
      st->k(children_.end(), caf::none);
      return;
    }
    auto c = g[st->pos];
    st->waiting = true;
    st->started_at_once = false;
    start_child(c, guarded([this, st, c](caf::error err) {
                  if (!err) {
                    if (drop_if_ignored(c))
                      (*st->g)[st->pos] = children_.end();
                    ++st->pos;
                    if (st->waiting)
                      st->started_at_once = true;
                    else
                      start_next(st);
                    return;
                  }
                  if (!st->undo) {
                    st->k(c, std::move(err));
                    return;
                  }
                  // Undo this start: stop what it started, newest first.
                  auto pos = static_cast<std::ptrdiff_t>(st->pos);
                  auto started = std::make_shared<std::vector<iterator>>(
                    st->g->rend() - pos, st->g->rend());
                  stops_.stop_group(std::move(started), 0,
                                    [c, st, err] { st->k(c, err); });
                }));
    st->waiting = false;
    if (!st->started_at_once)
      return;
  }
}

// -- stopping -----------------------------------------------------------------

void supervisor_actor::ask_child_to_stop(const child& c) {
  auto& hdl = c.handle;
  // A supervisor that a factory started as a tree of its own (not through
  // `supervisor_spec::as_child`) does not know us as its parent and would
  // ignore our signal: ask it as `stop_supervisor` does. What the context
  // spawned is none, and needs no cast (a failed one costs more than the
  // signal).
  auto sup = c.spawned_by_context
               ? nullptr
               : dynamic_cast<supervisor_actor*>(
                   caf::actor_cast<caf::abstract_actor*>(hdl));
  if (sup != nullptr && sup->parent_ != address())
    send(hdl, stop_atom::value, caf::error{caf::exit_reason::user_shutdown});
  else
    send_exit(hdl, caf::exit_reason::user_shutdown);
}

void supervisor_actor::child_stopped(iterator c, caf::error reason) {
  // One that had to be killed, exits abnormally, or is permanent and ends
  // by itself is reported (OTP's shutdown_error).
  if (!stopped_as_asked(c->spec.shutdown().kind(), c->spec.restart(),
                        reason))
    report::shutdown_error(system(), path(), c->spec.id(), reason);
  children_.unbind(c);
  publish(lifecycle_kind::child_exited, *c, reason);
  c->state = child_state::stopped;
  c->exit_pending = false;
  c->last_reason = std::move(reason);
  if (c->kept())
    discard_kept(*c, false);
}

// -- failures and restarts ----------------------------------------------------

void supervisor_actor::on_down(caf::down_msg& msg) {
  // An incarnation declared unhealthy that finally read its kill: what it
  // held could not go to its replacement, which started long ago.
  if (!abandoned_.empty())
    if (auto i = abandoned_.find(msg.source); i != abandoned_.end()) {
      auto c = children_.find(i->second.id);
      abandoned_.erase(i);
      if (c != children_.end() && c->kept())
        publish_lost(*c, c->kept()->take_lost());
      return;
    }
  auto c = children_.find(msg.source);
  if (c == children_.end())
    return; // An incarnation the supervisor already let go of.
  // Only an exception leaves a crash record to keep.
  std::shared_ptr<const crash_report> crash;
  if (is(msg.reason, errc::unhandled_exception))
    crash = keep_crash(*c, msg.source, msg.reason);
  if (c->poison())
    count_poison(*c, msg.source, msg.reason);
  // Taken whatever follows, so that no decision outlives its exit.
  std::optional<decision> decided;
  if (auto resume = c->resume())
    decided = resume->decided(msg.source, msg.reason);
  if (!c->node().empty()
      && is(msg.reason, caf::exit_reason::remote_link_unreachable)) {
    lose_node(c->node());
    msg.reason = make_error(errc::node_down, child_path(*c), c->node(),
                            "the connection to the node was lost");
  }
  if (c->stop != nullptr) {
    stops_.on_down(c, std::move(msg.reason));
    return;
  }
  if (c->start != nullptr) {
    children_.unbind(c);
    fail_start(c, std::move(msg.reason));
    return;
  }
  child_exited(c, std::move(msg.reason), decided, std::move(crash));
}

std::shared_ptr<const crash_report>
supervisor_actor::keep_crash(const child& c, const caf::actor_addr& who,
                             const caf::error& reason) {
  // A remote child's record stays on its node, where it crashed.
  if (!c.node().empty())
    return nullptr;
  auto record = take_crash_record(who.id());
  if (!record)
    return nullptr;
  auto x = std::make_shared<crash_report>();
  x->path = child_path(c);
  x->id = c.spec.id();
  x->restart_count = c.restart_count;
  x->time = caf::make_timestamp();
  x->reason = reason;
  x->message = std::move(record->message);
  x->last_messages = std::move(record->last_messages);
  x->trace = std::move(record->trace);
  x->state = std::move(record->state);
  x->state_error = std::move(record->state_error);
  if (crashes_.size() == max_crash_reports)
    crashes_.pop_front();
  crashes_.push_back(x);
  // Only the newest reports keep their message logs, which may be long: 64
  // reports of a child keeping 10,000 messages would hold 640,000.
  if (crashes_.size() > max_logged_crash_reports) {
    auto& older = crashes_[crashes_.size() - max_logged_crash_reports - 1];
    if (!older->last_messages.empty()) {
      auto stripped = std::make_shared<crash_report>(*older);
      stripped->last_messages.clear();
      stripped->last_messages.shrink_to_fit();
      older = std::move(stripped);
    }
  }
  report::crash(system(), path(), *x);
  return x;
}

void supervisor_actor::child_exited(iterator c, caf::error reason,
                                    std::optional<decision> decided,
                                    std::shared_ptr<const crash_report> crash) {
  // Only a backoff asks how long the child ran.
  if (c->state == child_state::running && c->spec.backoff())
    c->more().backoff.ran_for = clock().now() - c->started_at;
  if (spec_.dynamic())
    remember_exit(c);
  children_.unbind(c);
  publish(lifecycle_kind::child_exited, *c, reason, std::move(crash));
  c->last_reason = std::move(reason);
  c->decided = decided;
  c->exit_pending = true;
  c->state = child_state::restarting;
  if (shutting_down_)
    return;
  // Decide now, or after the current operation, unless something (such as
  // terminate_child) decided for this child in between. `when_idle`'s two
  // halves written out: now with `c` itself, later found again by id, since
  // the child may be gone by then.
  auto alone = restarts_alone(spec_.strategy());
  if (ops_.may_run_now(alone)) {
    handle_exit(c);
    return;
  }
  ops_.defer(
    [this, id = c->spec.id()] {
      auto i = children_.find(id);
      if (!shutting_down_ && i != children_.end() && i->exit_pending)
        handle_exit(i);
    },
    alone);
}

void supervisor_actor::handle_exit(iterator c) {
  c->exit_pending = false;
  exit_facts facts;
  facts.type = c->spec.restart();
  facts.dynamic = spec_.dynamic();
  facts.normal = is_normal_exit(c->last_reason);
  facts.significant = c->spec.significant();
  if (c->decided) {
    // The child asked its decider about this crash already.
    facts.decided = c->decided;
    c->decided.reset();
  } else if (auto& decider = c->spec.decider()) {
    try {
      facts.decided = decider(c->last_reason);
    } catch (...) {
      // A decider that throws cannot be trusted to have decided anything.
      facts.decided = decision::escalate;
    }
  }
  std::pair<uint64_t, std::string> incident;
  if (!facts.normal && !c->spec.dependencies().empty()) {
    incident = dependency_failed(*c, false);
    facts.dependency_down = incident.first != 0;
  }
  auto& backoff = c->spec.backoff();
  run(c,
      plan_exit(facts, budget_, clock().now(), backoff ? &*backoff : nullptr,
                backoff ? &c->more().backoff : nullptr,
                backoff ? jitter_(rng_) : 0.0),
      incident);
}

void supervisor_actor::run(iterator c, const exit_plan& plan,
                           const std::pair<uint64_t, std::string>& incident) {
  if (plan.report)
    report::child_terminated(system(), path(), c->spec.id(), c->last_reason,
                             c->restart_count);
  switch (plan.what) {
    case exit_plan::action::restart:
      restart_after(c, plan.delay);
      break;
    case exit_plan::action::pause:
      if (!pause(c, incident)) {
        // The incident closed meanwhile: an ordinary restart after all.
        auto& backoff = c->spec.backoff();
        auto retry = plan_restart(budget_, clock().now(),
                                  backoff ? &*backoff : nullptr,
                                  backoff ? &c->more().backoff : nullptr,
                                  backoff ? jitter_(rng_) : 0.0);
        retry.report = false;
        run(c, retry);
      }
      break;
    case exit_plan::action::leave_stopped:
      c->state = child_state::stopped;
      if (c->kept())
        discard_kept(*c, false);
      auto_shutdown_after(plan.significant);
      break;
    case exit_plan::action::remove:
      remove_child(c);
      auto_shutdown_after(plan.significant);
      break;
    case exit_plan::action::give_up:
      if (c->kept())
        discard_kept(*c, true);
      if (plan.reason == errc::reached_max_restart_intensity) {
        // About the supervisor itself: its path, the child's id.
        constexpr auto kind = lifecycle_kind::restart_given_up;
        detail::tell(system(), listened(feed_.get()), kind, [&] {
          return lifecycle_event::about(kind, path(), c->spec.id())
            .with_reason(c->last_reason)
            .with_restart_count(c->restart_count);
        });
      }
      shutdown(make_error(plan.reason, path(), c->spec.id(), c->last_reason));
      break;
  }
}

void supervisor_actor::restart_after(iterator c, caf::timespan delay) {
  if (!pacers_.empty()) {
    // Its turn in every limit above it; the latest one counts.
    auto at = clock().now() + delay;
    caf::timespan wait{0};
    for (auto& pacer : pacers_)
      wait = std::max(wait, pacer->reserve(at));
    delay += wait;
  }
  if (delay > caf::timespan{0}) {
    c->state = child_state::restarting;
    auto& b = c->more().backoff;
    b.due = clock().now() + delay;
    b.due_token = ++next_token_;
    delayed_send(this, delay, restart_due_atom::value, c->spec.id(),
                 b.due_token);
  } else {
    restart_group(c);
  }
}

dependency_board* supervisor_actor::board() {
  if (!board_)
    if (auto guard = system_guard::of(system()))
      board_ = guard->dependencies();
  return board_.get();
}

std::pair<uint64_t, std::string>
supervisor_actor::dependency_failed(const child& c, bool start) {
  auto b = board();
  if (b == nullptr)
    return {0, {}};
  return b->child_failed(c.spec.dependencies(), child_path(c), start,
                         clock().now());
}

bool supervisor_actor::pause(iterator c,
                             const std::pair<uint64_t, std::string>& incident) {
  auto b = board();
  if (b == nullptr
      || !b->pause(incident.second, incident.first, this, c->spec.id(),
                   child_path(*c), feed_))
    return false;
  c->state = child_state::restarting;
  c->more().backoff.paused_for = static_cast<uint32_t>(incident.first);
  return true;
}

void supervisor_actor::unpause(child& c) {
  if (c.paused_for() == 0)
    return;
  if (board_)
    board_->unpause(c.paused_for(), address(), c.spec.id());
  c.extras->backoff.paused_for = 0;
}

void supervisor_actor::on_canary(uint64_t incident, uint64_t epoch,
                                 const std::string& id) {
  auto c = children_.find(id);
  auto paused = !shutting_down_ && c != children_.end()
                && c->paused_for() == incident && !c->handle
                && c->state == child_state::restarting;
  if (!board_ || !board_->canary_answered(incident, epoch, paused, clock().now()))
    return;
  // The canary is the probe: restarted as the strategy restarts it,
  // uncharged; it settles once it runs (see `on_started`).
  c->extras->backoff.paused_for = 0;
  canaries_.erase(std::remove_if(canaries_.begin(), canaries_.end(),
                                 [&](auto& x) { return x.id == id; }),
                  canaries_.end());
  canaries_.push_back(canary_start{id, incident, epoch});
  restart_after(c, caf::timespan{0});
}

void supervisor_actor::canary_ran(const child& c, bool started) {
  auto i = std::find_if(canaries_.begin(), canaries_.end(),
                        [&](auto& x) { return x.id == c.spec.id(); });
  if (i == canaries_.end())
    return;
  if (started && board_)
    board_->canary_started(i->incident, i->epoch);
  canaries_.erase(i);
}

void supervisor_actor::on_dependency_back(uint64_t incident,
                                          const std::string& id,
                                          caf::timespan delay) {
  auto c = children_.find(id);
  if (shutting_down_ || c == children_.end()
      || c->paused_for() != incident || c->handle
      || c->state != child_state::restarting)
    return;
  c->extras->backoff.paused_for = 0;
  // Another of its dependencies may still be down.
  if (auto other = board()->open_incident(c->spec.dependencies());
      other.first != 0 && pause(c, other))
    return;
  restart_after(c, delay);
}

void supervisor_actor::auto_shutdown_after(bool significant) {
  auto mode = spec_.auto_shutdown();
  if (!significant || mode == trellis::auto_shutdown::never)
    return;
  if (mode == trellis::auto_shutdown::all_significant)
    for (auto& c : children_)
      if (c.spec.significant() && c.state != child_state::stopped)
        return;
  report::auto_shutdown(path(), to_string(mode));
  shutdown(caf::exit_reason::user_shutdown);
}

void supervisor_actor::retry_restart(iterator c) {
  // A retry while its dependency is down would only fail again: paused,
  // uncharged.
  if (!c->spec.dependencies().empty() && board() != nullptr)
    if (auto incident = board_->open_incident(c->spec.dependencies());
        incident.first != 0 && pause(c, incident))
      return;
  auto& backoff = c->spec.backoff();
  run(c, plan_restart(budget_, clock().now(), backoff ? &*backoff : nullptr,
                      backoff ? &c->more().backoff : nullptr,
                      backoff ? jitter_(rng_) : 0.0));
}

void supervisor_actor::on_restart_due(const std::string& id, uint64_t token) {
  auto c = children_.find(id);
  // Terminated, deleted, or restarted otherwise since: nothing is due.
  if (shutting_down_ || c == children_.end() || c->due_token() != token
      || c->state != child_state::restarting || c->handle)
    return;
  c->extras->backoff.due_token = 0;
  restart_group(c);
}

void supervisor_actor::restart_group(iterator c) {
  if (restarts_alone(spec_.strategy())) {
    // One child, whose actor is gone already: nothing to stop.
    ops_.begin(true);
    start_again(c, true);
    return;
  }
  ops_.begin(false);
  auto affected = std::make_shared<std::vector<iterator>>();
  auto [first, last] = detail::restart_group(spec_.strategy(),
                                             children_.begin(), c,
                                             children_.end());
  for (auto i = first; i != last; ++i)
    affected->push_back(i);
  auto to_stop = std::make_shared<std::vector<iterator>>(affected->rbegin(),
                                                         affected->rend());
  stops_.stop_group(to_stop, 0, guarded([this, c, affected] {
               for (auto& i : *affected) {
                 if (i != c && !restarts_with_group(i->spec.restart())) {
                   remove_child(i);
                   i = children_.end();
                 } else {
                   i->state = child_state::restarting;
                   i->restart_pending = true;
                   ++i->restart_count;
                 }
               }
               // As in OTP, a failed start keeps the children started
               // before it: the retry restarts the group from the child
               // that failed, and the children after it wait, stopped.
               start_group(
                 affected, 0, false,
                 guarded([this, affected](iterator failed, caf::error err) {
                   if (failed != children_.end()) {
                     auto i = std::find(affected->begin(), affected->end(),
                                        failed);
                     for (++i; i != affected->end(); ++i)
                       if (*i != children_.end()) {
                         (*i)->state = child_state::stopped;
                         (*i)->restart_pending = false;
                         // They wait for the failed child's retry now.
                         unpause(**i);
                       }
                     retry_later(failed, err);
                   }
                   ops_.end(false);
                 }));
             }));
}

void supervisor_actor::start_again(iterator c, bool overlapping) {
  c->state = child_state::restarting;
  c->restart_pending = true;
  ++c->restart_count;
  // Unguarded: a shutdown drops pending starts. Capturing two pointers, the
  // continuation fits std::function's own buffer: no allocation per restart.
  if (overlapping)
    start_child(c, [this, c](caf::error err) { started_again(c, err, true); });
  else
    start_child(c, [this, c](caf::error err) { started_again(c, err, false); });
}

void supervisor_actor::started_again(iterator c, const caf::error& err,
                                     bool overlapping) {
  if (err)
    retry_later(c, err);
  else
    drop_if_ignored(c);
  ops_.end(overlapping);
}

bool supervisor_actor::drop_if_ignored(iterator c) {
  if (c->handle || !removed_when_stopped(c->spec.restart(), spec_.dynamic()))
    return false;
  remove_child(c);
  return true;
}

void supervisor_actor::retry_later(iterator failed, const caf::error& err) {
  report::start_error(system(), path(), failed->spec.id(), err,
                      failed->restart_count);
  // As in OTP, the child that failed to start waits for the retry, which
  // charges the budget again and restarts its group from it (OTP's
  // try_again_restart with the failed child's id).
  failed->state = child_state::restarting;
  if (!canaries_.empty())
    canary_ran(*failed, false);
  if (!failed->spec.dependencies().empty()) {
    if (auto incident = dependency_failed(*failed, true);
        incident.first != 0 && pause(failed, incident))
      return;
    // Not at once, as OTP would: retries in a row would spend the
    // intensity in microseconds, before the failures of the other children
    // of the dependency arrive to open its incident.
    if (auto b = board()) {
      delayed_send(this, b->retry_pause(failed->spec.dependencies()),
                   try_again_atom::value, failed->spec.id());
      return;
    }
  }
  send(this, try_again_atom::value, failed->spec.id());
}

void supervisor_actor::shutdown(caf::error reason) {
  if (shutting_down_)
    return;
  shutting_down_ = true;
  children_.all_stopping();
  // Drop the continuations of whatever operation was running.
  guard_.cancel_all();
  if (pending_starts_ > 0)
    children_.for_each_running(
      [this](child& c) { children_.end_start(c); });
  pending_starts_ = 0;
  if (!started_ && !start_failure_)
    start_failure_ = reason;
  refuse_waiting(shutting_down_error());
  auto stopped = guarded([this, reason] {
    if (!started_)
      answer_started(reason);
    quit(reason);
  });
  if (spec_.dynamic()) {
    stops_.stop_all_parallel(std::move(stopped));
    return;
  }
  std::vector<iterator> all;
  all.reserve(children_.size());
  for (auto i = children_.begin(); i != children_.end(); ++i)
    all.push_back(i);
  stops_.stop_group(std::make_shared<std::vector<iterator>>(all.rbegin(),
                                                            all.rend()),
                    0, std::move(stopped));
}

// -- health checks ------------------------------------------------------------

void supervisor_actor::child_unhealthy(iterator c, caf::error reason) {
  tell(lifecycle_kind::child_unhealthy, *c, reason);
  // A stuck actor reads the kill only if its handler ever returns, and only
  // after what was already in its mailbox; until then it keeps its thread.
  // Forget it as the child's incarnation now, so that lookups find the
  // replacement, which starts at once, but keep watching it, so that it is
  // killed again should this supervisor exit first.
  send_exit(c->handle, caf::exit_reason::kill);
  abandoned_.emplace(c->handle.address(),
                     abandoned_incarnation{c->handle, c->spec.id()});
  if (c->start != nullptr) {
    // Not started yet: its start fails instead.
    children_.unbind(c);
    fail_start(c, std::move(reason));
    return;
  }
  // A remote child that stops answering most likely has a hung node.
  if (!c->node().empty())
    lose_node(c->node());
  child_exited(c, std::move(reason));
}

// -- events -------------------------------------------------------------------

lifecycle_event supervisor_actor::event_about(lifecycle_kind kind,
                                              const child& c,
                                              const caf::error& reason) const {
  return lifecycle_event::about(kind, child_path(c), c.spec.id())
    .with_reason(reason)
    .with_restart_count(c.restart_count)
    .with_node(c.node());
}

void supervisor_actor::publish_now(lifecycle_kind kind, const child& c,
                                   const caf::error& reason,
                                   std::shared_ptr<const crash_report> crash) {
  auto ev = event_about(kind, c, reason);
  ev.crash = std::move(crash);
  send(feed_->group(), std::move(ev));
}

void supervisor_actor::tell(lifecycle_kind kind, const child& c,
                            const caf::error& reason) {
  detail::tell(system(), listened(feed_.get()), kind,
               [&] { return event_about(kind, c, reason); });
}

// -- recovery -----------------------------------------------------------------

void supervisor_actor::remove_child(iterator c) {
  unpause(*c);
  // A child that left for good must not hand its state to a newcomer with
  // the same id.
  store_of(*c)->erase(child_path(*c));
  stops_.forget(c);
  forget_exit(*c);
  if (c->kept())
    discard_kept(*c, true);
  if (auto poison = c->poison())
    for (auto& x : poison->letters()) {
      if (retired_letters_.size() == quarantine::max_letters)
        retired_letters_.pop_front();
      retired_letters_.push_back(std::move(x));
    }
  children_.erase(c);
}

void supervisor_actor::remember_exit(iterator c) {
  // A restart that fails keeps the first exited actor, as OTP does.
  if (c->exited_as() || !c->handle)
    return;
  auto& old = c->more().exited_as;
  old = c->handle.address();
  restarting_by_old_.emplace(old, c);
}

void supervisor_actor::forget_exit(child& c) {
  if (!c.exited_as())
    return;
  restarting_by_old_.erase(c.extras->exited_as);
  c.extras->exited_as = caf::actor_addr{};
}

const std::shared_ptr<checkpoint_store>&
supervisor_actor::store_of(const child& c) const {
  return c.spec.checkpoint_store() ? c.spec.checkpoint_store() : checkpoints_;
}

void supervisor_actor::discard_kept(child& c, bool retire) {
  publish_lost(c, c.kept()->discard(retire));
}

void supervisor_actor::publish_lost(child& c, const lost_messages& lost) {
  if (lost.empty())
    return;
  constexpr auto kind = lifecycle_kind::messages_lost;
  detail::tell(system(), listened(feed_.get()), kind, [&] {
    return event_about(kind, c, c.last_reason)
      .with_detail("requests=" + std::to_string(lost.requests)
                   + " messages=" + std::to_string(lost.messages));
  });
}

void supervisor_actor::on_resumed(caf::error reason, uint64_t resumes) {
  auto c = children_.find(current_sender());
  // An incarnation the supervisor let go of (hung, abandoned) is no child.
  if (c == children_.end())
    return;
  constexpr auto kind = lifecycle_kind::child_resumed;
  detail::tell(system(), listened(feed_.get()), kind, [&] {
    return event_about(kind, *c, reason)
      .with_detail("resumes=" + std::to_string(resumes));
  });
}

void supervisor_actor::count_poison(child& c, const caf::actor_addr& who,
                                    const caf::error& reason) {
  auto letter = c.poison()->count_exit(who, reason,
                                     static_cast<size_t>(c.spec.quarantine_after()));
  if (!letter)
    return;
  constexpr auto kind = lifecycle_kind::message_quarantined;
  detail::tell(system(), listened(feed_.get()), kind, [&] {
    auto ev = event_about(kind, c, letter->reason);
    ev.detail = "crashes=" + std::to_string(letter->crashes) + " message="
                + caf::to_string(letter->content).substr(0, 200);
    ev.time = letter->quarantined_at;
    return ev;
  });
}

std::vector<crash_report> supervisor_actor::crash_reports() const {
  std::vector<crash_report> result;
  result.reserve(crashes_.size());
  for (auto& x : crashes_)
    result.push_back(*x);
  return result;
}

std::vector<dead_letter> supervisor_actor::dead_letters() const {
  std::vector<dead_letter> result{retired_letters_.begin(),
                                  retired_letters_.end()};
  for (auto& c : children_)
    if (auto poison = c.poison())
      for (auto& x : poison->letters())
        result.push_back(std::move(x));
  return result;
}

// -- helpers ------------------------------------------------------------------

void supervisor_actor::lose_node(const std::string& node) {
  if (std::find(lost_nodes_.begin(), lost_nodes_.end(), node)
      == lost_nodes_.end())
    lost_nodes_.push_back(node);
}

std::string supervisor_actor::child_path(const child& c) const {
  return children_.path_of(c);
}

caf::error supervisor_actor::shutting_down_error() const {
  return make_error(errc::shutting_down, path());
}

void supervisor_actor::refuse_waiting(const caf::error& reason) {
  // Every request got a promise; none may be left unanswered, or a caller
  // with an infinite timeout would wait forever.
  shutting_down_ = true;
  health_.close();
  ops_.close(reason);
  for (auto& kvp : open_snapshots_)
    kvp.second.deliver(reason);
  open_snapshots_.clear();
}

void supervisor_actor::answer_started(const caf::error& err) {
  for (auto& rp : started_waiters_) {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(caf::ok_atom::value);
  }
  started_waiters_.clear();
}

child_info supervisor_actor::info_of(const child& c) const {
  child_info x;
  x.id = c.spec.id();
  x.actor = c.handle;
  x.type = c.spec.type();
  x.restart_type = c.spec.restart();
  x.state = c.state;
  x.restart_count = c.restart_count;
  x.node = c.node();
  x.needed_for_readiness = c.spec.needed_for_readiness();
  if (c.extras)
    x.missed_health_checks
      = static_cast<uint32_t>(std::max(0, c.extras->health.missed));
  x.health_checked = c.spec.health_check().has_value();
  x.suspicion = health_.suspicion(c);
  if (c.last_reason)
    x.last_exit_reason = system().render(c.last_reason);
  if (c.due_token() != 0 && c.state == child_state::restarting)
    x.restart_due_in = std::max(caf::timespan{0},
                                c.extras->backoff.due - clock().now());
  if (c.paused_for() != 0 && board_)
    x.paused_for = board_->dependency_of(c.paused_for());
  return x;
}

std::vector<child_info> supervisor_actor::which_children() {
  std::vector<child_info> result;
  result.reserve(children_.size());
  for (auto& c : children_)
    result.emplace_back(info_of(c));
  return result;
}

child_counts supervisor_actor::count_children() {
  child_counts result;
  // A dynamic supervisor has one spec, its template (OTP).
  if (spec_.dynamic())
    result.specs = 1;
  for (auto& c : children_) {
    if (!spec_.dynamic())
      ++result.specs;
    if (c.handle && c.state == child_state::running)
      ++result.active;
    if (c.spec.type() == child_type::supervisor)
      ++result.supervisors;
    else
      ++result.workers;
  }
  return result;
}

} // namespace trellis::detail
