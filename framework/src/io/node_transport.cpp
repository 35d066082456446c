#include "node_transport.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/io/scribe.hpp>
#include <caf/openssl/session.hpp>
#include <caf/policy/tcp.hpp>
#include <caf/send.hpp>

#include "basp_guard.hpp"
#include "nesting_check.hpp"
#include "report.hpp"
#include "ssl_errors.hpp"
#include "tcp_doorman.hpp"
#include "trellis/errc.hpp"
#include "trellis/io/node.hpp"
#include "trellis/io/tls_config.hpp"

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

/// What all connections of one system share.
struct transport_state {
  bool tls = false;
  basp_limits limits;
  /// Accepted connections still in their handshake.
  std::atomic<int> pending{0};
  /// Bytes of large payloads received and not yet whole (`max_arriving()`).
  std::atomic<uint64_t> arriving{0};
  /// Purges once more a while after connections closed (see purge_later).
  caf::actor sweeper;
};

/// Drops what CAF 0.17.6's BASP broker keeps for nodes it can no longer
/// reach. For every node it learns of, `basp_broker::learned_new_node` spawns
/// a "spawn server" actor (which asks the node's `SpawnServ` for its config
/// and waits 5 minutes for an answer) and keeps its handle in
/// `basp_broker::spawn_servers`, keyed by the node id; when the connection
/// closes, `connection_cleanup` and `purge_state` drop the route, the context
/// and the proxies, but never that entry. A peer that completes a handshake
/// with a made-up node id and leaves thus left an actor, its node id and a
/// map node behind for good (about 1.2 KB on the heap, 2.2 to 3.2 KB of RSS
/// measured a peer), and a flood of them grew the node without bound.
/// CAF 0.17.6 reads the map nowhere else (a remote spawn goes to the node's
/// `SpawnServ` by name), so dropping an entry loses nothing; a node that
/// comes back is learned again. Also dropped for such a node: indirect
/// routes and proxies (learned from handles that a peer sent), which would
/// have no route either. Runs in the broker's context (the I/O thread).
void purge_unreachable_nodes(caf::io::basp_broker& broker) {
  auto& tbl = broker.instance.tbl();
  auto& servers = broker.spawn_servers;
  for (auto i = servers.begin(); i != servers.end();) {
    if (tbl.lookup(i->first)) {
      ++i;
      continue;
    }
    tbl.erase_indirect(i->first);
    broker.proxies().erase(i->first);
    caf::anon_send_exit(i->second, caf::exit_reason::kill);
    i = servers.erase(i);
  }
}

/// Purges on the I/O thread, unless the broker is gone.
void purge_on(default_multiplexer& mpx, const caf::weak_actor_ptr& broker) {
  mpx.post([broker] {
    auto ptr = broker.lock();
    if (!ptr)
      return;
    // The broker runs on this thread too: it is either gone or not yet.
    auto self = static_cast<caf::io::basp_broker*>(ptr->get());
    if (!self->getf(caf::abstract_actor::is_terminated_flag))
      purge_unreachable_nodes(*self);
  });
}

using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using sweep_now_atom = caf::atom_constant<caf::atom("sweepNow")>;

/// How long after a closing the sweeper purges once more.
constexpr auto sweep_delay = std::chrono::seconds(1);

/// Purges between one and two `sweep_delay`s after each closing, and at
/// most once a `sweep_delay` however many connections close: a closing while
/// a sweep is pending asks for one more after it, since that sweep may come
/// too soon for this closing.
caf::behavior sweeper(caf::event_based_actor* self, default_multiplexer* mpx,
                      caf::weak_actor_ptr broker) {
  enum class state { idle, pending, pending_and_again };
  auto st = std::make_shared<state>(state::idle);
  return {
    [=](sweep_atom) {
      if (*st != state::idle) {
        *st = state::pending_and_again;
        return;
      }
      *st = state::pending;
      self->delayed_send(self, sweep_delay, sweep_now_atom::value);
    },
    [=](sweep_now_atom) {
      purge_on(*mpx, broker);
      if (*st == state::pending_and_again) {
        *st = state::pending;
        self->delayed_send(self, sweep_delay, sweep_now_atom::value);
      } else {
        *st = state::idle;
      }
    },
  };
}

