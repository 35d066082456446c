#include "node_transport.hpp"

#include <exception>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/io/scribe.hpp>
#include <caf/openssl/session.hpp>
#include <caf/send.hpp>

#include "report.hpp"
#include "ssl_errors.hpp"
#include "trellis/errc.hpp"
#include "trellis/tls_config.hpp"

// Why Trellis does not use CAF's own OpenSSL middleman actor
// (caf::openssl::manager::actor_handle): CAF 0.17.6's `caf::openssl::session`
// calls SSL_get_error after a failed SSL_read or SSL_write without emptying
// OpenSSL's per-thread error queue first, and never empties it afterwards (its
// ERR_get_error calls sit in log statements, compiled out in Debian's build).
// OpenSSL 3 queues an error whenever a peer closes a connection without a
// TLS close_notify (which CAF never sends) or a handshake fails, and then
// SSL_get_error answers SSL_ERROR_SSL for *any* later call on that thread, even
// one that only waits for more bytes (SSL_ERROR_WANT_READ). All connections
// share the middleman's one I/O thread, so the first closing connection makes
// CAF close the next healthy one that drains its socket. Below are CAF's TLS
// connections again, built from the same public parts, except that every
// call into OpenSSL starts from an empty error queue.

namespace trellis::detail {

namespace {

using caf::io::network::default_multiplexer;
using caf::io::network::native_socket;
using caf::io::network::rw_state;
using caf::openssl::session_ptr;

std::string peer_of(native_socket fd) {
  auto addr = caf::io::network::remote_addr_of_fd(fd);
  auto port = caf::io::network::remote_port_of_fd(fd);
  if (!addr || !port)
    return "unknown";
  return *addr + ":" + std::to_string(*port);
}

// A handshake's first step runs here (SSL_connect or SSL_accept), the rest in
// the stream's events. CAF throws when it cannot load the certificate files.
caf::expected<session_ptr> new_session(caf::actor_system& sys, native_socket fd,
                                       bool accepted) {
  ERR_clear_error();
  try {
    if (auto result = caf::openssl::make_session(sys, fd, accepted))
      return result;
    auto reasons = take_ssl_errors();
    // A connecting node hears why from its request; an accepting one only
    // from this report.
    if (accepted)
      report::tls_failed(peer_of(fd), reasons);
    return make_error(caf::sec::cannot_connect_to_node,
                      "the TLS handshake failed"
                        + (reasons.empty() ? "" : ": " + reasons));
  } catch (const std::exception& e) {
    return make_error(errc::invalid_tls_config, e.what());
  }
}

/// CAF's stream policy for TLS, with the error queue emptied per call.
class tls_policy {
public:
  explicit tls_policy(session_ptr session) : session_(std::move(session)) {
    // nop
  }

  rw_state read_some(size_t& result, native_socket fd, void* buf, size_t len) {
    ERR_clear_error();
    return reported(session_->read_some(result, fd, buf, len), fd);
  }

  rw_state write_some(size_t& result, native_socket fd, const void* buf,
                      size_t len) {
    ERR_clear_error();
    return reported(session_->write_some(result, fd, buf, len), fd);
  }

  bool must_read_more(native_socket fd, size_t threshold) {
    return session_->must_read_more(fd, threshold);
  }

private:
  // Tells why a connection failed, which CAF only reports as closed; a peer
  // closing without close_notify, as CAF always does, is no news.
  static rw_state reported(rw_state x, native_socket fd) {
    auto code = ERR_peek_error();
    if (x != rw_state::failure || code == 0
        || ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
      return x;
    report::tls_failed(peer_of(fd), take_ssl_errors());
    return x;
  }

  session_ptr session_;
};

/// A TLS connection of the BASP broker.
class tls_scribe : public caf::io::scribe {
public:
  tls_scribe(default_multiplexer& mpx, native_socket fd, session_ptr session)
    : scribe(caf::io::network::conn_hdl_from_socket(fd)),
      stream_(mpx, fd, std::move(session)) {
    // nop
  }

  void configure_read(caf::io::receive_policy::config config) override {
    stream_.configure_read(config);
    if (!launched_)
      launch();
  }

  void ack_writes(bool enable) override {
    stream_.ack_writes(enable);
  }

  std::vector<char>& wr_buf() override {
    return stream_.wr_buf();
  }

  std::vector<char>& rd_buf() override {
    return stream_.rd_buf();
  }

  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }

  void flush() override {
    stream_.flush(this);
  }

