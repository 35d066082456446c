#include <algorithm>
#include <chrono>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "connection.hpp"
#include "runtime.hpp"
#include "trellis/atoms.hpp"
#include "trellis/crash_handler.hpp"
#include "trellis/io/detail/tcp_doorman.hpp"
#include "trellis/errc.hpp"

namespace kvstore {

namespace {

constexpr auto patience = std::chrono::seconds(5);

// A client that got no connection child: tell it why and close.
void refuse(caf::io::broker* self, const connection_handoff& handoff,
            const std::shared_ptr<runtime>& rt) {
  auto client = handoff.take();
  if (!client.scribe)
    return; // its broker took it after all
  ++rt->stats.rejected_connections;
  auto hdl = client.scribe->hdl();
  self->move_scribe(std::move(client.scribe));
  static constexpr char msg[] = "-ERR max number of clients reached\r\n";
  self->write(hdl, sizeof(msg) - 1, msg);
  self->flush(hdl);
  self->close(hdl);
}

caf::behavior listener(caf::io::broker* self, caf::io::doorman_ptr door,
                       caf::actor root, std::shared_ptr<runtime> rt) {
  trellis::install_crash_handler(self);
  self->add_doorman(std::move(door));
  return {
    [self, root, rt](const caf::io::new_connection_msg& msg) {
      ++rt->stats.connections_received;
      // The scribe leaves this broker; the connection's broker adopts it.
      auto scribe = self->take(msg.handle);
      // The supervisor's max_children is the rule; a client past the places
      // is refused here at once, so that a burst of clients cannot hold a
      // descriptor each while their starts are under way.
      auto taken = std::max<int64_t>(rt->stats.connected_clients, 0);
      if (static_cast<size_t>(taken) >= rt->max_clients) {
        refuse(self, connection_handoff{std::move(scribe), {}}, rt);
        return;
      }
      connection_handoff handoff{std::move(scribe), client_place{rt}};
      auto fail = [self, handoff, rt](const caf::error&) {
        refuse(self, handoff, rt);
      };
      // Found by path each time: the supervisor is a new actor after a
      // restart.
      self
        ->request(root, patience, trellis::lookup_atom::value,
                  std::string{"root/connections"})
        .then(
          [self, handoff, fail](const caf::actor& sup) {
            self
              ->request(sup, patience, trellis::start_child_atom::value,
                        caf::make_message(handoff))
              .then([](const caf::actor&) {}, fail);
          },
          fail);
    },
    [self](const caf::io::acceptor_closed_msg&) {
      self->quit(trellis::make_error(trellis::errc::unhealthy, "listener",
                                     "the listening socket closed"));
    },
  };
}

} // namespace

trellis::child_spec listener_worker(std::string id,
                                    std::shared_ptr<runtime> rt) {
  return trellis::worker(
    std::move(id),
    [rt](trellis::child_context& ctx) -> trellis::start_result {
      auto& mm = ctx.system().middleman();
      // Bind here, so that a port in use fails the start, with the reason.
      // Trellis' doorman refuses clients when the process is out of file
      // descriptors, where CAF's would spin the I/O thread.
      auto door = trellis::detail::new_tcp_doorman(mm, rt->port,
                                                   rt->host.c_str(), true);
      if (!door)
        return door.error();
      // Keep the port: a restarted listener must bind the same one.
      rt->port = (*door)->port();
      return mm.spawn_broker(listener, std::move(*door), ctx.supervisor(), rt);
    });
}

} // namespace kvstore
