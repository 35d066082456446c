// A tree with an observer, for the page test (page_test.py). Usage:
//   observer_page_host [SESSIONS]
// Prints "port N" once the observer listens, then reads commands, one a
// line: "crash PATH" injects an exception into the child at PATH and
// answers "ok" (or "error ..."); "poison" starts root/parser (once), sends
// it "hello" and then a message with markup in it, on which it crashes, and
// answers "ok" once it was restarted; "give-up" crashes root/gateway until
// the root gives up; "ledger" starts root/ledger (once), a worker that
// renders its state (`format_state`) and parses what it gets; "traffic N"
// sends it N texts and then one with markup in it, as requests it does not
// wait for (the ledger may be suspended), and answers "ok" at once; "quit"
// or the end of input stops; "outage" starts root/reader (once), a worker
// that depends on "db", reports "db" down and crashes the reader, and
// answers "ok" once it is paused; "recover" reports "db" up again and
// answers "ok" once the reader runs. The operator token is "page-token".

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "trellis/all.hpp"
#include "trellis/observer/observer.hpp"
#include "trellis/actors/resource_monitor.hpp"

#include "parser_child.hpp"

using namespace std::chrono_literals;
using trellis::test::parser;
using trellis::test::parser_state;

namespace {

// Takes an argument: CAF 0.17 spawns function actors without any through
// code that UBSan flags (see tests/sanitize/ubsan.supp).
caf::behavior echo(caf::event_based_actor*, int) {
  return {[](int x) { return x; }};
}

caf::behavior session(caf::event_based_actor*, int) {
  return {[](int x) { return x; }};
}

// What a crash report's message may carry: user data that a page must show
// as text. Were it inserted as HTML, its handler would mark the page.
const std::string poison
  = R"(bad <img src=x onerror="document.body.dataset.pwned='1'">)";

// The same markup, in a message the ledger handles: in its trace and state.
const std::string markup
  = R"(<img src=x onerror="document.body.dataset.pwned='1'">)";

std::string render_parser(caf::stateful_actor<parser_state>* self) {
  return "parsed=" + std::to_string(self->state.parsed)
         + " last=" + self->state.last;
}

/// Sends `(actor, text)`'s text to the actor as a request and forgets the
/// answer: the page shows the request, whenever it is handled.
caf::behavior client(caf::event_based_actor* self) {
  return {
    [self](const caf::actor& to, const std::string& text) {
      self->request(to, caf::infinite, text)
        .then([](int32_t) {}, [](caf::error&) {});
    },
  };
}

/// Starts root/ledger unless it runs; returns an error message, or empty.
std::string start_ledger(caf::actor_system& sys, const caf::actor& root) {
  if (trellis::lookup(sys, root, "root/ledger"))
    return {};
  auto spec = trellis::worker("ledger", parser).format_state(render_parser);
  if (auto started = trellis::start_child(sys, root, spec); !started)
    return "start: " + sys.render(started.error());
  return {};
}

/// Whether root/reader is paused for "db" (`paused`) or runs.
bool reader_is(caf::actor_system& sys, const caf::actor& root, bool paused) {
  auto children = trellis::which_children(sys, root);
  if (children)
    for (auto& x : *children)
      if (x.id == "reader")
        return paused ? x.paused_for == "db"
                      : x.state == trellis::child_state::running;
  return false;
}

/// Takes "db" down and crashes root/reader, which depends on it, until it is
/// paused (`down`); or brings "db" back until the reader runs. Returns an
/// error message, or empty.
std::string outage(caf::actor_system& sys, const caf::actor& root, bool down) {
  using trellis::dependency_status;
  if (down && !trellis::lookup(sys, root, "root/reader")) {
    auto spec = trellis::worker("reader", echo, 0).depends_on("db");
    if (auto started = trellis::start_child(sys, root, spec); !started)
      return "start: " + sys.render(started.error());
  }
  if (auto err = trellis::report_dependency(
        sys, "db", down ? dependency_status::down : dependency_status::up,
        "pool", "connection <refused>"))
    return sys.render(err);
  if (down)
    trellis::inject(sys, root,
                    trellis::fault{trellis::fault_kind::exception,
                                   "root/reader"});
  for (int i = 0; i < 2000 && !reader_is(sys, root, down); ++i)
    std::this_thread::sleep_for(10ms);
  if (!reader_is(sys, root, down))
    return down ? "the reader did not pause" : "the reader did not come back";
  return {};
}

/// Starts root/parser unless it runs, sends it "hello" and the poison, and
/// returns an error message, or empty once a new parser runs.
std::string feed_poison(caf::actor_system& sys, const caf::actor& root) {
  auto p = trellis::lookup(sys, root, "root/parser");
  if (!p) {
    auto spec = trellis::worker("parser", parser)
                  .keep_last_messages(4)
                  .on_crash_dump(render_parser);
    if (auto started = trellis::start_child(sys, root, spec); !started)
      return "start: " + sys.render(started.error());
    p = trellis::lookup(sys, root, "root/parser");
    if (!p)
      return "lookup: " + sys.render(p.error());
  }
  caf::scoped_actor self{sys};
  std::string failure;
  for (auto& text : {std::string{"hello"}, poison})
    self->request(*p, caf::duration{5s}, text)
      .receive([](int32_t) {},
               [&](caf::error& err) {
                 if (text != poison)
                   failure = "hello: " + sys.render(err);
               });
  if (!failure.empty())
    return failure;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = trellis::lookup(sys, root, "root/parser");
    if (now && *now != *p)
      return {};
    std::this_thread::sleep_for(5ms);
  }
  return "the parser was not restarted";
}

} // namespace

