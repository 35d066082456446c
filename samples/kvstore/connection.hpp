#pragma once

// The network side, on CAF's I/O layer: a listener broker that accepts
// clients, and one connection broker per client, each a child of the
// dynamic `connections` supervisor.

#include <memory>
#include <mutex>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/io/scribe.hpp>

#include "trellis/child_spec.hpp"

namespace kvstore {

struct runtime;

/// One of the `--max-clients` places, counted in INFO's
/// `connected_clients`: taken by the listener when it admits a client and
/// given back when the client's broker is gone (or the client is refused
/// after all). The listener admits a client only while a place is free, so
/// that at no time do more clients hold a descriptor than the limit allows.
class client_place {
public:
  client_place() = default;

  /// Takes a place.
  explicit client_place(std::shared_ptr<runtime> rt);

  client_place(client_place&&) noexcept = default;
  client_place& operator=(client_place&&) = delete;

  /// Gives the place back.
  ~client_place();

private:
  std::shared_ptr<runtime> rt_;
};

/// A client connection on its way from the listener to its own broker: the
/// listener takes the connection's scribe out of its own broker and passes
/// it, as the start argument of a `connections` child, to the broker that
/// the child factory spawns. Either side may take it, once; the client's
/// place goes with it.
class connection_handoff {
public:
  struct client {
    caf::io::scribe_ptr scribe;
    client_place place;
  };

  connection_handoff() = default;

  connection_handoff(caf::io::scribe_ptr x, client_place place)
    : slot_(std::make_shared<slot>(std::move(x), std::move(place))) {
    // nop
  }

  /// Takes the scribe and the place out; a null scribe if taken before.
  client take() const {
    if (!slot_)
      return {};
    std::lock_guard<std::mutex> guard{slot_->mtx};
    return std::move(slot_->taken);
  }

private:
  struct slot {
    slot(caf::io::scribe_ptr x, client_place place)
      : taken{std::move(x), std::move(place)} {
      // nop
    }
    std::mutex mtx;
    client taken;
  };
  std::shared_ptr<slot> slot_;
};

/// `(drain_atom)` to a connection: answer the commands the client already
/// sent, read nothing more from it, then close (the service is stopping).
using drain_atom = caf::atom_constant<caf::atom("kv_drain")>;

/// The template of the `connections` supervisor's children: started with a
/// `connection_handoff`, it spawns a broker that serves that client. A
/// connection cannot come back once its broker is gone, so a restart after
/// a crash answers `ignore` (the crash still counts against the
/// supervisor's intensity) and the child leaves; a client that disconnects
/// ends its child normally (the child is transient).
trellis::child_spec connection_worker(std::string id,
                                      std::shared_ptr<runtime> rt);

/// The listener: a broker that accepts clients on `rt->host` and
/// `rt->port` and asks `root/connections` to start a child for each. A
/// client that cannot get one (the supervisor is at `max_children`, or
/// down) gets `-ERR max number of clients reached` and is closed.
trellis::child_spec listener_worker(std::string id,
                                    std::shared_ptr<runtime> rt);

} // namespace kvstore

// Handoffs travel in local messages only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kvstore::connection_handoff)
