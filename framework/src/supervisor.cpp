#include "trellis/supervisor.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>

#include "supervisor_actor.hpp"
#include "trellis/atoms.hpp"

namespace trellis {

caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys,
                                           const supervisor_spec& spec) {
  if (auto err = spec.validate())
    return err;
  return sys.spawn<detail::supervisor_actor>(spec, spec.id());
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
  // The supervisor rolled back and exits; report why once it is gone.
  await_exit(sys, *sup);
  return failure;
}

caf::error stop_supervisor(caf::actor_system& sys, const caf::actor& sup,
                           caf::error reason) {
  caf::scoped_actor self{sys};
  self->monitor(sup);
  self->send_exit(sup, std::move(reason));
  caf::error result;
  self->receive([&](caf::down_msg& msg) { result = std::move(msg.reason); });
  return result;
}

caf::error await_exit(caf::actor_system& sys, const caf::actor& sup) {
  caf::scoped_actor self{sys};
  self->monitor(sup);
  caf::error result;
  self->receive([&](caf::down_msg& msg) { result = std::move(msg.reason); });
  return result;
}

} // namespace trellis
