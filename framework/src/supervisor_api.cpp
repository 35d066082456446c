// The runtime API of `supervisor_actor` (OTP's start_child, terminate_child,
// restart_child, delete_child, which_children, count_children,
// get_childspec), snapshots and path lookups.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/attachable.hpp>

#include "distribution.hpp"
#include "spec_depth.hpp"
#include "supervisor_actor.hpp"
#include "trellis/atoms.hpp"
#include "trellis/errc.hpp"

namespace trellis::detail {

namespace {

/// Whether `x` has exited. Read under the actor's own lock: CAF runs an
/// attachable at once when attached to an actor that is gone.
bool has_exited(const caf::actor& x) {
  struct probe : caf::attachable {
    explicit probe(std::shared_ptr<std::atomic<bool>> f) : flag(std::move(f)) {
      // nop
    }
    void actor_exited(const caf::error&, caf::execution_unit*) override {
      *flag = true;
    }
    bool matches(const token& what) override {
      return what.subtype == token::anonymous && what.ptr == this;
    }
    std::shared_ptr<std::atomic<bool>> flag;
  };
  auto flag = std::make_shared<std::atomic<bool>>(false);
  auto ptr = new probe(flag);
  auto self = caf::actor_cast<caf::abstract_actor*>(x);
  self->attach(caf::attachable_ptr{ptr});
  if (*flag)
    return true;
  // Alive: take the probe off again rather than keep it until it exits.
  self->detach(caf::attachable::token{caf::attachable::token::anonymous, ptr});
  return *flag;
}

} // namespace

caf::message_handler supervisor_actor::api_handlers() {
  return {
    [this](start_child_atom, child_spec& spec) -> caf::result<caf::actor> {
      return queue_request([this, spec = std::move(spec)](auto& rp) mutable {
        api_start_child(std::move(spec), rp);
      });
    },
    // A const reference: a mutable one makes CAF copy the request first.
    [this](start_child_atom,
           const caf::message& args) -> caf::result<caf::actor> {
      // Dynamic children are independent: their starts may overlap.
      return queue_request(
        [this, args](auto& rp) mutable {
          api_start_dynamic_child(std::move(args), rp);
        },
        spec_.dynamic());
    },
    [this](terminate_child_atom,
           const std::string& id) -> caf::result<caf::ok_atom> {
      return queue_request([this, id](auto& rp) {
        auto c = children_.find(id);
        if (c == children_.end())
          rp.deliver(no_child(id));
        else
          api_terminate_child(c, rp);
      });
    },
    [this](terminate_child_atom,
           const caf::actor& child) -> caf::result<caf::ok_atom> {
      return queue_request([this, child](auto& rp) {
        auto c = child ? children_.find(child.address()) : children_.end();
        if (c == children_.end() && child && spec_.dynamic()) {
          // OTP's simple_one_for_one also finds a restarting child by the
          // actor it restarts from, and is done with an actor that is gone.
          auto i = restarting_by_old_.find(child.address());
          if (i != restarting_by_old_.end())
            c = i->second;
          else if (has_exited(child))
            return rp.deliver(caf::ok_atom::value);
        }
        if (c == children_.end())
          rp.deliver(make_error(errc::not_found, path(),
                                "no child runs actor "
                                  + std::to_string(child ? child.id() : 0)));
        else
          api_terminate_child(c, rp);
      });
    },
    [this](restart_child_atom,
           const std::string& id) -> caf::result<caf::actor> {
      return queue_request(
        [this, id](auto& rp) { api_restart_child(id, rp); });
    },
    [this](delete_child_atom,
           const std::string& id) -> caf::result<caf::ok_atom> {
      return queue_request(
        [this, id](auto& rp) { rp.deliver(api_delete_child(id)); });
    },
    [this](get_childspec_atom,
           const std::string& id) -> caf::result<child_spec> {
      return queue_request(
        [this, id](auto& rp) { rp.deliver(api_get_childspec(id)); });
    },
    [this](which_children_atom) -> caf::result<std::vector<child_info>> {
      return queue_request([this](auto& rp) { rp.deliver(which_children()); });
    },
    [this](which_child_atom,
           const std::string& id) -> caf::result<child_info> {
      return queue_request([this, id](auto& rp) {
        auto c = children_.find(id);
        if (c == children_.end())
          rp.deliver(no_child(id));
        else
          rp.deliver(info_of(*c));
      });
    },
    [this](count_children_atom) -> caf::result<child_counts> {
      return queue_request([this](auto& rp) { rp.deliver(count_children()); });
    },
    [this](snapshot_atom) -> caf::result<tree_snapshot> {
      auto rp = make_response_promise();
      api_snapshot(rp);
      return rp;
    },
    [this](lookup_atom, const std::string& path) -> caf::result<caf::actor> {
      return api_lookup(path);
    },
    [this](dead_letters_atom) { return dead_letters(); },
    [this](crash_reports_atom) { return crash_reports(); },
  };
}

// -- errors -------------------------------------------------------------------

caf::error supervisor_actor::unsupported(const char* op,
                                         bool for_dynamic) const {
  if (spec_.dynamic() == for_dynamic)
    return caf::none;
  return make_error(errc::not_supported, path(),
                    std::string{op}
                      + (for_dynamic ? " needs a dynamic supervisor"
                                     : " does not apply to a dynamic "
                                       "supervisor"));
}

caf::error supervisor_actor::no_child(const std::string& id) const {
  return make_error(errc::not_found, path(), id);
}

// -- operations ---------------------------------------------------------------

void supervisor_actor::api_start_child(child_spec spec,
                                       caf::response_promise& rp) {
  if (auto err = unsupported("start_child with a child spec", false))
    return rp.deliver(std::move(err));
  // A subtree counts from this supervisor's level (its path has one id a
  // level).
  detail::spec_depth above{
    static_cast<size_t>(std::count(path().begin(), path().end(), '/')) + 1};
  if (auto err = spec.validate())
    return rp.deliver(std::move(err));
  if (auto err = spec_.check_significance(spec))
    return rp.deliver(std::move(err));
  auto existing = children_.find(spec.id());
  if (existing != children_.end()) {
    if (existing->handle)
      return rp.deliver(make_error(errc::already_started, path(), spec.id(),
                                   "actor "
                                     + std::to_string(existing->handle.id())));
    return rp.deliver(make_error(errc::already_present, path(), spec.id()));
  }
  start_new_child(children_.add(std::move(spec)), rp);
}

void supervisor_actor::api_start_dynamic_child(caf::message args,
                                               caf::response_promise& rp) {
  if (auto err = unsupported("start_child with arguments", true))
    return rp.deliver(std::move(err));
  auto limit = spec_.max_children();
  if (limit && children_.size() >= static_cast<size_t>(*limit))
    return rp.deliver(make_error(errc::max_children, path(),
                                 std::to_string(*limit)));
  // Dynamic children get ids of their own, so paths and snapshots name them.
  auto spec = spec_.children().front();
  // One allocation for the id, none for temporaries.
  char digits[24];
  auto n = std::to_chars(digits, digits + sizeof(digits), ++next_dynamic_id_)
             .ptr;
  std::string id;
  id.reserve(spec.id().size() + 1 + static_cast<size_t>(n - digits));
  id += spec.id();
  id += '#';
  id.append(digits, n);
  spec.id(std::move(id));
  auto c = children_.add(std::move(spec));
  c->args = std::move(args.vals());
  start_new_child(c, rp, true);
}

void supervisor_actor::start_new_child(iterator c, caf::response_promise& rp,
                                       bool overlapping) {
  auto op = begin_reply(std::move(rp), overlapping);
  start_child(c, guarded([this, c, op](caf::error err) {
                if (err) {
                  // OTP drops the spec of a child that failed to start.
                  remove_child(c);
                  reply(op, std::move(err));
                  return;
                }
                caf::actor hdl = c->handle;
                // OTP keeps neither a temporary child nor a dynamic one that
                // answered `ignore`; a temporary child never restarts (unless
                // a decider says so), so it needs no arguments either.
                if (!hdl
                    && removed_when_stopped(c->spec.restart(),
                                            spec_.dynamic()))
                  remove_child(c);
                else if (c->spec.restart() == restart::temporary
                         && !c->spec.decider())
                  c->args.reset();
                reply(op, std::move(hdl));
              }));
}

void supervisor_actor::api_terminate_child(iterator c,
                                           caf::response_promise& rp) {
  auto op = begin_reply(std::move(rp));
  stops_.stop(c, guarded([this, c, op] {
               // A decision on an earlier exit of this child is moot now.
               c->exit_pending = false;
               if (c->extras)
                 c->extras->backoff.due_token = 0;
               unpause(*c);
               c->state = child_state::stopped;
               if (removed_when_stopped(c->spec.restart(), spec_.dynamic()))
                 remove_child(c);
               reply(op, caf::ok_atom::value);
             }));
}

void supervisor_actor::api_restart_child(const std::string& id,
                                         caf::response_promise& rp) {
  if (auto err = unsupported("restart_child", false))
    return rp.deliver(std::move(err));
  auto c = children_.find(id);
  if (c == children_.end())
    return rp.deliver(no_child(id));
  if (c->handle)
    return rp.deliver(make_error(errc::running, path(), id));
  if (c->state == child_state::restarting)
    return rp.deliver(restarting_error(*c));
  auto op = begin_reply(std::move(rp));
  start_child(c, guarded([this, c, op](caf::error err) {
                if (err) {
                  c->state = child_state::stopped;
                  reply(op, std::move(err));
                  return;
                }
                reply(op, c->handle);
              }));
}

caf::expected<caf::ok_atom>
supervisor_actor::api_delete_child(const std::string& id) {
  if (auto err = unsupported("delete_child", false))
    return err;
  auto c = children_.find(id);
  if (c == children_.end())
    return no_child(id);
  if (c->handle)
    return make_error(errc::running, path(), id);
  if (c->state == child_state::restarting)
    return restarting_error(*c);
  remove_child(c);
  return caf::ok_atom::value;
}

caf::error supervisor_actor::restarting_error(const child& c) const {
  if (c.paused_for() != 0 && board_)
    // OTP's answer, saying what it waits for and how to act now.
    return make_error(errc::restarting, path(), c.spec.id(),
                      "paused until the incident of dependency '"
                        + board_->dependency_of(c.paused_for())
                        + "' closes; terminate_child stops it now");
  return make_error(errc::restarting, path(), c.spec.id());
}

caf::expected<child_spec>
supervisor_actor::api_get_childspec(const std::string& id) {
  auto c = children_.find(id);
  if (c == children_.end())
    return no_child(id);
  return c->spec;
}

// -- seeing the tree ----------------------------------------------------------

namespace {

void name_node(std::vector<tree_snapshot>& xs, const std::string& node) {
  for (auto& x : xs) {
    if (x.node.empty())
      x.node = node;
    name_node(x.children, node);
  }
}

} // namespace

tree_snapshot supervisor_actor::node_of(const child& c) {
  tree_snapshot x;
  static_cast<child_info&>(x) = info_of(c);
  x.path = child_path(c);
  if (c.handle && c.state == child_state::running)
    x.uptime = clock().now() - c.started_at;
  return x;
}

void supervisor_actor::api_snapshot(caf::response_promise rp) {
  struct gathering {
    tree_snapshot root;
    size_t pending = 1; // This call's own share; see `one_done`.
    uint64_t token;
  };
  auto g = std::make_shared<gathering>();
  g->token = ++next_snapshot_;
  open_snapshots_.emplace(g->token, std::move(rp));
  g->root.path = path();
  g->root.id = spec_.id();
  g->root.type = child_type::supervisor;
  g->root.state = child_state::running;
  g->root.actor = caf::actor_cast<caf::actor>(this);
  g->root.uptime = clock().now() - started_at_;
  g->root.intensity = budget_.intensity();
  g->root.restarts_left = budget_.remaining(clock().now());
  g->root.children.reserve(children_.size());
  auto one_done = [this, g] {
    if (--g->pending > 0)
      return;
    auto i = open_snapshots_.find(g->token);
    if (i == open_snapshots_.end())
      return; // Answered already, when this supervisor stopped.
    i->second.deliver(std::move(g->root));
    open_snapshots_.erase(i);
  };
  for (auto& c : children_) {
    auto index = g->root.children.size();
    g->root.children.emplace_back(node_of(c));
    if (c.spec.type() != child_type::supervisor || !c.handle)
      continue;
    ++g->pending;
    // A child supervisor that is gone by now shows without children.
    // A remote subtree's node may hang: wait no longer than for a spawn.
    auto d = installed_distribution();
    auto timeout = c.node().empty() || d == nullptr
                     ? caf::duration{caf::infinite}
                     : caf::duration{d->spawn_timeout(system())};
    request(c.handle, timeout, snapshot_atom::value)
      .then(
        [g, index, one_done, node = c.node()](tree_snapshot& sub) {
          auto& entry = g->root.children[index];
          entry.intensity = sub.intensity;
          entry.restarts_left = sub.restarts_left;
          // Nodes below a remote subtree are local to its node.
          if (!node.empty())
            name_node(sub.children, node);
          entry.children = std::move(sub.children);
          one_done();
        },
        [one_done](caf::error&) { one_done(); });
  }
  one_done();
}

bool supervisor_actor::awaits_group_retry(iterator c) {
  // A retry restarts the group of the child that failed to start (see
  // `restart_group`): every child under one_for_all, it and the ones after
  // it under rest_for_one.
  auto retrying = [](const child& x) {
    return x.state == child_state::restarting && !x.handle;
  };
  switch (spec_.strategy()) {
    case strategy::one_for_all:
      return std::any_of(children_.begin(), children_.end(), retrying);
    case strategy::rest_for_one:
      return std::any_of(children_.begin(), c, retrying);
    default:
      return false;
  }
}

caf::result<caf::actor>
supervisor_actor::api_lookup(const std::string& target) {
  if (target == path())
    return caf::actor_cast<caf::actor>(this);
  auto prefix = path() + '/';
  if (target.compare(0, prefix.size(), prefix) != 0)
    return make_error(errc::not_found, target, "not under " + path());
  auto slash = target.find('/', prefix.size());
  auto id = target.substr(prefix.size(), slash == std::string::npos
                                           ? std::string::npos
                                           : slash - prefix.size());
  auto c = children_.find(id);
  if (c == children_.end())
    return make_error(errc::not_found, target, "no child " + id);
  if (!c->handle) {
    if (c->state == child_state::restarting)
      return make_error(errc::restarting, target, "child " + id
                                                    + " is restarting");
    // Stopped, but started again by its group's pending retry: a stable
    // handle must wait for it rather than give up.
    if (awaits_group_retry(c))
      return make_error(errc::restarting, target,
                        "child " + id
                          + " is stopped until its group's restart is "
                            "retried");
    return make_error(errc::not_found, target, "child " + id + " is "
                                                 + to_string(c->state));
  }
  if (slash == std::string::npos)
    return c->handle;
  if (c->spec.type() != child_type::supervisor)
    return make_error(errc::not_found, target, id + " is a worker");
  // The child supervisor answers the caller directly.
  delegate(c->handle, lookup_atom::value, target);
  return caf::delegated<caf::actor>{};
}

} // namespace trellis::detail
