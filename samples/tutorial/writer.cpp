#include "writer.hpp"

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace tutorial {

void disk::sync() const {
  while (stalled.load())
    std::this_thread::sleep_for(1ms);
}

namespace {

// [writer]
using table = std::map<std::string, std::string>;

caf::behavior write_rows(caf::stateful_actor<table>* self,
                         trellis::checkpoint cp, table rows,
                         std::shared_ptr<disk> d) {
  self->state = std::move(rows);
  return {
    [=](const std::string& line) -> caf::result<std::string> {
      auto at = line.find('=');
      self->state[line.substr(0, at)] = line.substr(at + 1);
      d->sync();
      // Acknowledged only once saved: a crash after this loses nothing
      // that a caller was told is stored.
      if (auto err = cp.save(self->state))
        return err;
      auto n = self->state.size();
      return "stored " + line + " (" + std::to_string(n)
             + (n == 1 ? " key)" : " keys)");
    },
    [=](caf::get_atom, const std::string& key) -> std::string {
      auto i = self->state.find(key);
      return i != self->state.end() ? i->second : std::string{};
    },
  };
}
// [writer]

} // namespace

// [spec]
trellis::child_spec writer(std::shared_ptr<disk> d) {
  return trellis::worker("writer", [d](trellis::child_context& ctx) {
    // What the previous incarnation saved last, or nothing at the first
    // start. The checkpoint lives in the supervisor's memory by default:
    // it survives the writer's restarts, not the process.
    auto cp = ctx.checkpoint();
    return ctx.spawn(write_rows, cp, cp.restore_or(table{}), d);
  });
}
// [spec]

} // namespace tutorial