/// Purges after the broker's own cleanup of a closed connection: the broker
/// hears of the closing first and asks itself (through BASP's message queue)
/// to clean up, and this runs after that on the I/O thread. Some of what the
/// broker learned from the connection may still be on its way, though: a
/// BASP worker that read actor handles of other nodes from it tells the
/// broker of those nodes through the I/O thread's queue, which the closing
/// can overtake. The sweeper purges once more one to two seconds later, so
/// that what a closed connection taught the broker goes within about two
/// seconds, not only at the next closing. Costs a routing table lookup per
/// node the broker knows, once per closing of a connection past its
/// handshake and once per sweep.
void purge_later(default_multiplexer& mpx, const caf::weak_actor_ptr& broker,
                 const caf::actor& sweeper) {
  purge_on(mpx, broker);
  if (sweeper)
    caf::anon_send(sweeper, sweep_atom::value);
}

/// A connection of the BASP broker (TLS or plain TCP, by `Policy`) whose
/// headers `basp_guard` checks before the broker sees them: a refused one is
/// closed alone, the broker told as if the peer had closed it, and reported.
/// Until the peer's handshake is complete, a timer actor holds the
/// connection and closes it at the handshake deadline.
template <class Policy>
class guarded_scribe : public caf::io::scribe {
public:
  template <class... Ts>
  guarded_scribe(default_multiplexer& mpx, native_socket fd, bool accepted,
                 std::shared_ptr<transport_state> state, Ts&&... xs)
    : scribe(caf::io::network::conn_hdl_from_socket(fd)),
      guard_(accepted, state->limits),
      state_(std::move(state)),
      peer_(peer_of(fd)),
      accepted_(accepted),
      stream_(mpx, fd, std::forward<Ts>(xs)...) {
    if (accepted_)
      ++state_->pending;
    stream_.on_read_closed = [this] {
      stop_deadline();
      forget_peer();
      drop_gathered();
    };
  }

  ~guarded_scribe() override {
    finish_handshake();
    drop_gathered();
  }

