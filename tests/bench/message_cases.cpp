// Messaging: request/response throughput to a supervised child, through its
// plain handle (against a bare actor) and through its stable handle
// (against the plain handle of the same child).

#include <stdexcept>
#include <string>

#include "bench_actors.hpp"
#include "cases.hpp"
#include "trellis/all.hpp"

using namespace std::chrono_literals;

namespace trellis::bench {

namespace {

/// Requests in flight at once: enough to keep both scheduler threads busy.
constexpr size_t window = 64;

/// Starts `spec` or throws.
caf::actor start_tree(caf::actor_system& sys, const supervisor_spec& spec) {
  auto res = start_supervisor(sys, spec);
  if (!res)
    throw std::runtime_error("tree did not start: " + sys.render(res.error()));
  return *res;
}

/// Returns the plain handle of the child at `path` or throws.
caf::actor child_at(caf::actor_system& sys, const caf::actor& sup,
                    const std::string& path) {
  auto hdl = lookup(sys, sup, path);
  if (!hdl)
    throw std::runtime_error("no child: " + sys.render(hdl.error()));
  return *hdl;
}

/// A tree with one idle supervised child, and its plain handle.
struct one_child_tree {
  caf::actor sup;
  caf::actor child;

  explicit one_child_tree(caf::actor_system& sys)
    : sup(start_tree(sys, supervisor("bench").child(worker("child",
                                                            idle_child)))),
      child(child_at(sys, sup, "bench/child")) {
    // nop
  }
};

/// Blocks per side and repetition (see `interleave`).
constexpr size_t blocks = 20;

/// Measures requests/s to `trellis` and to `baseline` in one system, after
/// a warmup of each, in alternating blocks of `count` int32 round trips.
std::pair<sample, sample> both(caf::actor_system& sys, int rep,
                               const caf::actor& trellis,
                               const caf::actor& baseline, size_t count) {
  auto request = caf::make_message(int32_t{42});
  auto seconds = [&](const caf::actor& target, size_t n) {
    return run_pump<int32_t>(sys, target, request, n, window);
  };
  seconds(trellis, count / 10 + 1);
  seconds(baseline, count / 10 + 1);
  double t = 0;
  double b = 0;
  interleave(
    rep, blocks, [&] { t += seconds(trellis, count); },
    [&] { b += seconds(baseline, count); });
  auto total = static_cast<double>(count * blocks);
  auto rate = [total](double secs) { return secs > 0 ? total / secs : 0; };
  return {sample{rate(t), {}}, sample{rate(b), {}}};
}

/// Runs `measure(sys, tree, rep)` `reps` times, each time in a fresh
/// system with a fresh one-child tree, which it stops afterwards.
template <class Measure>
measured with_one_child_tree(const options& opts, Measure measure) {
  return paired(opts.reps, [&](int rep) {
    bench_config cfg;
    caf::actor_system sys{cfg};
    one_child_tree tree{sys};
    auto res = measure(sys, tree, rep);
    stop_supervisor(sys, tree.sup);
    return res;
  });
}

result message_plain(const options& opts) {
  auto count = opts.scaled(20'000);
  auto m = with_one_child_tree(opts, [&](caf::actor_system& sys,
                                         one_child_tree& tree, int rep) {
    auto bare = sys.spawn(idle_child);
    auto res = both(sys, rep, tree.child, bare, count);
    caf::anon_send_exit(bare, caf::exit_reason::user_shutdown);
    return res;
  });
  return compare("message_plain", "requests/s", 0.97, better::higher, m);
}

result message_stable(const options& opts) {
  auto count = opts.scaled(20'000);
  auto m = with_one_child_tree(opts, [&](caf::actor_system& sys,
                                         one_child_tree& tree, int rep) {
    auto stable = stable_handle(sys, tree.sup, "bench/child");
    if (!stable)
      throw std::runtime_error("no stable handle: "
                               + sys.render(stable.error()));
    auto res = both(sys, rep, *stable, tree.child, count);
    caf::anon_send_exit(*stable, caf::exit_reason::user_shutdown);
    return res;
  });
  return compare("message_stable", "requests/s", 0.90, better::higher, m);
}

/// Requests to a child whose spec has an option that `with` adds, against
/// a sibling without it, in the same tree.
template <class With>
result against_plain_sibling(const options& opts, const char* name,
                             double target, With with) {
  auto count = opts.scaled(20'000);
  auto m = paired(opts.reps, [&](int rep) {
    bench_config cfg;
    caf::actor_system sys{cfg};
    auto sup = start_tree(
      sys, supervisor("bench")
             .child(worker("plain", idle_child))
             .child(with(worker("opted", idle_child))));
    auto res = both(sys, rep, child_at(sys, sup, "bench/opted"),
                    child_at(sys, sup, "bench/plain"), count);
    stop_supervisor(sys, sup);
    return res;
  });
  return compare(name, "requests/s", target, better::higher, m);
}

result message_last_messages(const options& opts) {
  return against_plain_sibling(opts, "message_last_messages", 0.8,
                               [](child_spec x) {
                                 return x.keep_last_messages(16);
                               });
}

result message_statistics(const options& opts) {
  return against_plain_sibling(opts, "message_statistics", 0.8,
                               [](child_spec x) {
                                 return x.statistics(true);
                               });
}

result message_trace(const options& opts) {
  return against_plain_sibling(opts, "message_trace", 0.7, [](child_spec x) {
    return x.trace(16);
  });
}

} // namespace

void add_message_cases(std::vector<bench_case>& xs) {
  xs.push_back({"message_plain",
                "requests to a supervised child's plain handle, against a "
                "bare actor",
                120s, message_plain});
  xs.push_back({"message_stable",
                "requests through the stable handle, against the plain "
                "handle of the same child",
                120s, message_stable});
  xs.push_back({"message_last_messages",
                "requests to a child that keeps its last 16 messages for its "
                "crash reports, against a sibling that keeps none",
                120s, message_last_messages});
  xs.push_back({"message_statistics",
                "requests to a child with its statistics on, against a "
                "sibling without",
                120s, message_statistics});
  xs.push_back({"message_trace",
                "requests to a child that traces its last 16 messages, "
                "against a sibling that traces none",
                120s, message_trace});
}

} // namespace trellis::bench
