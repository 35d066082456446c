#include "trellis/observer/observer.hpp"

#include <atomic>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include <httplib.h>

#include "blocking_call.hpp"
#include "json.hpp"
#include "observer_crashes.hpp"
#include "observer_hub.hpp"
#include "observer_metrics.hpp"
#include "observer_page.hpp"
#include "observer_server.hpp"
#include "observer_sys.hpp"
#include "trellis/atoms.hpp"
#include "trellis/child_spec.hpp"
#include "trellis/child_statistics.hpp"
#include "trellis/detail/member_class.hpp"
#include "trellis/detail/sys_control.hpp"
#include "trellis/errc.hpp"
#include "trellis/incident.hpp"
#include "trellis/mailbox_probe.hpp"
#include "trellis/shutdown_phase.hpp"
#include "trellis/supervisor.hpp"
#include "trellis/traced_message.hpp"

namespace trellis {

namespace {

using detail::call_within;

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

/// Feeds every event of the tree's event group, which it is spawned in, to
/// the hub, and tells it when the root ended and why.
caf::behavior collector(caf::event_based_actor* self,
                        std::shared_ptr<detail::observer_hub> hub,
                        caf::actor root) {
  self->monitor(root);
  self->set_down_handler([self, hub](caf::down_msg& msg) {
    hub->tree_ended(msg.reason ? self->system().render(msg.reason)
                               : std::string{"normal"});
  });
  return {
    [self, hub](const lifecycle_event& ev) {
      auto& sys = self->system();
      auto reason = ev.reason ? sys.render(ev.reason) : std::string{};
      std::string code;
      if (ev.kind == lifecycle_kind::child_exited && !is_normal_exit(ev.reason))
        code = sys.render(caf::error{ev.reason.code(), ev.reason.category()});
      hub->publish(ev, reason, code);
    },
  };
}

void answer(httplib::Response& res, int status, const std::string& json) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  // The JSON echoes paths and carries crash reports' user data: never let a
  // browser sniff it as HTML.
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(json, "application/json");
}

void answer_error(httplib::Response& res, int status,
                  const std::string& message) {
  std::string json = "{\"error\":";
  detail::append_json_text(json, message);
  json += '}';
  answer(res, status, json);
}

/// 410 Gone for a tree whose root ended: nothing will answer again. The
/// page shows `reason`.
void answer_ended(httplib::Response& res, const std::string& reason) {
  std::string json = "{\"error\":\"the tree ended\",\"ended\":true,"
                     "\"reason\":";
  detail::append_json_string(json, reason);
  json += '}';
  answer(res, 410, json);
}

/// The HTTP status for an error of the tree.
int status_of(const caf::error& err) {
  if (is(err, errc::not_found))
    return 404;
  if (is(err, errc::running) || is(err, errc::restarting)
      || is(err, errc::not_supported) || is(err, errc::shutting_down))
    return 409;
  if (is(err, errc::timeout) || is(err, errc::calling_self)
      || is(err, errc::hung) || err == caf::sec::request_timeout
      || err == caf::sec::request_receiver_down)
    return 503;
  return 500;
}

/// Compares without an early exit, so that timing does not leak the token.
bool same_token(const std::string& x, const std::string& y) {
  if (x.size() != y.size())
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < x.size(); ++i)
    diff |= static_cast<unsigned char>(x[i] ^ y[i]);
  return diff == 0;
}

} // namespace

struct observer::impl {
  caf::actor_system& sys;
  caf::actor root;
  observer_config cfg;
  std::shared_ptr<detail::observer_hub> hub;
  detail::guarded_http_server server;
  std::thread thread;
  caf::actor events;
  uint16_t port = 0;
  detail::http_limits server_limits = limits(cfg);
  std::atomic<size_t> streams{0};
  std::atomic<bool> listen_returned{false};
  bool is_stopped = false;

  /// How many past events a new event stream starts with.
  static constexpr size_t recent_events = 100;