  void configure_read(caf::io::receive_policy::config config) override {
    // A large payload is read a piece at a time and gathered here, so that
    // a connection holds what arrived of it: CAF sizes its buffer to what
    // the header announced, zero-filled, and a peer that announced 16 MiB
    // and sent a byte held 16 MiB (a few hundred such peers, gigabytes).
    gather_ = 0;
    if (config.first == caf::io::receive_policy_flag::exactly
        && config.second > payload_piece) {
      gather_ = config.second;
      config.second = payload_piece;
    }
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
    stop_deadline();
    forget_peer();
    drop_gathered();
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

  // The broker reads a header, then its payload, then the next header:
  // the guard follows the same order.
  bool consume(caf::execution_unit* ctx, const void* buf, size_t n) override {
    if (detached())
      return false;
    if (guard_.expects_payload() && gather_ > 0)
      return gather(ctx, buf, n);
    if (guard_.expects_payload())
      return consume_payload(ctx, buf, n);
    auto verdict = guard_.on_header(static_cast<const char*>(buf), n);
    if (verdict == basp_refusal::none)
      return scribe::consume(ctx, buf, n);
    refuse(ctx, verdict, guard_.last_header());
    return false;
  }

private:
  /// CAF's stream, telling its owner when it stops reading (the peer closed
  /// or failed), so that a dead connection's deadline goes at once.
  struct stream_type : caf::io::network::stream_impl<Policy> {
    using caf::io::network::stream_impl<Policy>::stream_impl;

    // The callback first: the base may drop the last reference to the
    // connection, and with it this stream.
    void removed_from_loop(caf::io::network::operation op) override {
      if (op == caf::io::network::operation::read && on_read_closed)
        on_read_closed();
      caf::io::network::stream_impl<Policy>::removed_from_loop(op);
    }

    std::function<void()> on_read_closed;
  };

  void launch() {
    launched_ = true;
    if (auto broker = dynamic_cast<caf::io::basp_broker*>(parent()))
      broker_ = broker->ctrl();
    stream_.start(this);
    if (std::is_same<Policy, tls_policy>::value)
      // A write event runs the rest of the handshake, even with nothing to
      // send.
      stream_.force_empty_write(this);
    start_deadline();
  }

  void start_deadline() {
    auto timeout = state_->limits.handshake_timeout;
    if (timeout.count() <= 0 || detached())
      return;
    caf::intrusive_ptr<guarded_scribe> ptr{this};
    timer_ = parent()->system().template spawn<caf::hidden>(
      [timeout](caf::event_based_actor* self,
                caf::intrusive_ptr<guarded_scribe> conn) -> caf::behavior {
        // A receive timeout, not a delayed message to itself: CAF cancels
        // the first when the actor is killed, while the clock held on to the
        // second, and with it each connection's timer (about 1 KB), for the
        // whole timeout after the handshake.
        return {caf::after(timeout) >> [self, conn] {
          auto& mpx = conn->stream_.backend();
          mpx.dispatch([conn] { conn->deadline_passed(); });
          self->quit();
        }};
      },
      std::move(ptr));
  }

  void stop_deadline() {
    if (!timer_)
      return;
    caf::anon_send_exit(timer_, caf::exit_reason::kill);
    timer_ = nullptr;
  }

  // Once the peer's handshake arrived, the broker learned its node: what it
  // keeps for it must go with the connection (see purge_unreachable_nodes).
  void forget_peer() {
    if (forgotten_ || !guard_.handshake_done() || !broker_)
      return;
    forgotten_ = true;
    purge_later(stream_.backend(), broker_, state_->sweeper);
  }

  void finish_handshake() {
    if (accepted_ && !finished_)
      --state_->pending;
    finished_ = true;
    stop_deadline();
  }

  void deadline_passed() {
    timer_ = nullptr;
    if (detached() || guard_.handshake_done())
      return;
    auto& mpx = stream_.backend();
    refuse(&mpx, basp_refusal::handshake_timeout,
           "after " + std::to_string(std::chrono::duration_cast<
                                       std::chrono::milliseconds>(
                                       state_->limits.handshake_timeout)
                                       .count())
             + " ms");
    stream_.passivate();
  }

  // Hands a payload whole to the broker, after checking it: CAF's own
  // `scribe::consume` reads it from `rd_buf()`, where `buf` points.
  bool consume_payload(caf::execution_unit* ctx, const void* buf, size_t n) {
    guard_.on_payload();
    if (guard_.handshake_done())
      finish_handshake();
    if (auto err = check_values(buf, n)) {
      auto unreadable = err == make_error(nesting_error::unreadable);
      refuse(ctx,
             unreadable ? basp_refusal::unreadable_payload
                        : basp_refusal::nesting_too_deep,
             guard_.last_header() + " max_nesting="
               + std::to_string(state_->limits.max_nesting));
      return false;
    }
    return scribe::consume(ctx, buf, n);
  }

  // Adds a piece of a large payload; once it is whole, hands it on from the
  // stream's buffer, as CAF would have read it.
  bool gather(caf::execution_unit* ctx, const void* buf, size_t n) {
    auto total = state_->arriving.fetch_add(n) + n;
    arriving_ += n;
    if (total > state_->limits.max_arriving()) {
      refuse(ctx, basp_refusal::arriving_payloads,
             guard_.last_header() + " arriving=" + std::to_string(total)
               + " max_arriving="
               + std::to_string(state_->limits.max_arriving()));
      return false;
    }
    // Doubling as it arrives, never past the announced length.
    auto size = gathered_.size() + n;
    if (size > gathered_.capacity())
      gathered_.reserve(std::min(gather_,
                                 std::max(size, 2 * gathered_.capacity())));
    auto bytes = static_cast<const char*>(buf);
    gathered_.insert(gathered_.end(), bytes, bytes + n);
    if (gathered_.size() < gather_) {
      stream_.configure_read(caf::io::receive_policy::exactly(
        std::min(payload_piece, gather_ - gathered_.size())));
      return true;
    }
    auto& rd = stream_.rd_buf();
    rd.swap(gathered_);
    auto result = consume_payload(ctx, rd.data(), rd.size());
    rd.swap(gathered_);
    drop_gathered();
    return result;
  }

  // Lets go of a gathered payload and its count in the total.
  void drop_gathered() {
    std::vector<char>{}.swap(gathered_);
    state_->arriving -= arriving_;
    arriving_ = 0;
  }

  // CAF would read the payload recursively, level by level, and may throw
  // while at it: read here first, every payload that carries values (about
  // a microsecond for a small message; docs/distribution.md, "Hostile
  // peers").
  caf::error check_values(const void* buf, size_t n) {
    if (!carries_values(guard_.operation()))
      return caf::none;
    return check_nesting(parent()->system(), guard_.operation(),
                         static_cast<const char*>(buf), n,
                         state_->limits.max_nesting);
  }

  // Tells the broker the connection is gone (its state for it goes) and
  // stops reading; the socket closes when the last reference goes.
  void refuse(caf::execution_unit* ctx, basp_refusal why,
              const std::string& detail) {
    report::connection_refused(peer_, to_string(why), detail);
    finish_handshake();
    drop_gathered();
    io_failure(ctx, caf::io::network::operation::read);
  }

  basp_guard guard_;
  std::shared_ptr<transport_state> state_;
  std::string peer_;
  bool accepted_;
  bool launched_ = false;
  bool finished_ = false;
  bool forgotten_ = false;
  caf::weak_actor_ptr broker_;
  caf::actor timer_;
  size_t gather_ = 0; // the length of a large payload expected, or 0
  std::vector<char> gathered_; // what arrived of it
  uint64_t arriving_ = 0; // its bytes in `transport_state::arriving`
  stream_type stream_;
};

using tcp_scribe = guarded_scribe<caf::policy::tcp>;
using tls_scribe = guarded_scribe<tls_policy>;

/// A port of the BASP broker: a shedding doorman, with a guarded connection
/// (over TLS when the node asks for it) for each accepted socket, and at
/// most `max_pending_handshakes` accepted connections in their handshake.
class guarded_doorman : public shedding_doorman {
public:
  guarded_doorman(default_multiplexer& mpx, native_socket fd,
                  std::shared_ptr<transport_state> state)
    : shedding_doorman(mpx, fd), state_(std::move(state)) {
    // nop
  }

