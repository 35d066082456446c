#pragma once

/// @file
/// The observer: a tree live in a browser, its events, metrics and operator
/// controls over HTTP. Link `%trellis::observer`.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

namespace trellis {

/// How an observer serves a tree over HTTP.
///
/// The defaults are safe: loopback only, no control. Binding to any other
/// address needs `allow_remote`, and the control endpoints (restart,
/// terminate, and those of `/api/sys`) need an `operator_token`; the
/// observer has no TLS, so put a proxy in front of it before exposing it
/// beyond the host.
struct observer_config {
  /// The address to listen on; only loopback unless `allow_remote`.
  std::string host = "127.0.0.1";
  /// The port; 0 picks a free one (see `observer::port`).
  uint16_t port = 0;
  /// Must be true to listen on anything but `127.0.0.1`, `::1` or
  /// `localhost`.
  bool allow_remote = false;
  /// The bearer token of the control endpoints; empty disables them (they
  /// answer 403).
  std::string operator_token;
  /// How often an idle event stream gets a keep-alive comment; also how
  /// soon a client that left is noticed.
  caf::timespan keep_alive = std::chrono::seconds(10);
  /// How long a request to the tree (a snapshot, a mailbox probe, a
  /// restart) may take before the endpoint answers 503. A child asked for
  /// its state (`GET /api/sys/state`) gets three quarters of it.
  caf::timespan request_timeout = std::chrono::seconds(5);
  /// How many event streams may be open at once; more are answered 503.
  size_t max_event_streams = 16;

  /// The names a request's `Host` header may give (without the port); any
  /// other gets 421, so that a page of another site cannot read the tree
  /// through a browser by DNS rebinding. Empty means `host` and the loopback
  /// names (`127.0.0.1`, `localhost`, `::1`); an observer on a wildcard
  /// address (`0.0.0.0`, `::`) must list the names its users type.
  std::vector<std::string> allowed_hosts;

  /// How long a client may take to send a whole request, however slowly it
  /// trickles, counted from when the observer accepted its connection: the
  /// time it waits for its first byte and for a thread counts too, and one
  /// whose time ran out while it waited is served only if its request
  /// arrived whole meanwhile (else 408, at once). Each
  /// connection carries one request. A request head above 16 KiB or a body
  /// above 4 KiB is refused (413) before it is read. A connection that
  /// sends nothing waits for at most 1 s of it (408), without holding a
  /// thread.
  caf::timespan read_timeout = std::chrono::seconds(2);

  /// Whether `/metrics` has series per dynamic child (`path="root/jobs/
  /// job#17"`). Off by default: children that come and go would grow the
  /// series, and the observer's counters, without bound; their restarts,
  /// crashes and mailbox depths are added up per template
  /// (`path="root/jobs/job#*"`) instead.
  bool per_dynamic_child_series = false;
};

/// A running observer: an HTTP server that shows a supervision tree live, as
/// Erlang's `observer` does for OTP's. It serves
///
/// - `GET /`: a page that draws the tree and follows its events;
/// - `GET /api/tree`: the tree's snapshot as JSON (see `to_json`);
/// - `GET /api/events`: the tree's `lifecycle_event`s as Server-Sent Events,
///   starting with the last 100 and the counts so far;
/// - `GET /api/mailboxes`: each running actor's mailbox depth as JSON;
/// - `GET /metrics`: counters and gauges in Prometheus' text format;
/// - `GET /livez`: 200 while the root supervisor runs and answers, else 503
///   with the reasons (`{"status":..., "reasons":[...]}`);
/// - `GET /readyz`: 200 while no shutdown began (`current_shutdown_phase`),
///   the root started, and every child marked `needed_for_readiness` runs
///   and passes its health checks, else 503 naming each that does not;
/// - `GET /api/crashes?path=P`: the crash reports of child `P` (or of a
///   supervisor's children; of the root's without `path`), newest first,
///   as JSON, each with its exception, message, last messages, symbolized
///   trace and state (see `crash_report`);
/// - `POST /api/restart?path=P`, `POST /api/terminate?path=P`: with
///   `Authorization: Bearer <operator_token>`, restart or stop a child;
/// - `GET /api/sys?path=P`: the `child_statistics` of child `P` (see
///   trellis/sys.hpp), and whether its spec traces it and renders its
///   state;
/// - `GET /api/sys/trace?path=P`: its traced messages, newest first;
/// - `GET /api/sys/state?path=P`: its state, as its spec's `format_state`
///   renders it;
/// - `POST /api/sys/statistics?path=P&on=true|false`,
///   `POST /api/sys/trace?path=P&n=N`, `POST /api/sys/suspend?path=P`,
///   `POST /api/sys/resume?path=P`: with the token, switch its statistics,
///   trace its last `N` messages (0 for none), suspend or resume it.
///
/// See docs/observer.md for the metrics and the JSON. Stops when destroyed;
/// destroy (or `stop`) it before the actor system it watches.
///
/// Link `%trellis::observer`; `trellis/all.hpp` leaves this header out, so
/// that programs without an observer do not need cpp-httplib.
class observer {
public:
  /// Takes over the running server; the source no longer owns one.
  observer(observer&&) noexcept;
  /// Stops this observer's server, if any, and takes over the other's.
  observer& operator=(observer&&) noexcept;
  /// Stops the server (see `stop`).
  ~observer();

  /// Returns the port the server listens on.
  uint16_t port() const noexcept;

  /// Returns the page's address, e.g. `http://127.0.0.1:8080/`.
  std::string url() const;

  /// Closes all connections and stops the server; returns once its threads
  /// are gone, within about two seconds (at most `request_timeout` more
  /// while a request to the tree is in flight). Idempotent.
  void stop();

  /// The implementation; private to Trellis.
  struct impl;

  /// Wraps a started implementation; use `start_observer`.
  explicit observer(std::unique_ptr<impl> ptr);

private:
  std::unique_ptr<impl> impl_;
};

/// Starts an observer for the tree under `root` (usually the root
/// supervisor). Fails with `caf::sec::invalid_argument` for an invalid
/// `root` or a non-loopback host without `allow_remote`, and with
/// `caf::sec::cannot_open_port` naming the address if it cannot listen
/// there. Every lifecycle event of the tree after it returns is counted in
/// the metrics and the event stream.
caf::expected<observer> start_observer(caf::actor_system& sys,
                                       const caf::actor& root,
                                       observer_config cfg = {});

} // namespace trellis
