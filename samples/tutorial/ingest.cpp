#include "ingest.hpp"

#include <chrono>
#include <memory>
#include <utility>

#include <caf/all.hpp>

#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace tutorial {

namespace {

// How long a stage may take with a line. Every request in the service is
// bounded: a stage that hangs costs its caller a timeout, not its thread.
constexpr auto stage_timeout = 2s;

// [call]
// Sends `line` to the current actor at `path`, found through `sup`, and
// hands its answer (or the error) to `done`. A restarted child is a new
// actor, so the path is looked up again for every line: a handle kept from
// an earlier incarnation would point at a dead actor.
template <class Done>
void call(caf::event_based_actor* self, const caf::actor& sup,
          const std::string& path, std::string line, Done done) {
  self->request(sup, stage_timeout, trellis::lookup_atom::value, path)
    .then(
      [=](caf::actor& hdl) {
        self->request(hdl, stage_timeout, line)
          .then([=](std::string& out) { done(std::move(out), caf::error{}); },
                [=](caf::error& err) { done(std::string{}, std::move(err)); });
      },
      [=](caf::error& err) { done(std::string{}, std::move(err)); });
}
// [call]

// [run]
// Runs `line` through stages[i..] and delivers the last answer to `rp`,
// between `head` and the `notes` of optional stages that failed.
void run(caf::event_based_actor* self, caf::actor sup,
         std::shared_ptr<const std::vector<stage>> stages, size_t i,
         std::string head, std::string line, std::string notes,
         caf::response_promise rp) {
  if (i == stages->size()) {
    rp.deliver(head + line + notes);
    return;
  }
  const auto& st = (*stages)[i];
  call(self, sup, st.path, line,
       [=](std::string out, caf::error err) {
         auto promise = rp; // deliver() changes it
         if (!err)
           return run(self, sup, stages, i + 1, head, std::move(out), notes,
                      promise);
         if (!st.optional)
           return promise.deliver(std::move(err));
         // An optional stage failed: the line goes on without it.
         run(self, sup, stages, i + 1, head, line,
             notes + " (without " + st.path + ": "
               + self->system().render(err) + ")",
             promise);
       });
}
// [run]

// [ingest]
struct ingest_state {
  // Lines taken by this incarnation; a restart starts again at 0.
  int lines = 0;
};

caf::behavior ingest_lines(caf::stateful_actor<ingest_state>* self,
                           caf::actor sup, std::vector<stage> stages) {
  auto shared = std::make_shared<const std::vector<stage>>(std::move(stages));
  return {
    [=](std::string line) -> caf::result<std::string> {
      // A bug, on purpose: an empty line makes line.at(0) throw
      // std::out_of_range, which ends this incarnation (and only it).
      if (line.at(0) == '#')
        return std::string{"comment skipped"};
      // The answer: the line's number, then the last stage's answer.
      auto head = "#" + std::to_string(++self->state.lines) + " ";
      auto rp = self->make_response_promise();
      run(self, sup, shared, 0, head, std::move(line), "", rp);
      return rp;
    },
  };
}
// [ingest]

} // namespace

// [parent_of]
std::string parent_of(const std::string& path) {
  return path.substr(0, path.rfind('/'));
}
// [parent_of]

// [spec]
trellis::child_spec ingest(std::vector<stage> stages) {
  // A factory: it runs inside the supervisor, at the first start and at
  // every restart, and hands the actor its supervisor (to find the other
  // stages by path) and the stages.
  return trellis::worker("ingest", [stages](trellis::child_context& ctx) {
    return ctx.spawn(ingest_lines, ctx.supervisor(), stages);
  });
}
// [spec]

} // namespace tutorial