  bool new_connection() override {
    if (detached())
      return false;
    auto& mpx = acceptor_.backend();
    auto fd = acceptor_.accepted_socket();
    if (state_->pending >= state_->limits.max_pending_handshakes) {
      report::connection_refused(peer_of(fd), "too_many_handshakes",
                                 std::to_string(state_->pending.load())
                                   + " pending");
      caf::io::network::close_socket(fd);
      return true;
    }
    caf::io::network::nonblocking(fd, true);
    caf::io::scribe_ptr scribe;
    if (state_->tls) {
      auto session = new_session(parent()->system(), fd, true);
      if (!session) {
        caf::io::network::close_socket(fd);
        return true;
      }
      scribe = caf::make_counted<tls_scribe>(mpx, fd, true, state_,
                                             std::move(*session));
    } else {
      scribe = caf::make_counted<tcp_scribe>(mpx, fd, true, state_);
    }
    auto hdl = scribe->hdl();
    parent()->add_scribe(std::move(scribe));
    return doorman::new_connection(&mpx, hdl);
  }

private:
  std::shared_ptr<transport_state> state_;
};

/// CAF's middleman actor, connecting and opening ports through guarded
/// connections, over TLS when the node asks for it.
class guarded_middleman_actor : public caf::io::middleman_actor_impl {
public:
  guarded_middleman_actor(caf::actor_config& cfg, caf::actor broker,
                          std::shared_ptr<transport_state> state)
    : middleman_actor_impl(cfg, std::move(broker)), state_(std::move(state)) {
    // nop
  }