int main(int argc, char** argv) {
  auto sessions = argc > 1 ? std::stoi(argv[1]) : 3;
  caf::actor_system_config cfg;
  trellis::configure(cfg);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  trellis::set_log_level(trellis::log_level::off);
  auto tree
    = trellis::supervisor("root")
        .intensity(10)
        .period(1h)
        .child(trellis::worker("gateway", echo, 0))
        .child(trellis::supervisor("storage")
                 .strategy(trellis::strategy::rest_for_one)
                 .intensity(3)
                 .period(1h)
                 .child(trellis::worker("journal", echo, 0))
                 .child(trellis::worker("indexer", echo, 0)))
        .child(trellis::dynamic_supervisor(
          "sessions", trellis::worker("session",
                                      [](trellis::child_context& ctx, int n) {
                                        return ctx.spawn(session, n);
                                      })));
  auto root = trellis::start_supervisor(sys, tree);
  if (!root) {
    std::cerr << "start failed: " << sys.render(root.error()) << std::endl;
    return 1;
  }
  auto sup = trellis::lookup(sys, *root, "root/sessions");
  for (int i = 0; sup && i < sessions; ++i)
    if (!trellis::start_child(sys, *sup, caf::make_message(i)))
      return 1;
  trellis::observer_config ocfg;
  ocfg.operator_token = "page-token";
  auto obs = trellis::start_observer(sys, *root, ocfg);
  if (!obs) {
    std::cerr << "observer failed: " << sys.render(obs.error()) << std::endl;
    return 1;
  }
  // An alarm that is always open (any process uses a byte), raised after
  // the observer started (it hears only what comes after) but before the
  // page connects: the page must still list it.
  auto monitor = trellis::resource_monitor(
    "monitor", trellis::resource_monitor_config{}.interval(20ms).add(
                 trellis::threshold("memory", trellis::metric::resident_bytes,
                                    1.0, 0.0)));
  if (!trellis::start_child(sys, *root, monitor))
    return 1;
  auto sender = sys.spawn(client);
  std::cout << "port " << obs->port() << std::endl;
  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    if (line == "give-up") {
      // Crashes the gateway until the root exceeds its intensity and ends.
      trellis::fault f{trellis::fault_kind::exception, "root/gateway"};
      auto deadline = std::chrono::steady_clock::now() + 30s;
      while (trellis::inject(sys, *root, f) != caf::sec::request_receiver_down
             && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
      auto reason = trellis::await_exit(sys, *root, 5s);
      if (trellis::is(reason, trellis::errc::reached_max_restart_intensity))
        std::cout << "ok" << std::endl;
      else
        std::cout << "error: the root did not give up: " << sys.render(reason)
                  << std::endl;
      continue;
    }
    if (line == "outage" || line == "recover") {
      auto failure = outage(sys, *root, line == "outage");
      std::cout << (failure.empty() ? "ok" : "error: " + failure) << std::endl;
      continue;
    }
    if (line == "poison") {
      auto failure = feed_poison(sys, *root);
      std::cout << (failure.empty() ? "ok" : "error: " + failure) << std::endl;
      continue;
    }
    if (line == "ledger") {
      auto failure = start_ledger(sys, *root);
      std::cout << (failure.empty() ? "ok" : "error: " + failure) << std::endl;
      continue;
    }
    const std::string traffic = "traffic ";
    if (line.compare(0, traffic.size(), traffic) == 0) {
      auto ledger = trellis::lookup(sys, *root, "root/ledger");
      if (!ledger) {
        std::cout << "error: " << sys.render(ledger.error()) << std::endl;
        continue;
      }
      auto n = std::stoi(line.substr(traffic.size()));
      for (int i = 1; i <= n; ++i)
        caf::anon_send(sender, *ledger, "entry " + std::to_string(i));
      caf::anon_send(sender, *ledger, markup);
      std::cout << "ok" << std::endl;
      continue;
    }
    const std::string crash = "crash ";
    if (line.compare(0, crash.size(), crash) != 0) {
      std::cout << "error: unknown command" << std::endl;
      continue;
    }
    trellis::fault f{trellis::fault_kind::exception, line.substr(crash.size())};
    if (auto err = trellis::inject(sys, *root, f))
      std::cout << "error " << sys.render(err) << std::endl;
    else
      std::cout << "ok" << std::endl;
  }
  obs->stop();
  caf::anon_send_exit(sender, caf::exit_reason::user_shutdown);
  trellis::stop_supervisor(sys, *root);
  return 0;
}
