#include "trellis/supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <caf/local_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "blocking_call.hpp"
#include "supervisor_actor.hpp"
#include "system_guard.hpp"
#include "trellis/atoms.hpp"
#include "trellis/errc.hpp"

namespace trellis {

namespace {

// The runtime API's one request and its wait, bounded by `timeout`.
template <class T, class... Ts>
caf::expected<T> ask(caf::actor_system& sys, caf::timespan timeout,
                     const caf::actor& sup, Ts&&... xs) {
  return detail::call_within<T>(sys, detail::call_timeout(timeout), sup,
                                std::forward<Ts>(xs)...);
}

template <class... Ts>
caf::error ask_ok(caf::actor_system& sys, caf::timespan timeout,
                  const caf::actor& sup, Ts&&... xs) {
  return detail::call_for_ok(sys, detail::call_timeout(timeout), sup,
                             std::forward<Ts>(xs)...);
}

} // namespace

namespace {

caf::expected<caf::actor> spawn_root(caf::actor_system& sys,
                                     const supervisor_spec& spec,
                                     caf::actor_addr parent) {
  if (auto err = spec.validate())
    return err;
  auto guard = detail::system_guard::of(sys);
  if (!guard)
    return make_error(errc::not_configured,
                      "call trellis::configure(cfg) on the "
                      "caf::actor_system_config before creating the actor "
                      "system: it installs what stops trees in order when the "
                      "system goes");
  // A root supervisor makes its tree's event group; nested ones inherit it.
  auto root = detail::supervisor_actor::spawn(
    sys, spec, spec.id(),
    std::make_shared<detail::event_feed>(sys.groups().anonymous()),
    std::move(parent));
  if (auto err = guard->hold(root)) {
    caf::anon_send_exit(root, caf::exit_reason::kill);
    return err;
  }
  return root;
}

} // namespace

caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec) {
  return spawn_root(sys, spec, {});
}

caf::expected<caf::actor> spawn_supervisor(caf::local_actor* parent,
                                           const supervisor_spec& spec) {
  if (parent == nullptr)
    return make_error(errc::not_found,
                      "spawn_supervisor got no parent actor: pass `self`, "
                      "or the actor system to start a tree without one");
  auto sup = spawn_root(parent->home_system(), spec, parent->address());
  // OTP's start_link: the parent's exit stops the tree, and the tree's
  // abnormal exit reaches the parent as an exit message.
  if (sup)
    parent->link_to(*sup);
  return sup;
}

caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec,
                                           caf::timespan timeout) {
  auto sup = spawn_supervisor(sys, spec);
  if (!sup)
    return sup;
  auto failure = ask_ok(sys, timeout, *sup, caf::get_atom::value,
                             started_atom::value);
  if (!failure)
    return sup;
  if (is(failure, errc::timeout)) {
    // Nobody would hold a handle to a tree still starting.
    detail::supervisor_actor::ask_to_stop(*sup,
                                          caf::exit_reason::user_shutdown);
    return failure;
  }
  // The supervisor rolled back and exits; report why once it is gone. If it
  // failed before it read our request, its exit reason is the answer.
  auto reason = await_exit(sys, *sup);
  if (is(failure, caf::sec::request_receiver_down))
    return reason;
  return failure;
}

namespace {

// Sends `reason` (unless null) and waits for the down message of `sup`,
// whose reason goes to `exit_reason`. Returns why the call failed, if it did.
caf::error exit_and_await(caf::actor_system& sys, const caf::actor& sup,
                          caf::error* reason, caf::timespan timeout,
                          const char* what, caf::error& exit_reason) {
  // CAF's monitor dereferences a null handle (and no down message could
  // come).
  if (!sup)
    return make_error(errc::not_found, "invalid supervisor handle");
  if (auto err = detail::refuse_calling_self(sup, what))
    return err;
  caf::scoped_actor self{sys, true};
  self->monitor(sup);
  // Not an exit signal: a supervisor obeys only its parent's.
  if (reason)
    detail::supervisor_actor::ask_to_stop(sup, std::move(*reason));
  caf::error result;
  self->receive(
    [&](caf::down_msg& msg) { exit_reason = std::move(msg.reason); },
    caf::after(std::min(timeout, detail::longest_span))
      >> [&] {
      result = detail::name_timeout(caf::sec::request_timeout, what,
                                    detail::call_timeout(timeout));
    });
  return result;
}

} // namespace

caf::error stop_supervisor(caf::actor_system& sys, const caf::actor& sup,
                           caf::error reason, caf::timespan timeout) {
  caf::error exit_reason;
  return exit_and_await(sys, sup, &reason, timeout, "stop_supervisor",
                        exit_reason);
}

caf::error await_exit(caf::actor_system& sys, const caf::actor& sup,
                      caf::timespan timeout) {
  caf::error exit_reason;
  if (auto err = exit_and_await(sys, sup, nullptr, timeout, "await_exit",
                                exit_reason))
    return err;
  return exit_reason;
}

