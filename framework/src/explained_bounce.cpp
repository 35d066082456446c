#include "trellis/detail/explained_bounce.hpp"

#include <caf/make_message.hpp>

namespace trellis::detail {

void bounce(const caf::mailbox_element& x, const caf::error& err) {
  if (x.sender && x.mid.is_request())
    x.sender->enqueue(nullptr, x.mid.response_id(), caf::make_message(err),
                      nullptr);
}

caf::error receiver_down(caf::actor_system& sys, const std::string& who,
                         const caf::error& reason, const char* hint) {
  auto why = reason ? sys.render(reason) : std::string{"normal"};
  return caf::make_error(caf::sec::request_receiver_down, who,
                         "ended (" + why + ") before it handled this request; "
                           + hint);
}

caf::error child_receiver_down(caf::actor_system& sys, const std::string& path,
                               const caf::error& reason) {
  return receiver_down(sys, path, reason,
                       "a restart is a new actor, which a trellis::"
                       "stable_handle reaches: send again through one");
}

} // namespace trellis::detail