  impl(caf::actor_system& s, caf::actor r, observer_config c)
    : sys(s),
      root(std::move(r)),
      cfg(std::move(c)),
      hub(std::make_shared<detail::observer_hub>(
        4096, cfg.per_dynamic_child_series)),
      server(limits(cfg)) {
    // nop
  }

  static detail::http_limits limits(const observer_config& cfg) {
    detail::http_limits result;
    result.read_deadline
      = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.read_timeout);
    // One thread per open stream, plus some for requests: a client that
    // trickles its request holds one until `read_timeout` after it
    // connected at most, one that sends nothing none.
    result.connections.threads = cfg.max_event_streams + 8;
    result.connections.first_byte_deadline = std::min(
      result.read_deadline, std::chrono::milliseconds{1000});
    return result;
  }

  detail::admission rules() const {
    detail::admission result;
    result.hosts = cfg.allowed_hosts;
    if (result.hosts.empty()) {
      result.hosts = {"127.0.0.1", "localhost", "::1"};
      if (!is_loopback(cfg.host) && cfg.host != "0.0.0.0" && cfg.host != "::")
        result.hosts.push_back(cfg.host);
    }
    result.max_body = server_limits.max_body;
    return result;
  }

  ~impl() {
    stop();
  }

  void stop() {
    if (is_stopped)
      return;
    is_stopped = true;
    // Streams first: they hold server threads that `server.stop` joins.
    hub->stop();
    server.stop();
    if (thread.joinable())
      thread.join();
    if (events)
      caf::anon_send_exit(events, caf::exit_reason::user_shutdown);
  }

  caf::duration timeout() const {
    return caf::duration{cfg.request_timeout};
  }

  caf::expected<tree_snapshot> tree() {
    return call_within<tree_snapshot>(sys, timeout(), root,
                                      snapshot_atom::value);
  }

  std::string render(const caf::error& err) {
    return sys.render(err);
  }

  // -- routes -----------------------------------------------------------------

  using handler = std::function<void(const httplib::Request&,
                                     httplib::Response&)>;

  /// Serves `pattern` with `f`, which needs only the response.
  void route(const std::string& pattern, const std::string& method,
             void (impl::*f)(httplib::Response&)) {
    route(pattern, method,
          [this, f](const httplib::Request&, httplib::Response& res) {
            (this->*f)(res);
          });
  }

  /// Serves `pattern` with `h` for `method` and 405 for any other method.
  void route(const std::string& pattern, const std::string& method,
             handler h) {
    route(pattern, {{method, std::move(h)}});
  }

  /// Serves `pattern` with a handler per method, and 405 for any other.
  void route(const std::string& pattern,
             const std::map<std::string, handler>& by_method) {
    std::string allowed;
    for (auto& [method, h] : by_method)
      allowed += (allowed.empty() ? "" : ", ") + method;
    auto reject = [allowed](const httplib::Request& req,
                            httplib::Response& res) {
      res.set_header("Allow", allowed);
      answer_error(res, 405, req.method + " not allowed; use " + allowed);
    };
    auto pick = [&](const char* m) -> handler {
      auto i = by_method.find(m);
      return i != by_method.end() ? i->second : reject;
    };
    server.Get(pattern, pick("GET"));
    server.Post(pattern, pick("POST"));
    server.Put(pattern, pick("PUT"));
    server.Delete(pattern, pick("DELETE"));
    server.Patch(pattern, pick("PATCH"));
  }

  void install_routes() {
    route("/", "GET", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(detail::observer_page, "text/html; charset=utf-8");
    });
    route("/api/tree", "GET",
          [this](const httplib::Request&, httplib::Response& res) {
            auto snap = tree();
            if (snap)
              answer(res, 200, to_json(*snap));
            else if (auto why = hub->ended())
              answer_ended(res, *why);
            else
              answer_error(res, 503, "no snapshot: " + render(snap.error()));
          });
    route("/livez", "GET", &impl::serve_livez);
    route("/readyz", "GET", &impl::serve_readyz);
    route("/api/mailboxes", "GET", &impl::serve_mailboxes);
    route("/api/incidents", "GET", &impl::serve_incidents);
    route("/metrics", "GET", &impl::serve_metrics);
    route("/api/events", "GET", &impl::serve_events);
    route("/api/crashes", "GET",
          [this](const httplib::Request& req, httplib::Response& res) {
            serve_crashes(req, res);
          });
    route("/api/restart", "POST",
          [this](const httplib::Request& req, httplib::Response& res) {
            control(req, res, true);
          });
    route("/api/terminate", "POST",
          [this](const httplib::Request& req, httplib::Response& res) {
            control(req, res, false);
          });
    install_sys_routes();
  }

  // -- metrics ----------------------------------------------------------------

  // -- health for orchestrators ----------------------------------------------

  /// A probe must answer before an orchestrator's own timeout (Kubernetes:
  /// 1 s by default).
  caf::duration probe_timeout() const {
    return caf::duration{
      std::min(cfg.request_timeout, caf::timespan{std::chrono::seconds(1)})};
  }

  /// `{"status":..., "reasons":[...]}`, 200 without reasons, else 503.
  static void answer_health(httplib::Response& res, const char* good,
                            const char* bad,
                            const std::vector<std::string>& reasons) {
    std::string json = "{\"status\":";
    detail::append_json_string(json, reasons.empty() ? good : bad);
    json += ",\"reasons\":[";
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (i > 0)
        json += ',';
      detail::append_json_text(json, reasons[i]);
    }
    json += "]}";
    answer(res, reasons.empty() ? 200 : 503, json);
  }

  /// Live while the root supervisor runs and answers; a restart is the
  /// remedy for anything else.
  void serve_livez(httplib::Response& res) {
    std::vector<std::string> reasons;
    if (auto why = hub->ended()) {
      reasons.push_back("the root ended: " + *why);
    } else {
      auto counts = call_within<child_counts>(sys, probe_timeout(), root,
                                              count_children_atom::value);
      if (!counts)
        reasons.push_back(counts.error() == caf::sec::request_receiver_down
                            ? "the root ended: " + render(counts.error())
                            : "the root supervisor does not answer: "
                                + render(counts.error()));
    }
    answer_health(res, "live", "not live", reasons);
  }

  /// Ready while no shutdown began, the root started, and every child
  /// marked `needed_for_readiness` runs and passes its health checks.
  void serve_readyz(httplib::Response& res) {
    // One budget for its two requests: the answer must beat the prober's.
    auto deadline = std::chrono::steady_clock::now()
                    + std::min(cfg.request_timeout,
                               caf::timespan{std::chrono::seconds(1)});
    auto left = [&] {
      caf::timespan t = std::max<caf::timespan>(
        deadline - std::chrono::steady_clock::now(),
        std::chrono::milliseconds(1));
      return caf::duration{t};
    };
    std::vector<std::string> reasons;
    if (auto phase = current_shutdown_phase(sys);
        phase != shutdown_phase::running)
      reasons.push_back("shutting down: " + to_string(phase));
    if (auto why = hub->ended()) {
      reasons.push_back("the root ended: " + *why);
      answer_health(res, "ready", "not ready", reasons);
      return;
    }
    auto started = call_within<caf::ok_atom>(sys, left(), root,
                                             caf::get_atom::value,
                                             started_atom::value);
    if (!started) {
      auto& err = started.error();
      reasons.push_back(is(err, errc::timeout)
                          ? std::string{"the tree is starting"}
                        : err == caf::sec::request_receiver_down
                          ? "the root ended: " + render(err)
                          : "the tree did not start: " + render(err));
      answer_health(res, "ready", "not ready", reasons);
      return;
    }
    auto snap = call_within<tree_snapshot>(sys, left(), root,
                                           snapshot_atom::value);
    if (!snap) {
      reasons.push_back("no snapshot: " + render(snap.error()));
      answer_health(res, "ready", "not ready", reasons);
      return;
    }
    auto check = [&](const tree_snapshot& node, auto& self) -> void {
      if (node.needed_for_readiness) {
        if (node.state != child_state::running)
          reasons.push_back(node.path + " is " + to_string(node.state));
        else if (node.missed_health_checks > 0)
          reasons.push_back(node.path + " missed "
                            + std::to_string(node.missed_health_checks)
                            + " health checks");
      }
      for (auto& child : node.children)
        self(child, self);
    };
    check(*snap, check);
    answer_health(res, "ready", "not ready", reasons);
  }

  /// `{"root/a": 3, ...}`: the depth of every actor that answered its
  /// probe within a second.
  void serve_mailboxes(httplib::Response& res) {
    auto snap = tree();
    if (!snap) {
      if (auto why = hub->ended())
        answer_ended(res, *why);
      else
        answer_error(res, 503, "no snapshot: " + render(snap.error()));
      return;
    }
    auto depths = trellis::mailbox_depths(
      sys, *snap,
      std::min(cfg.request_timeout, caf::timespan{std::chrono::seconds(1)}));
    std::string json = "{";
    for (auto& [path, n] : depths) {
      if (json.size() > 1)
        json += ',';
      detail::append_json_string(json, path);
      json += ':' + std::to_string(n);
    }
    json += '}';
    answer(res, 200, json);
  }

  /// The node's open incidents (see `dependency_policy`), oldest first.
  void serve_incidents(httplib::Response& res) {
    auto ms = [](auto x) {
      return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(x).count());
    };
    std::string json = "[";
    for (auto& x : open_incidents(sys)) {
      if (json.size() > 1)
        json += ',';
      json += "{\"id\":" + std::to_string(x.id) + ",\"dependency\":";
      detail::append_json_string(json, x.dependency);
      json += ",\"state\":";
      detail::append_json_string(json, x.state);
      json += ",\"cause\":";
      detail::append_json_string(json, x.cause);
      json += ",\"opened_at_ms\":" + ms(x.opened_at.time_since_epoch())
              + ",\"failures\":" + std::to_string(x.failures)
              + ",\"paused\":" + std::to_string(x.paused)
              + ",\"probes\":" + std::to_string(x.probes)
              + ",\"reported_down_by\":";
      detail::append_json_string(json, x.reported_down_by);
      json += ",\"next_probe_in_ms\":" + ms(x.next_probe_in) + "}";
    }
    json += "]";
    answer(res, 200, json);
  }

  void serve_metrics(httplib::Response& res) {
    detail::metrics_input in;
    auto snap = tree();
    if (snap) {
      in.tree = &*snap;
      // A hung actor never answers; do not let it hold the scrape for long.
      in.mailbox_depths = trellis::mailbox_depths(
        sys, *snap,
        std::min(cfg.request_timeout, caf::timespan{std::chrono::seconds(1)}));
    }
    in.counters = hub->counters();
    in.incidents = open_incidents(sys);
    in.per_child_series = cfg.per_dynamic_child_series;
    in.event_streams = streams.load();
    res.set_content(detail::render_metrics(in),
                    "text/plain; version=0.0.4; charset=utf-8");
  }

  // -- events -----------------------------------------------------------------

  void serve_events(httplib::Response& res) {
    if (++streams > cfg.max_event_streams) {
      --streams;
      answer_error(res, 503, "too many event streams");
      return;
    }
    res.set_header("Cache-Control", "no-store");
    uint64_t seq = 0;
    detail::observer_counters now;
    auto opening = hub->subscribe(seq, recent_events, now);
    auto totals = detail::counters_json(now, seq);
    auto hub_ptr = hub;
    auto keep_alive = cfg.keep_alive;
    bool first = true;
    res.set_chunked_content_provider(
      "text/event-stream",
      [hub_ptr, keep_alive, seq, first, opening,
       totals](size_t, httplib::DataSink& sink) mutable {
        std::string out;
        std::vector<detail::observer_entry> entries;
        if (first) {
          // Reconnect soon after a restart of the process; start with the
          // counts so far, then the recent events and the alarms that are
          // open, raised before this stream began (ids up to the counts'
          // `seq`: a page shows them, and counts only what comes after).
          out = "retry: 1000\n: connected\n\n";
          entries.push_back(detail::observer_entry{seq, "counters", totals});
          entries.insert(entries.end(), opening.begin(), opening.end());
          opening = {};
          totals = {};
          first = false;
        } else {
          // Wait in short slices, so that a client that left frees its
          // slot within half a second, not at the next keep-alive.
          auto until = std::chrono::steady_clock::now() + keep_alive;
          const caf::timespan slice = std::chrono::milliseconds(500);
          for (;;) {
            auto left = until - std::chrono::steady_clock::now();
            entries = hub_ptr->wait(seq, std::min<caf::timespan>(slice, left));
            if (hub_ptr->stopped() || detail::client_left())
              return false;
            if (!entries.empty() || std::chrono::steady_clock::now() >= until)
              break;
          }
          if (entries.empty())
            out = ": keep-alive\n\n";
        }
        for (auto& e : entries)
          out += "id: " + std::to_string(e.seq) + "\nevent: " + e.kind
                 + "\ndata: " + e.json + "\n\n";
        // A write fails once the client left; returning false ends the
        // stream and frees its thread.
        return sink.write(out.data(), out.size());
      },
      [this](bool) { --streams; });
  }

  // -- crash reports ----------------------------------------------------------

  /// Answers the crash reports of `?path=` (a child's, or a supervisor's
  /// children's; the root's children's without it), newest first. Renders
  /// them here, on the server's thread: symbolizing may read debug info.
  void serve_crashes(const httplib::Request& req, httplib::Response& res) {
    std::string path;
    if (req.has_param("path")) {
      path = req.get_param_value("path");
      if (auto why = detail::malformed_path(path)) {
        answer_error(res, 400,
                     *why + ": expected ?path=<path in the tree>, e.g. "
                            "root/db/writer");
        return;
      }
    }
    auto snap = tree();
    if (!snap) {
      if (auto why = hub->ended())
        answer_ended(res, *why);
      else
        answer_error(res, 503, "no snapshot: " + render(snap.error()));
      return;
    }
    if (path.empty())
      path = snap->path;
    auto plan = detail::plan_crashes(*snap, path);
    if (plan.status != 200) {
      answer_error(res, plan.status, plan.error);
      return;
    }
    std::vector<crash_report> reports;
    std::string sup_path;
    if (plan.supervisor) {
      sup_path = plan.supervisor->path;
      auto xs = call_within<std::vector<crash_report>>(
        sys, timeout(), plan.supervisor->actor, crash_reports_atom::value);
      if (!xs) {
        answer_error(res, status_of(xs.error()),
                     "no crash reports from " + sup_path + ": "
                       + render(xs.error()));
        return;
      }
      // The supervisor lists them oldest first.
      for (auto i = xs->rbegin(); i != xs->rend(); ++i)
        if (plan.scope == detail::crashes_scope::children || i->path == path)
          reports.push_back(std::move(*i));
    }
    if (!plan.in_tree && reports.empty()) {
      answer_error(res, 404, "no child or supervisor " + path);
      return;
    }
    auto rendering = [this](const caf::error& x) { return render(x); };
    answer(res, 200,
           detail::crashes_json(path, sup_path, plan.scope, reports,
                                rendering));
  }

  // -- control ----------------------------------------------------------------

  /// Checks the bearer token; answers 403 or 401 and returns false if it
  /// does not match.
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (cfg.operator_token.empty()) {
      answer_error(res, 403,
                   "control endpoints are disabled: the observer has no "
                   "operator_token");
      return false;
    }
    auto header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.compare(0, prefix.size(), prefix) != 0) {
      res.set_header("WWW-Authenticate", "Bearer");
      answer_error(res, 401,
                   "missing operator token: send Authorization: Bearer "
                   "<token>");
      return false;
    }
    if (!same_token(header.substr(prefix.size()), cfg.operator_token)) {
      answer_error(res, 403, "wrong operator token");
      return false;
    }
    return true;
  }

  /// A child named by `?path=`: its supervisor, its path and its id.
  struct child_target {
    caf::actor supervisor;
    std::string path;
    std::string id;
  };

  /// Finds the supervisor of the child that `?path=<supervisor path>/<child
  /// id>` names. Otherwise answers 400 for a malformed path (before the
  /// tree is asked), 410 once the tree ended, or the lookup's error (404
  /// for no such supervisor), and returns none.
  std::optional<child_target> target_of(const httplib::Request& req,
                                        httplib::Response& res) {
    auto path = req.get_param_value("path");
    auto slash = path.rfind('/');
    auto why = detail::malformed_path(path);
    if (!why && slash == std::string::npos)
      why = "no child id in path";
    if (why) {
      answer_error(res, 400,
                   *why + ": expected ?path=<supervisor path>/<child id>, "
                          "e.g. root/db/writer");
      return std::nullopt;
    }
    auto parent = path.substr(0, slash);
    auto sup = call_within<caf::actor>(sys, timeout(), root,
                                       lookup_atom::value, parent);
    if (!sup) {
      if (auto ended = hub->ended())
        answer_ended(res, *ended);
      else
        answer_error(res, status_of(sup.error()),
                     "no supervisor " + parent + ": " + render(sup.error()));
      return std::nullopt;
    }
    // A worker would not understand, and log each request as unexpected.
    auto ptr = caf::actor_cast<caf::abstract_actor*>(*sup);
    if (detail::inspectable(ptr)) {
      answer_not_supervisor(res, parent);
      return std::nullopt;
    }
    return child_target{std::move(*sup), path, path.substr(slash + 1)};
  }

  static void answer_not_supervisor(httplib::Response& res,
                                    const std::string& parent) {
    answer_error(res, 404, "no supervisor " + parent + ": it is a worker");
  }

  /// Answers an error of `t`'s supervisor, by `status_of`.
  void answer_failure(httplib::Response& res, const child_target& t,
                      const caf::error& err) {
    // A worker that is not inspectable (a blocking one) gets here.
    if (err == caf::sec::unexpected_message) {
      answer_not_supervisor(res,
                            t.path.substr(0, t.path.size() - t.id.size() - 1));
      return;
    }
    answer_error(res, status_of(err), render(err));
  }

  /// Asks the supervisor of `t` for a `T` within `timeout()`; answers the
  /// error and returns none if it fails.
  template <class T, class... Ts>
  std::optional<T> ask(const child_target& t, httplib::Response& res,
                       Ts&&... xs) {
    auto x = call_within<T>(sys, timeout(), t.supervisor,
                            std::forward<Ts>(xs)...);
    if (x)
      return std::move(*x);
    answer_failure(res, t, x.error());
    return std::nullopt;
  }

  void control(const httplib::Request& req, httplib::Response& res,
               bool restart) {
    if (!authorized(req, res))
      return;
    auto t = target_of(req, res);
    if (!t)
      return;
    auto terminate = [&] {
      return call_within<caf::ok_atom>(sys, timeout(), t->supervisor,
                                       terminate_child_atom::value, t->id);
    };
    caf::error err;
    if (restart) {
      // OTP's restart_child starts a stopped child; an operator's restart
      // of a running one means stop it, then start it.
      auto started = call_within<caf::actor>(sys, timeout(), t->supervisor,
                                             restart_child_atom::value, t->id);
      if (!started && is(started.error(), errc::running)) {
        if (auto stopped = terminate(); !stopped)
          started = stopped.error();
        else
          started = call_within<caf::actor>(sys, timeout(), t->supervisor,
                                            restart_child_atom::value, t->id);
      }
      if (!started)
        err = started.error();
    } else if (auto stopped = terminate(); !stopped) {
      err = stopped.error();
    }
    if (err) {
      answer_failure(res, *t, err);
      return;
    }
    answer(res, 200,
           detail::action_json(t->path, restart ? "restart" : "terminate"));
  }

  // -- looking inside a child (trellis/sys.hpp) -------------------------------

  void install_sys_routes() {
    auto get = [this](void (impl::*f)(const child_target&,
                                      httplib::Response&)) {
      return [this, f](const httplib::Request& req, httplib::Response& res) {
        if (auto t = target_of(req, res))
          (this->*f)(*t, res);
      };
    };
    auto post = [this](void (impl::*f)(const httplib::Request&,
                                       httplib::Response&)) {
      return [this, f](const httplib::Request& req, httplib::Response& res) {
        if (authorized(req, res))
          (this->*f)(req, res);
      };
    };
    route("/api/sys", "GET", get(&impl::serve_statistics));
    route("/api/sys/trace", {{"GET", get(&impl::serve_trace)},
                             {"POST", post(&impl::set_trace)}});
    route("/api/sys/state", "GET", get(&impl::serve_state));
    route("/api/sys/statistics", "POST", post(&impl::set_statistics));
    route("/api/sys/suspend", "POST", post(&impl::suspend));
    route("/api/sys/resume", "POST", post(&impl::resume));
  }

  /// The child's statistics, and what its spec says of its trace and state.
  void serve_statistics(const child_target& t, httplib::Response& res) {
    auto stats = ask<child_statistics>(t, res, sys_statistics_atom::value,
                                       t.id);
    if (!stats)
      return;
    auto spec = ask<child_spec>(t, res, get_childspec_atom::value, t.id);
    if (!spec)
      return;
    answer(res, 200,
           detail::statistics_json(*stats, spec->trace(),
                                   spec->has_crash_dump()));
  }

  void serve_trace(const child_target& t, httplib::Response& res) {
    auto xs = ask<std::vector<traced_message>>(t, res, sys_trace_atom::value,
                                               t.id);
    if (xs)
      answer(res, 200, detail::trace_json(t.path, *xs));
  }

  void serve_state(const child_target& t, httplib::Response& res) {
    // The supervisor gives up on the child first, and says why.
    auto within = cfg.request_timeout - cfg.request_timeout / 4;
    auto x = ask<std::string>(t, res, sys_get_state_atom::value, t.id,
                              caf::timespan{within});
    if (x)
      answer(res, 200, detail::state_json(t.path, *x));
  }

  // The controls read their parameters before they ask the tree.

  /// Sends `(head, id, xs...)` to the supervisor of `?path=`'s child and
  /// answers the action, with `extra` JSON fields.
  template <class Atom, class... Ts>
  void command(const httplib::Request& req, httplib::Response& res,
               const char* action, const std::string& extra, Atom head,
               Ts... xs) {
    auto t = target_of(req, res);
    if (t && ask<caf::ok_atom>(*t, res, head, t->id, xs...))
      answer(res, 200, detail::action_json(t->path, action, extra));
  }

  void set_statistics(const httplib::Request& req, httplib::Response& res) {
    auto on = detail::read_switch(req.get_param_value("on"));
    if (!on.value)
      return answer_error(res, 400, on.error);
    command(req, res, "statistics", *on.value ? "\"on\":true" : "\"on\":false",
            sys_statistics_atom::value, *on.value);
  }

  void set_trace(const httplib::Request& req, httplib::Response& res) {
    auto n = detail::read_trace_length(req.get_param_value("n"));
    if (!n.value)
      return answer_error(res, 400, n.error);
    command(req, res, "trace", "\"n\":" + std::to_string(*n.value),
            sys_trace_atom::value, *n.value);
  }

  void suspend(const httplib::Request& req, httplib::Response& res) {
    command(req, res, "suspend", {}, sys_suspend_atom::value);
  }

  void resume(const httplib::Request& req, httplib::Response& res) {
    command(req, res, "resume", {}, sys_resume_atom::value);
  }
};

