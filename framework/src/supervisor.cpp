#include "trellis/supervisor.hpp"

#include <chrono>
#include <thread>
#include <utility>

#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>

#include "blocking_call.hpp"
#include "supervisor_actor.hpp"
#include "trellis/atoms.hpp"
#include "trellis/errc.hpp"

namespace trellis {

using detail::call;
using detail::call_for_ok;

caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec) {
  if (auto err = spec.validate())
    return err;
  // A root supervisor makes its tree's event group; nested ones inherit it.
  return detail::supervisor_actor::spawn(
    sys, spec, spec.id(),
    std::make_shared<detail::event_feed>(sys.groups().anonymous()));
}

caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec) {
  auto sup = spawn_supervisor(sys, spec);
  if (!sup)
    return sup;
  caf::scoped_actor self{sys};
  caf::error failure;
  self->request(*sup, caf::infinite, caf::get_atom::value, started_atom::value)
    .receive([](caf::ok_atom) {},
             [&](caf::error& err) { failure = std::move(err); });
  if (!failure)
    return sup;
  // The supervisor rolled back and exits; report why once it is gone. If it
  // failed before it read our request, its exit reason is the answer.
  auto reason = await_exit(sys, *sup);
  if (is(failure, caf::sec::request_receiver_down))
    return reason;
  return failure;
}

caf::error stop_supervisor(caf::actor_system& sys, const caf::actor& sup,
                           caf::error reason) {
  // CAF's monitor dereferences a null handle (and no down message could
  // come).
  if (!sup)
    return make_error(errc::not_found, "invalid supervisor handle");
  caf::scoped_actor self{sys};
  self->monitor(sup);
  self->send_exit(sup, std::move(reason));
  caf::error result;
  self->receive([&](caf::down_msg& msg) { result = std::move(msg.reason); });
  return result;
}

caf::error await_exit(caf::actor_system& sys, const caf::actor& sup) {
  if (!sup)
    return make_error(errc::not_found, "invalid supervisor handle");
  caf::scoped_actor self{sys};
  self->monitor(sup);
  caf::error result;
  self->receive([&](caf::down_msg& msg) { result = std::move(msg.reason); });
  return result;
}

caf::error shutdown_system(caf::actor_system& sys, const caf::actor& root,
                           caf::timespan shutdown_time, size_t remaining) {
  auto deadline = std::chrono::steady_clock::now() + shutdown_time;
  if (root) {
    caf::scoped_actor self{sys, true};
    self->monitor(root);
    self->send_exit(root, caf::exit_reason::user_shutdown);
    bool gone = false;
    self->receive([&](caf::down_msg&) { gone = true; },
                  caf::after(shutdown_time) >> [] {});
    if (!gone)
      return make_error(errc::abandoned, "the tree did not stop within the "
                                         "shutdown time");
  }
  // What may remain: the tree's stragglers (killed, abandoned incarnations)
  // and the caller's own actors.
  for (;;) {
    auto running = sys.registry().running();
    if (running <= remaining)
      return caf::none;
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(errc::abandoned,
                        std::to_string(running - remaining)
                          + " actors still running after the shutdown time");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

caf::expected<caf::actor> start_child(caf::actor_system& sys,
                                      const caf::actor& sup, child_spec spec) {
  return call<caf::actor>(sys, sup, start_child_atom::value, std::move(spec));
}

caf::expected<caf::actor> start_child(caf::actor_system& sys,
                                      const caf::actor& sup,
                                      caf::message args) {
  return call<caf::actor>(sys, sup, start_child_atom::value, std::move(args));
}

caf::error terminate_child(caf::actor_system& sys, const caf::actor& sup,
                           const std::string& id) {
  return call_for_ok(sys, sup, terminate_child_atom::value, id);
}

caf::error terminate_child(caf::actor_system& sys, const caf::actor& sup,
                           const caf::actor& child) {
  return call_for_ok(sys, sup, terminate_child_atom::value, child);
}

caf::expected<caf::actor> restart_child(caf::actor_system& sys,
                                        const caf::actor& sup,
                                        const std::string& id) {
  return call<caf::actor>(sys, sup, restart_child_atom::value, id);
}

caf::error delete_child(caf::actor_system& sys, const caf::actor& sup,
                        const std::string& id) {
  return call_for_ok(sys, sup, delete_child_atom::value, id);
}

caf::expected<std::vector<child_info>>
which_children(caf::actor_system& sys, const caf::actor& sup) {
  return call<std::vector<child_info>>(sys, sup, which_children_atom::value);
}

caf::expected<child_counts> count_children(caf::actor_system& sys,
                                           const caf::actor& sup) {
  return call<child_counts>(sys, sup, count_children_atom::value);
}

caf::expected<child_spec> get_childspec(caf::actor_system& sys,
                                        const caf::actor& sup,
                                        const std::string& id) {
  return call<child_spec>(sys, sup, get_childspec_atom::value, id);
}

caf::expected<tree_snapshot> snapshot(caf::actor_system& sys,
                                      const caf::actor& sup) {
  return call<tree_snapshot>(sys, sup, snapshot_atom::value);
}

caf::expected<caf::group> lifecycle_events(caf::actor_system& sys,
                                           const caf::actor& sup) {
  return call<caf::group>(sys, sup, events_atom::value);
}

caf::expected<caf::actor> lookup(caf::actor_system& sys,
                                 const caf::actor& root,
                                 const std::string& path) {
  return call<caf::actor>(sys, root, lookup_atom::value, path);
}

caf::expected<std::vector<dead_letter>> dead_letters(caf::actor_system& sys,
                                                     const caf::actor& sup) {
  return call<std::vector<dead_letter>>(sys, sup, dead_letters_atom::value);
}

} // namespace trellis
