#include "tcp_doorman.hpp"

#include <cerrno>
#include <mutex>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/io/middleman.hpp>
#include <caf/io/network/scribe_impl.hpp>
#include <caf/io/scribe.hpp>

#include "report.hpp"
#include "trellis/io/detail/tcp_doorman.hpp"

namespace trellis::detail {

namespace {

using caf::io::network::native_socket;

// Several systems in one process have an I/O thread each.
std::mutex spare_mtx;
int spare = -1;

void shed(native_socket fd) {
  std::lock_guard<std::mutex> guard{spare_mtx};
  if (spare >= 0)
    ::close(spare);
  auto conn = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn >= 0) {
    report::connection_refused(peer_of(conn), "out_of_file_descriptors",
                               "the process is at its descriptor limit");
    ::close(conn);
  }
  spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

// CAF's scribe, with a `halt` and a `trigger` that hold (a broker's
// `halt(hdl)` and `trigger(hdl)` reach it as remove_from_loop and
// add_to_loop). In CAF 0.17.6 a halt from inside `consume` does not end the
// read under way: the stream reads on, up to
// `middleman.max-consecutive-reads` times. And a trigger in the same round
// of the event loop as a halt is lost: the halt's removal waits for the end
// of the round, and until then the stream's `activate` does nothing (its
// reader is still set), so the connection is never read again.
class pausable_scribe : public caf::io::network::scribe_impl {
public:
  using scribe_impl::scribe_impl;

  // False ends the stream's read loop and takes it out of the event loop.
  bool consume(caf::execution_unit* ctx, const void* buf,
               size_t num_bytes) override {
    return scribe::consume(ctx, buf, num_bytes) && !halted_;
  }

  void remove_from_loop() override {
    halted_ = true;
    scribe_impl::remove_from_loop();
  }

  void add_to_loop() override {
    halted_ = false;
    // Registers the reader once a removal has taken effect...
    scribe_impl::add_to_loop();
    // ... and cancels one that is still pending.
    stream_.backend().add(caf::io::network::operation::read, stream_.fd(),
                          &stream_);
  }

private:
  bool halted_ = false;
};

} // namespace

std::string peer_of(native_socket fd) {
  auto addr = caf::io::network::remote_addr_of_fd(fd);
  auto port = caf::io::network::remote_port_of_fd(fd);
  if (!addr || !port)
    return "unknown";
  return *addr + ":" + std::to_string(*port);
}

bool shedding_accept::try_accept(native_socket& result, native_socket fd) {
  result = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (result >= 0)
    return true;
  auto err = errno;
  result = caf::io::network::invalid_native_socket;
  if (err == EMFILE || err == ENFILE) {
    // Without a spare (it could not be taken again), the connection stays
    // in the backlog and the next event tries again, as CAF would.
    shed(fd);
    return true;
  }
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR
         || err == ECONNABORTED || err == EPROTO;
}

void shedding_accept::reserve() {
  std::lock_guard<std::mutex> guard{spare_mtx};
  if (spare < 0)
    spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

shedding_doorman::shedding_doorman(caf::io::network::default_multiplexer& mpx,
                                   native_socket fd)
  : doorman(caf::io::network::accept_hdl_from_socket(fd)), acceptor_(mpx, fd) {
  shedding_accept::reserve();
}

bool shedding_doorman::new_connection() {
  if (detached())
    return false;
  auto& mpx = acceptor_.backend();
  // As CAF's new_scribe, with a scribe that can pause.
  auto fd = acceptor_.accepted_socket();
  caf::io::network::keepalive(fd, true);
  auto scribe = caf::make_counted<pausable_scribe>(mpx, fd);
  auto hdl = scribe->hdl();
  parent()->add_scribe(std::move(scribe));
  return doorman::new_connection(&mpx, hdl);
}

void shedding_doorman::graceful_shutdown() {
  acceptor_.graceful_shutdown();
  detach(&acceptor_.backend(), false);
}

void shedding_doorman::launch() {
  acceptor_.start(this);
}

std::string shedding_doorman::addr() const {
  auto x = caf::io::network::local_addr_of_fd(acceptor_.fd());
  return x ? *x : std::string{};
}

uint16_t shedding_doorman::port() const {
  auto x = caf::io::network::local_port_of_fd(acceptor_.fd());
  return x ? *x : 0;
}

void shedding_doorman::add_to_loop() {
  acceptor_.activate(this);
}

void shedding_doorman::remove_from_loop() {
  acceptor_.passivate();
}

caf::expected<caf::io::doorman_ptr>
new_tcp_doorman(caf::io::middleman& mm, uint16_t port, const char* host,
                bool reuse_addr) {
  auto mpx = dynamic_cast<caf::io::network::default_multiplexer*>(
    &mm.backend());
  if (mpx == nullptr)
    return mm.backend().new_tcp_doorman(port, host, reuse_addr);
  auto fd = caf::io::network::new_tcp_acceptor_impl(port, host, reuse_addr);
  if (!fd)
    return std::move(fd.error());
  return caf::make_counted<shedding_doorman>(*mpx, *fd);
}

} // namespace trellis::detail