observer::observer(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

observer::observer(observer&&) noexcept = default;

observer& observer::operator=(observer&&) noexcept = default;

observer::~observer() = default;

uint16_t observer::port() const noexcept {
  return impl_ ? impl_->port : 0;
}

std::string observer::url() const {
  if (!impl_)
    return {};
  auto& host = impl_->cfg.host;
  auto bracketed = host.find(':') != std::string::npos ? "[" + host + "]"
                                                       : host;
  return "http://" + bracketed + ":" + std::to_string(impl_->port) + "/";
}

void observer::stop() {
  if (impl_)
    impl_->stop();
}

caf::expected<observer> start_observer(caf::actor_system& sys,
                                       const caf::actor& root,
                                       observer_config cfg) {
  if (!root)
    return caf::make_error(caf::sec::invalid_argument,
                           "observer: invalid root handle");
  if (!is_loopback(cfg.host) && !cfg.allow_remote)
    return caf::make_error(caf::sec::invalid_argument,
                           "observer: " + cfg.host
                             + " is not loopback; set allow_remote to "
                               "listen there");
  auto events = lifecycle_events(sys, root);
  if (!events)
    return std::move(events.error());
  auto ptr = std::make_unique<observer::impl>(sys, root, std::move(cfg));
  auto& x = *ptr;
  // Every refusal says why, httplib's own (a malformed or slow request, a
  // request line too long) too.
  using with_response = httplib::Server::HandlerWithResponse;
  x.server.set_error_handler(with_response{[](const httplib::Request& req,
                                              httplib::Response& res) {
    // httplib cuts an error's body into the ranges asked for, as a
    // multipart body; an error is sent whole. (The request is httplib's
    // own non-const object, handed out as const.)
    const_cast<httplib::Request&>(req).ranges.clear();
    if (!res.body.empty())
      return httplib::Server::HandlerResponse::Unhandled;
    std::string why;
    switch (res.status) {
      case 400:
        if (req.method == "POST" && !req.has_header("Content-Length"))
          why = "POST without Content-Length: send Content-Length: 0 for no "
                "body";
        else
          why = "malformed request, or not sent whole within the read "
                "timeout";
        break;
      case 404:
        why = "no such endpoint; see docs/observer.md";
        break;
      case 413:
        why = "request too large";
        break;
      case 414:
        why = "request line longer than 8192 bytes";
        break;
      case 416:
        why = "malformed Range header: the observer answers whole, ask "
              "without Range";
        break;
      default:
        why = "refused with status " + std::to_string(res.status);
    }
    answer_error(res, res.status, why);
    return httplib::Server::HandlerResponse::Handled;
  }});
  // httplib's default adds SO_REUSEPORT, with which a second server on a port
  // in use would share it instead of failing.
  x.server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // httplib compresses with brotli at its best and slowest quality, which
  // takes seconds for a large tree's JSON; offer it gzip only, which is fast.
  x.server.set_pre_routing_handler([rules = x.rules()](
                                      const httplib::Request& req,
                                      httplib::Response& res) {
    // Refused on its head alone: a refused body is never read.
    if (auto refusal = detail::admit(req, rules)) {
      answer_error(res, refusal->status, refusal->message);
      return httplib::Server::HandlerResponse::Handled;
    }
    // The request is httplib's own non-const object, handed out as const.
    auto& request = const_cast<httplib::Request&>(req);
    // Answers are small and made per request: each is sent whole (RFC 9110
    // lets a server ignore Range). httplib would build `bytes=0-,0-,...`
    // in memory as one page thousands of times over.
    request.ranges.clear();
    request.headers.erase("Range");
    auto& headers = request.headers;
    auto accepted = req.get_header_value("Accept-Encoding");
    headers.erase("Accept-Encoding");
    if (accepted.find("gzip") != std::string::npos)
      headers.emplace("Accept-Encoding", "gzip");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  x.install_routes();
  auto address = x.cfg.host + ":" + std::to_string(x.cfg.port);
  auto port = x.server.bind(x.cfg.host, x.cfg.port);
  if (port <= 0)
    return caf::make_error(caf::sec::cannot_open_port,
                           "observer: cannot listen on " + address);
  x.port = static_cast<uint16_t>(port);
  // In the group before the spawn returns, so that the observer counts
  // every event after start_observer: the actor's own join would come
  // whenever it first runs.
  x.events = sys.spawn_in_group<caf::hidden>(*events, collector, x.hub, root);
  x.thread = std::thread{[&x] {
    x.server.listen_after_bind();
    x.listen_returned = true;
  }};
  // `stop` before the server runs would not reach it; wait until it does.
  while (!x.server.is_running() && !x.listen_returned)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return observer{std::move(ptr)};
}

} // namespace trellis