  const char* name() const override {
    return "trellis.node_middleman_actor";
  }

protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host,
                                             uint16_t port) override {
    auto fd = caf::io::network::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    caf::io::network::nonblocking(*fd, true);
    if (!state_->tls)
      return caf::make_counted<tcp_scribe>(mpx(), *fd, false, state_);
    auto session = new_session(system(), *fd, false);
    if (!session) {
      caf::io::network::close_socket(*fd);
      return std::move(session.error());
    }
    return caf::make_counted<tls_scribe>(mpx(), *fd, false, state_,
                                         std::move(*session));
  }

  caf::expected<caf::io::doorman_ptr> open(uint16_t port, const char* addr,
                                           bool reuse) override {
    auto fd = caf::io::network::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return caf::make_counted<guarded_doorman>(mpx(), *fd, state_);
  }

private:
  // caf::openssl::manager refuses to load with any other backend, and
  // configure_node loads no other.
  default_multiplexer& mpx() {
    return static_cast<default_multiplexer&>(system().middleman().backend());
  }

  std::shared_ptr<transport_state> state_;
};

// A count from the config, within what a header can announce.
uint32_t count_of(const caf::actor_system& sys, const char* key,
                  uint32_t fallback) {
  auto x = caf::get_or(sys.config(), key, static_cast<int64_t>(fallback));
  return static_cast<uint32_t>(
    std::clamp<int64_t>(x, 1, std::numeric_limits<uint32_t>::max()));
}

basp_limits basp_limits_of(const caf::actor_system& sys) {
  basp_limits result;
  node_config defaults;
  result.max_payload = count_of(sys, "trellis.max-message-size",
                                defaults.max_message_size);
  result.handshake_timeout = caf::get_or(sys.config(),
                                         "trellis.handshake-timeout",
                                         defaults.handshake_timeout);
  result.max_nesting = count_of(sys, "trellis.max-message-nesting",
                                defaults.max_message_nesting);
  return result;
}

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
  auto tls = uses_tls(sys);
  // configure_node loads the OpenSSL module only for usable settings; a node
  // asked for TLS never falls back to plain BASP.
  if (tls && !sys.has_openssl_manager()) {
    if (auto err = validate(tls_of(sys.config())))
      return err;
    return make_error(errc::invalid_tls_config,
                      "CAF's OpenSSL module is not loaded: pass the config "
                      "through trellis::configure_node");
  }
  // Guarded connections are built on CAF's default multiplexer; a system
  // configured with another backend (CAF's testing one) keeps CAF's own.
  if (!tls
      && dynamic_cast<default_multiplexer*>(&sys.middleman().backend())
           == nullptr)
    return sys.middleman().actor_handle();
  // One per system, even when supervisors ask at once.
  static std::mutex mtx;
  std::lock_guard<std::mutex> guard{mtx};
  const auto key = caf::atom("TrellisMM");
  auto& registry = sys.registry();
  if (auto result = registry.get<caf::io::middleman_actor>(key))
    return result;
  auto state = std::make_shared<transport_state>();
  state->tls = tls;
  state->limits = basp_limits_of(sys);
  auto broker = sys.middleman().named_broker<caf::io::basp_broker>(
    caf::atom("BASP"));
  auto& mpx = static_cast<default_multiplexer&>(sys.middleman().backend());
  state->sweeper = sys.spawn<caf::hidden>(
    sweeper, &mpx, caf::actor_cast<caf::weak_actor_ptr>(broker));
  auto state_sweeper = state->sweeper;
  // Detached like CAF's middleman actor, since connecting blocks.
  auto result
    = sys.spawn<guarded_middleman_actor, caf::detached + caf::hidden>(
      broker, std::move(state));
  // The system joins detached actors after stopping its modules, and their
  // threads wait for the last reference: this one ends with the middleman's
  // broker and leaves the registry then.
  broker->attach_functor([&sys, key, result, sweeper = state_sweeper] {
    sys.registry().erase(key);
    caf::anon_send_exit(result, caf::exit_reason::kill);
    caf::anon_send_exit(sweeper, caf::exit_reason::kill);
  });
  registry.put(key, result);
  return result;
}

} // namespace trellis::detail
