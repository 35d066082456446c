#include "parser_pool.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "ingest.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace tutorial {

namespace {

std::string trim(const std::string& x) {
  auto first = x.find_first_not_of(" \t");
  if (first == std::string::npos)
    return {};
  return x.substr(first, x.find_last_not_of(" \t") - first + 1);
}

// [parser]
// Parses "key <sep> value" into "key=value", the key lower-cased. A line
// that is not a record throws: let it crash. The caller gets the crash
// reason as its error, and the parser's supervisor starts a fresh one.
caf::behavior parser(caf::event_based_actor*, std::string sep) {
  return {
    [sep](const std::string& line) -> std::string {
      auto at = line.find(sep);
      if (at == std::string::npos)
        throw std::invalid_argument("not a record: '" + line + "'");
      auto key = trim(line.substr(0, at));
      auto value = trim(line.substr(at + sep.size()));
      if (key.empty() || value.empty())
        throw std::invalid_argument("empty key or value: '" + line + "'");
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      return key + "=" + value;
    },
  };
}
// [parser]

// [dispatch]
struct dispatch_state {
  caf::actor parsers; // root/pool/parsers, the dynamic supervisor
  size_t next = 0;    // round robin
  size_t missing = 0; // parsers whose start is under way
};

caf::behavior dispatch(caf::stateful_actor<dispatch_state>* self,
                       caf::actor pool, std::string parsers_path,
                       size_t size) {
  caf::behavior serving{
    [=](std::string& line) -> caf::result<std::string> {
      auto rp = self->make_response_promise<std::string>();
      // Which parsers run right now: a parser that crashed is a new actor.
      self->request(self->state.parsers, 1s, trellis::which_children_atom::value)
        .then(
          [=](std::vector<trellis::child_info>& children) mutable {
            auto down = [](const trellis::child_info& c) {
              return c.state != trellis::child_state::running;
            };
            children.erase(
              std::remove_if(children.begin(), children.end(), down),
              children.end());
            if (children.empty()) {
              rp.deliver(trellis::make_error(trellis::errc::not_found,
                                             parsers_path, "no parser runs"));
              return;
            }
            auto& pick = children[self->state.next++ % children.size()];
            rp.delegate(pick.actor, std::move(line));
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
  // The refill: a dynamic supervisor starts empty, at its first start and
  // after every restart. The dispatcher starts after it under rest_for_one,
  // so it is restarted whenever the parsers' supervisor is, and its first
  // act is to fill the pool up to `size` again.
  self->request(pool, 5s, trellis::lookup_atom::value, parsers_path)
    .then([=](caf::actor& parsers) {
      self->state.parsers = parsers;
      // Those it has, running or restarting, and one start per missing one.
      self->request(parsers, 5s, trellis::which_children_atom::value)
        .then([=](const std::vector<trellis::child_info>& children) {
          auto& missing = self->state.missing;
          missing = size - std::min(size, children.size());
          if (missing == 0)
            self->become(serving);
          for (auto n = missing; n > 0; --n)
            self->request(parsers, 5s, trellis::start_child_atom::value,
                          caf::make_message(std::string{"="}))
              .then(
                [=](const caf::actor&) {
                  if (--self->state.missing == 0)
                    self->become(serving);
                },
                [=](caf::error& err) {
                  // Without its parsers the pool is useless: fail, and let
                  // pool restart the dispatcher (within its budget).
                  self->quit(err);
                });
        });
    });
  // Until the pool is full, lines wait in the mailbox (skipped, kept in
  // order), rather than fail for want of a parser that is starting.
  return {
    [](std::string&) -> caf::result<std::string> { return caf::skip; },
  };
}
// [dispatch]

} // namespace

// [pool]
trellis::supervisor_spec parser_pool(size_t size) {
  return trellis::supervisor("pool")
    .strategy(trellis::strategy::rest_for_one)
    .intensity(3)
    .period(10s)
    .child(trellis::dynamic_supervisor(
             "parsers",
             // A dynamic child's factory gets start_child's arguments.
             trellis::worker("parser",
                             [](trellis::child_context& ctx,
                                const std::string& sep) {
                               return ctx.spawn(parser, sep);
                             }))
             .intensity(2)
             .period(10s))
    .child(trellis::worker("dispatch", [size](trellis::child_context& ctx) {
      // ctx.supervisor() is root/pool; ctx.path() is root/pool/dispatch,
      // so the parsers' supervisor is its sibling root/pool/parsers.
      return ctx.spawn(dispatch, ctx.supervisor(),
                       parent_of(ctx.path()) + "/parsers", size);
    }));
}
// [pool]

} // namespace tutorial
