// Connections accepted by trellis::detail::new_tcp_doorman: a broker's halt
// and trigger hold, where CAF 0.17.6's own scribes read on after a halt from
// inside a read and lose a trigger in the same round as a halt.

#include <catch2/catch.hpp>

#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "raw_socket.hpp"
#include "test_support.hpp"
#include "trellis/io/detail/tcp_doorman.hpp"

using namespace trellis::test;

namespace {

using chunk_atom = caf::atom_constant<caf::atom("chunk")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;

struct pauser_state {
  caf::io::connection_handle hdl;
  static inline const char* name = "pauser";
};

// Reads 4 bytes at a time, tells `probe` each chunk and halts the
// connection; with `retrigger`, triggers it again in the same handler.
// `resume_atom` tells `probe` and triggers the connection.
caf::behavior
pauser(caf::stateful_actor<pauser_state, caf::io::broker>* self,
       caf::io::doorman_ptr door, caf::actor probe, bool retrigger) {
  self->add_doorman(std::move(door));
  return {
    [self](const caf::io::new_connection_msg& msg) {
      self->state.hdl = msg.handle;
      self->configure_read(msg.handle, caf::io::receive_policy::exactly(4));
    },
    [self, probe, retrigger](const caf::io::new_data_msg& msg) {
      self->send(probe, chunk_atom::value,
                 std::string(msg.buf.begin(), msg.buf.end()));
      self->halt(msg.handle);
      if (retrigger)
        self->trigger(msg.handle);
    },
    [self, probe](resume_atom) {
      self->send(probe, resume_atom::value);
      self->trigger(self->state.hdl);
    },
    [](const caf::io::connection_closed_msg&) {},
  };
}

struct io_config : test_config {
  io_config() {
    load<caf::io::middleman>();
  }
};

struct doorman_fixture {
  io_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor probe{sys};
  caf::actor broker;
  uint16_t port = 0;

  explicit doorman_fixture(bool retrigger) {
    auto door = trellis::detail::new_tcp_doorman(sys.middleman(), 0,
                                                 "127.0.0.1", true);
    REQUIRE(door);
    port = (*door)->port();
    broker = sys.middleman().spawn_broker(pauser, std::move(*door),
                                          caf::actor{probe}, retrigger);
  }

  ~doorman_fixture() {
    caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
  }

  std::string next_chunk(const std::string& what) {
    std::string result;
    receive_or_fail(probe, what,
                    [&](chunk_atom, std::string& x) { result = std::move(x); });
    return result;
  }
};

} // namespace

TEST_CASE("a connection halted from inside a read is read no further until "
          "triggered",
          "[tcp_doorman]") {
  doorman_fixture f{false};
  raw_socket client{f.port};
  REQUIRE(client.connected());
  // Two chunks at once: CAF's own scribe reads the second in the same loop.
  REQUIRE(client.send("aaaabbbb"));
  CHECK(f.next_chunk("the first chunk") == "aaaa");
  caf::anon_send(f.broker, resume_atom::value);
  bool resumed_first = false;
  receive_or_fail(f.probe, "the broker's next message",
                  [&](resume_atom) { resumed_first = true; },
                  [&](chunk_atom, std::string&) { resumed_first = false; });
  REQUIRE(resumed_first);
  CHECK(f.next_chunk("the second chunk, once triggered") == "bbbb");
}

TEST_CASE("a connection halted and triggered in one handler is read again",
          "[tcp_doorman]") {
  doorman_fixture f{true};
  raw_socket client{f.port};
  REQUIRE(client.connected());
  REQUIRE(client.send("aaaa"));
  CHECK(f.next_chunk("the first chunk") == "aaaa");
  // CAF's own scribe would have left the event loop for good here.
  REQUIRE(client.send("bbbb"));
  CHECK(f.next_chunk("the second chunk") == "bbbb");
}
