#include "chaos.hpp"

#include <chrono>
#include <random>
#include <vector>

#include <caf/all.hpp>

#include "runtime.hpp"
#include "trellis/atoms.hpp"
#include "trellis/child_info.hpp"

namespace kvstore {

namespace {

using tick_atom = caf::atom_constant<caf::atom("kv_tick")>;

constexpr auto patience = std::chrono::seconds(5);

struct chaos_state {
  std::mt19937_64 rng;
  static inline const char* name = "kvstore.chaos";
};

using chaos_actor = caf::stateful_actor<chaos_state>;

// Crashes one running child of the supervisor at `path`, if any.
void strike(chaos_actor* self, const caf::actor& root, std::string path,
            std::atomic<uint64_t>* counter) {
  self->request(root, patience, trellis::lookup_atom::value, std::move(path))
    .then(
      [self, counter](const caf::actor& sup) {
        self->request(sup, patience, trellis::which_children_atom::value)
          .then(
            [self, counter](const std::vector<trellis::child_info>& children) {
              std::vector<caf::actor> running;
              for (auto& c : children)
                if (c.state == trellis::child_state::running && c.actor)
                  running.push_back(c.actor);
              if (running.empty())
                return;
              std::uniform_int_distribution<size_t> pick{0,
                                                         running.size() - 1};
              self->send(running[pick(self->state.rng)], chaos_atom::value);
              ++*counter;
            },
            [](const caf::error&) {});
      },
      [](const caf::error&) {});
}

caf::behavior chaos(chaos_actor* self, caf::actor root, chaos_options opts,
                    uint64_t seed, std::shared_ptr<runtime> rt) {
  self->state.rng.seed(seed);
  auto interval = std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>(1.0 / opts.rate));
  self->send(self, tick_atom::value);
  return {
    [self, root, opts, rt, interval](tick_atom) {
      self->delayed_send(self, interval, tick_atom::value);
      auto shards = opts.shards;
      if (opts.shards && opts.connections)
        shards = std::bernoulli_distribution{0.5}(self->state.rng);
      if (shards)
        strike(self, root, "root/keyspace", &rt->stats.chaos_shards);
      else
        strike(self, root, "root/connections", &rt->stats.chaos_connections);
    },
  };
}

} // namespace

trellis::child_spec chaos_worker(std::string id, chaos_options opts,
                                 std::shared_ptr<runtime> rt) {
  return trellis::worker(
    std::move(id), [opts, rt](trellis::child_context& ctx) {
      // A restarted monkey does not repeat its predecessor's choices.
      return ctx.spawn(chaos, ctx.supervisor(), opts,
                       opts.seed + ctx.restart_count(), rt);
    });
}

} // namespace kvstore
