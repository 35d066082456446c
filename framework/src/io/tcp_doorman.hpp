#pragma once

// CAF's TCP doorman with an accept that sheds connections when the process
// is out of file descriptors (trellis/io/detail/tcp_doorman.hpp says why).
// Node ports derive from it to guard their connections.

#include <string>

#include <caf/io/doorman.hpp>
#include <caf/io/network/acceptor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/native_socket.hpp>

namespace trellis::detail {

/// CAF's TCP accept policy, except for EMFILE and ENFILE.
struct shedding_accept {
  static bool try_accept(caf::io::network::native_socket& result,
                         caf::io::network::native_socket fd);

  /// Takes the spare descriptor, once per process.
  static void reserve();
};

/// CAF's `doorman_impl` on `shedding_accept`; accepted sockets become CAF's
/// own scribes, with a halt and a trigger that hold, unless a derived class
/// says otherwise.
class shedding_doorman : public caf::io::doorman {
public:
  shedding_doorman(caf::io::network::default_multiplexer& mpx,
                   caf::io::network::native_socket fd);

  bool new_connection() override;
  void graceful_shutdown() override;
  void launch() override;
  std::string addr() const override;
  uint16_t port() const override;
  void add_to_loop() override;
  void remove_from_loop() override;

protected:
  caf::io::network::acceptor_impl<shedding_accept> acceptor_;
};

/// The remote address of `fd` as `host:port`, or `unknown`.
std::string peer_of(caf::io::network::native_socket fd);

} // namespace trellis::detail