caf::error shutdown_system(caf::actor_system& sys, const caf::actor& root,
                           caf::timespan shutdown_time, size_t remaining) {
  auto deadline = std::chrono::steady_clock::now() + shutdown_time;
  if (root) {
    caf::scoped_actor self{sys, true};
    self->monitor(root);
    detail::supervisor_actor::ask_to_stop(root,
                                          caf::exit_reason::user_shutdown);
    bool gone = false;
    self->receive([&](caf::down_msg&) { gone = true; },
                  caf::after(shutdown_time) >> [] {});
    if (!gone)
      return make_error(errc::abandoned, "the tree did not stop within the "
                                         "shutdown time");
  }
  // What may remain: the tree's stragglers (killed, abandoned incarnations)
  // and the caller's own actors.
  if (auto left = detail::await_running(sys, remaining, deadline); left > 0)
    return make_error(errc::abandoned,
                      std::to_string(left)
                        + " actors still running after the shutdown time");
  return caf::none;
}

caf::expected<caf::actor> start_child(caf::actor_system& sys,
                                      const caf::actor& sup, child_spec spec,
                                      caf::timespan timeout) {
  return ask<caf::actor>(sys, timeout, sup, start_child_atom::value,
                         std::move(spec));
}

caf::expected<caf::actor> start_child(caf::actor_system& sys,
                                      const caf::actor& sup,
                                      caf::message args,
                                      caf::timespan timeout) {
  return ask<caf::actor>(sys, timeout, sup, start_child_atom::value,
                         std::move(args));
}

caf::error terminate_child(caf::actor_system& sys, const caf::actor& sup,
                           const std::string& id,
                           caf::timespan timeout) {
  return ask_ok(sys, timeout, sup, terminate_child_atom::value, id);
}

caf::error terminate_child(caf::actor_system& sys, const caf::actor& sup,
                           const caf::actor& child,
                           caf::timespan timeout) {
  return ask_ok(sys, timeout, sup, terminate_child_atom::value, child);
}

caf::expected<caf::actor> restart_child(caf::actor_system& sys,
                                        const caf::actor& sup,
                                        const std::string& id,
                                        caf::timespan timeout) {
  return ask<caf::actor>(sys, timeout, sup, restart_child_atom::value, id);
}

caf::error delete_child(caf::actor_system& sys, const caf::actor& sup,
                        const std::string& id,
                        caf::timespan timeout) {
  return ask_ok(sys, timeout, sup, delete_child_atom::value, id);
}

caf::expected<std::vector<child_info>>
which_children(caf::actor_system& sys, const caf::actor& sup,
               caf::timespan timeout) {
  return ask<std::vector<child_info>>(sys, timeout, sup,
                                              which_children_atom::value);
}

caf::expected<child_info> which_child(caf::actor_system& sys,
                                      const caf::actor& sup,
                                      const std::string& id,
                                      caf::timespan timeout) {
  return ask<child_info>(sys, timeout, sup, which_child_atom::value, id);
}

caf::expected<child_counts> count_children(caf::actor_system& sys,
                                           const caf::actor& sup,
                                           caf::timespan timeout) {
  return ask<child_counts>(sys, timeout, sup, count_children_atom::value);
}

caf::expected<child_spec> get_childspec(caf::actor_system& sys,
                                        const caf::actor& sup,
                                        const std::string& id,
                                        caf::timespan timeout) {
  return ask<child_spec>(sys, timeout, sup, get_childspec_atom::value,
                         id);
}

caf::expected<tree_snapshot> snapshot(caf::actor_system& sys,
                                      const caf::actor& sup,
                                      caf::timespan timeout) {
  return ask<tree_snapshot>(sys, timeout, sup, snapshot_atom::value);
}

caf::expected<caf::group> lifecycle_events(caf::actor_system& sys,
                                           const caf::actor& sup,
                                           caf::timespan timeout) {
  return ask<caf::group>(sys, timeout, sup, events_atom::value);
}

caf::expected<caf::actor> lookup(caf::actor_system& sys,
                                 const caf::actor& root,
                                 const std::string& path,
                                 caf::timespan timeout) {
  return ask<caf::actor>(sys, timeout, root, lookup_atom::value, path);
}

caf::expected<std::vector<dead_letter>> dead_letters(caf::actor_system& sys,
                                                     const caf::actor& sup,
    caf::timespan timeout) {
  return ask<std::vector<dead_letter>>(sys, timeout, sup,
                                               dead_letters_atom::value);
}

caf::expected<std::vector<crash_report>>
crash_reports(caf::actor_system& sys, const caf::actor& sup,
              caf::timespan timeout) {
  return ask<std::vector<crash_report>>(sys, timeout, sup,
                                        crash_reports_atom::value);
}

} // namespace trellis