  std::string addr() const override {
    auto x = caf::io::network::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }

  uint16_t port() const override {
    auto x = caf::io::network::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }

  void add_to_loop() override {
    stream_.activate(this);
  }

  void remove_from_loop() override {
    stream_.passivate();
  }

private:
  void launch() {
    launched_ = true;
    stream_.start(this);
    // A write event runs the rest of the handshake, even with nothing to send.
    stream_.force_empty_write(this);
  }

  bool launched_ = false;
  caf::io::network::stream_impl<tls_policy> stream_;
};

/// A TLS port of the BASP broker: CAF's TCP doorman, with a TLS session for
/// each accepted socket.
class tls_doorman : public caf::io::network::doorman_impl {
public:
  using doorman_impl::doorman_impl;

  bool new_connection() override {
    if (detached())
      return false;
    auto& mpx = acceptor_.backend();
    auto fd = acceptor_.accepted_socket();
    caf::io::network::nonblocking(fd, true);
    auto session = new_session(parent()->system(), fd, true);
    if (!session) {
      caf::io::network::close_socket(fd);
      return false;
    }
    auto scribe = caf::make_counted<tls_scribe>(mpx, fd, std::move(*session));
    auto hdl = scribe->hdl();
    parent()->add_scribe(std::move(scribe));
    return doorman::new_connection(&mpx, hdl);
  }
};

/// CAF's middleman actor, connecting and opening ports over TLS.
class tls_middleman_actor : public caf::io::middleman_actor_impl {
public:
  using middleman_actor_impl::middleman_actor_impl;

  const char* name() const override {
    return "trellis.tls_middleman_actor";
  }

protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host,
                                             uint16_t port) override {
    auto fd = caf::io::network::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    caf::io::network::nonblocking(*fd, true);
    auto session = new_session(system(), *fd, false);
    if (!session) {
      caf::io::network::close_socket(*fd);
      return std::move(session.error());
    }
    return caf::make_counted<tls_scribe>(mpx(), *fd, std::move(*session));
  }

  caf::expected<caf::io::doorman_ptr> open(uint16_t port, const char* addr,
                                           bool reuse) override {
    auto fd = caf::io::network::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return caf::make_counted<tls_doorman>(mpx(), *fd);
  }

private:
  // caf::openssl::manager refuses to load with any other backend.
  default_multiplexer& mpx() {
    return static_cast<default_multiplexer&>(system().middleman().backend());
  }
};

tls_config tls_of(const caf::actor_system_config& cfg) {
  return {cfg.openssl_certificate, cfg.openssl_key, cfg.openssl_passphrase,
          cfg.openssl_cafile};
}

} // namespace

bool uses_tls(const caf::actor_system& sys) {
  return tls_of(sys.config()).enabled();
}

caf::expected<caf::io::middleman_actor>
node_transport(caf::actor_system& sys) {
  if (!sys.has_middleman())
    return make_error(caf::sec::invalid_argument,
                      "the actor system has no middleman: pass its config "
                      "through trellis::configure_node");
  if (!uses_tls(sys))
    return sys.middleman().actor_handle();
  // configure_node loads the OpenSSL module only for usable settings; a node
  // asked for TLS never falls back to plain BASP.
  if (!sys.has_openssl_manager()) {
    if (auto err = validate(tls_of(sys.config())))
      return err;
    return make_error(errc::invalid_tls_config,
                      "CAF's OpenSSL module is not loaded: pass the config "
                      "through trellis::configure_node");
  }
  // One per system, even when supervisors ask at once.
  static std::mutex mtx;
  std::lock_guard<std::mutex> guard{mtx};
  const auto key = caf::atom("TrellisTLS");
  auto& registry = sys.registry();
  if (auto result = registry.get<caf::io::middleman_actor>(key))
    return result;
  // Detached like CAF's middleman actor, since connecting blocks.
  auto broker = sys.middleman().named_broker<caf::io::basp_broker>(
    caf::atom("BASP"));
  auto result = sys.spawn<tls_middleman_actor, caf::detached + caf::hidden>(
    broker);
  // The system joins detached actors after stopping its modules, and their
  // threads wait for the last reference: this one ends with the middleman's
  // broker and leaves the registry then.
  broker->attach_functor([&sys, key, result] {
    sys.registry().erase(key);
    caf::anon_send_exit(result, caf::exit_reason::kill);
  });
  registry.put(key, result);
  return result;
}

} // namespace trellis::detail
