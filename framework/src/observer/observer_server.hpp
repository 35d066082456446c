#pragma once

// The observer's HTTP server: cpp-httplib's, with every connection read
// within bounds that a hostile or broken client cannot stretch, and each
// request admitted or refused before its body is read.
//
// cpp-httplib 0.11 (Debian 12) reads a request line and header lines of any
// length into memory, keeps a connection's thread for as long as a client
// sends a byte per read timeout, and reads a body whole before a handler
// can refuse it. `guarded_http_server` gives each connection one request,
// a deadline for reading it that counts from accepting the connection, and
// a byte budget for it (head and body), and a thread only once it sent
// something (`connection_queue`); `admit` decides on the head alone.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>

#include "observer_connections.hpp"

namespace trellis::detail {

/// What a connection may cost.
struct http_limits {
  /// Longest request head (request line and headers).
  size_t max_head = 16 * 1024;
  /// Longest request body; the observer's requests carry none.
  size_t max_body = 4 * 1024;
  /// Time from accepting a connection to having read its whole request,
  /// however slowly it arrives; the time it waited for its first byte and
  /// for a thread counts. A connection whose deadline passed before a
  /// thread took it is read without waiting: served if its request arrived
  /// whole, refused (408) if not.
  std::chrono::milliseconds read_deadline{2000};
  /// Time a single write may wait for the client.
  std::chrono::milliseconds write_timeout{5000};
  /// Threads, and what connections may cost before one serves them.
  connection_limits connections;
};

/// A refusal: the status and the sentence its body says.
struct http_refusal {
  int status;
  std::string message;
};

/// What `admit` checks a request head against.
struct admission {
  /// Host names (without port) a request may name in its `Host` header.
  std::vector<std::string> hosts;
  size_t max_body = 0;
};

/// Decides on a request head: a `Host` outside `rules.hosts` (a page of
/// another site that a browser sends here after DNS rebinding) gets 421, a
/// body announced above `rules.max_body` 413, `Content-Length` headers that
/// differ 400 (RFC 9112, 6.3: the body's end is unknown). Requests without
/// `Host` (HTTP/1.0 tools) pass; browsers always send one.
std::optional<http_refusal> admit(const httplib::Request& req,
                                  const admission& rules);

/// Returns whether the client of the connection this thread serves has
/// closed it (an event stream's client that left).
bool client_left();

/// cpp-httplib's server, one request per connection, read within
/// `http_limits`.
class guarded_http_server : public httplib::Server {
public:
  explicit guarded_http_server(http_limits limits);

  /// Binds to `host` and `port` (0 for any free one) with room in the
  /// kernel for `connection_limits::max_waiting` connections not yet
  /// accepted; returns the port, or -1.
  int bind(const std::string& host, int port);

private:
  /// Takes a connection on httplib's accepting thread, for `connections_`.
  bool process_and_close_socket(socket_t sock) override;

  /// Reads and answers one request on a thread of `connections_`, within
  /// the read deadline that counts from `x.accepted`.
  void serve(const accepted_connection& x);

  http_limits limits_;
  connection_queue connections_;
};

} // namespace trellis::detail
