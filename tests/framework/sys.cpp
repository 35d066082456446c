#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>

#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using block_atom = caf::atom_constant<caf::atom("block")>;

/// Holds a handler until the test opens it; never longer than `patience`,
/// so that a failing test ends.
struct gate {
  std::promise<void> open_;
  std::shared_future<void> opened{open_.get_future().share()};
  std::atomic<int> waiting{0};

  void wait() {
    ++waiting;
    opened.wait_for(patience);
  }

  void open() {
    open_.set_value();
  }
};

struct tally {
  std::vector<int32_t> seen;
};

caf::behavior tallying(caf::stateful_actor<tally>* self,
                       std::shared_ptr<gate> g) {
  return {
    [self](int32_t x) {
      self->state.seen.push_back(x);
      return x;
    },
    [g](block_atom) { g->wait(); },
    [](readiness_atom) { return caf::ok_atom::value; },
  };
}

std::string seen_of(caf::stateful_actor<tally>* self) {
  std::string result;
  for (auto x : self->state.seen)
    result += (result.empty() ? "" : ",") + std::to_string(x);
  return result;
}

child_spec tally_spec(std::shared_ptr<gate> g = std::make_shared<gate>()) {
  return worker("tally", tallying, std::move(g)).format_state(seen_of);
}

child_statistics stats(fixture& f, const caf::actor& sup) {
  auto x = get_statistics(f.sys, sup, "tally");
  REQUIRE(x);
  return *x;
}

} // namespace

TEST_CASE("statistics count the handled messages and time their handlers",
          "[sys]") {
  fixture f;
  auto sup = f.start(
    supervisor("root").child(tally_spec().statistics(true)));
  auto tally = f.actor_of(sup, "tally");
  for (int32_t i = 0; i < 100; ++i)
    f.probe->request(tally, patience, i).receive([](int32_t) {},
                                                 [](caf::error& err) {
                                                   FAIL(to_string(err));
                                                 });
  // The last answer leaves before its handler's figures are in.
  child_statistics x;
  eventually("the 100th handler's figures", [&] {
    x = stats(f, sup);
    return x.messages_handled == 100 && !x.handling;
  });
  CHECK(x.path == "root/tally");
  CHECK(x.enabled);
  CHECK(x.collecting);
  CHECK(x.messages_handled == 100);
  CHECK(x.handler_p50 <= x.handler_p90);
  CHECK(x.handler_p90 <= x.handler_p99);
  CHECK(x.handler_p99 <= x.handler_max);
  CHECK(x.handler_max > caf::timespan{0});
  CHECK_FALSE(x.handling);
  CHECK(x.mailbox_depth == 0);
  CHECK_FALSE(x.suspended);
  CHECK_THAT(to_string(x), Catch::StartsWith("root/tally: 100 handled, p50 "));
  SECTION("switched off, the figures are gone; on again, they start afresh") {
    REQUIRE_FALSE(set_statistics(f.sys, sup, "tally", false));
    auto off = stats(f, sup);
    CHECK_FALSE(off.enabled);
    CHECK(off.messages_handled == 0);
    REQUIRE_FALSE(set_statistics(f.sys, sup, "tally", true));
    eventually("the child to begin collecting again",
          [&] { return stats(f, sup).collecting; });
    CHECK(stats(f, sup).messages_handled == 0);
  }
}

TEST_CASE("a handler's time leaves out the wait for its message", "[sys]") {
  // Within one run of the child a handler is timed from the previous one's
  // end; a child that waited for its next message starts a fresh time.
  fixture f;
  auto sup = f.start(
    supervisor("root").child(tally_spec().statistics(true)));
  auto tally = f.actor_of(sup, "tally");
  constexpr auto idle = 200ms;
  for (int32_t i = 0; i < 3; ++i) {
    f.probe->request(tally, patience, i).receive([](int32_t) {},
                                                 [](caf::error& err) {
                                                   FAIL(to_string(err));
                                                 });
    std::this_thread::sleep_for(idle);
  }
  child_statistics x;
  eventually("the third handler's figures", [&] {
    x = stats(f, sup);
    return x.messages_handled == 3 && !x.handling;
  });
  CHECK(x.handler_max < idle);
}

TEST_CASE("a stuck handler shows how long it has run and what waits behind "
          "it",
          "[sys]") {
  fixture f;
  auto g = std::make_shared<gate>();
  auto sup = f.start(supervisor("root").child(tally_spec(g)));
  auto tally = f.actor_of(sup, "tally");
  SECTION("statistics switched on before the handler began") {
    REQUIRE_FALSE(set_statistics(f.sys, sup, "tally", true));
    eventually("the idle child to begin collecting",
          [&] { return stats(f, sup).collecting; });
    caf::anon_send(tally, block_atom::value);
    for (int32_t i = 0; i < 5; ++i)
      caf::anon_send(tally, i);
    eventually("the handler to run with 5 messages behind it", [&] {
      auto x = stats(f, sup);
      return x.handling && x.mailbox_depth == 5;
    });
    auto first = stats(f, sup).current_handler;
    std::this_thread::sleep_for(20ms);
    CHECK(stats(f, sup).current_handler > first);
    CHECK_THAT(to_string(stats(f, sup)), Catch::Contains("handling for"));
    g->open();
    eventually("the child to catch up", [&] {
      auto x = stats(f, sup);
      return !x.handling && x.mailbox_depth == 0 && x.messages_handled == 6;
    });
  }
  SECTION("statistics switched on while it is stuck: not collecting") {
    caf::anon_send(tally, block_atom::value);
    eventually("the handler to block", [&] { return g->waiting == 1; });
    REQUIRE_FALSE(set_statistics(f.sys, sup, "tally", true));
    auto x = stats(f, sup);
    CHECK(x.enabled);
    CHECK_FALSE(x.collecting);
    CHECK_FALSE(x.handling);
    g->open();
    eventually("the woken child to begin collecting",
          [&] { return stats(f, sup).collecting; });
  }
}

namespace {

/// Holds each handler that waits on it until the test lets one pass; never
/// longer than `patience`.
struct turnstile {
  std::mutex mtx;
  std::condition_variable cv;
  int passes = 0;
  std::atomic<int> waiting{0};

  void wait() {
    std::unique_lock<std::mutex> guard{mtx};
    ++waiting;
    cv.wait_for(guard, patience, [this] { return passes > 0; });
    passes = std::max(0, passes - 1);
    --waiting;
  }

  void pass() {
    std::lock_guard<std::mutex> guard{mtx};
    ++passes;
    cv.notify_all();
  }
};

caf::behavior counting(caf::event_based_actor*, std::shared_ptr<turnstile> t) {
  return {
    [](int32_t x) { return x; },
    [t](block_atom) { t->wait(); },
  };
}

} // namespace

TEST_CASE("the mailbox depth counts each message once when senders push as "
          "a handler begins",
          "[sys]") {
  fixture f;
  auto t = std::make_shared<turnstile>();
  auto sup = f.start(supervisor("root").child(
    worker("tally", counting, t).statistics(true)));
  auto tally = f.actor_of(sup, "tally");
  constexpr int32_t per_sender = 200;
  constexpr uint64_t per_round = 2 * per_sender + 1;
  for (uint64_t round = 1; round <= 40; ++round) {
    std::atomic<bool> go{false};
    auto push = [&] {
      while (!go.load())
        std::this_thread::yield();
      for (int32_t i = 0; i < per_sender; ++i)
        caf::anon_send(tally, i);
    };
    std::thread a{push};
    std::thread b{push};
    go = true;
    // The handler that blocks takes the depth while the others push.
    caf::anon_send(tally, block_atom::value);
    a.join();
    b.join();
    eventually("the handler to block", [&] { return t->waiting == 1; });
    auto x = stats(f, sup);
    CHECK(x.handling);
    // What was sent, less what was handled, less the blocked one.
    CHECK(x.mailbox_depth == round * per_round - x.messages_handled - 1);
    t->pass();
    eventually("the round's messages to be handled", [&] {
      auto y = stats(f, sup);
      return !y.handling && y.mailbox_depth == 0
             && y.messages_handled == round * per_round;
    });
  }
}

TEST_CASE("a spec's statistics count from the start", "[sys]") {
  fixture f;
  auto sup = f.start(
    supervisor("root").child(tally_spec().statistics(true)));
  auto x = stats(f, sup);
  CHECK(x.enabled);
  CHECK(x.collecting);
  CHECK(x.messages_handled == 0);
  SECTION("Trellis' own messages are neither timed nor traced") {
    REQUIRE_FALSE(set_trace(f.sys, sup, "tally", 10));
    auto snap = snapshot(f.sys, sup);
    REQUIRE(snap);
    auto depths = mailbox_depths(f.sys, *snap, patience);
    CHECK(depths.count("root/tally") == 1);
    REQUIRE(get_state(f.sys, sup, "tally"));
    CHECK(stats(f, sup).messages_handled == 0);
    CHECK(stats(f, sup).mailbox_depth == 0);
    auto xs = get_trace(f.sys, sup, "tally");
    REQUIRE(xs);
    CHECK(xs->empty());
  }
}

TEST_CASE("a suspended child holds its messages, in order, until resumed",
          "[sys]") {
  fixture f;
  auto sup = f.start(
    supervisor("root").child(tally_spec().statistics(true)));
  auto tally = f.actor_of(sup, "tally");
  REQUIRE_FALSE(suspend_child(f.sys, sup, "tally"));
  REQUIRE_FALSE(suspend_child(f.sys, sup, "tally")); // no error twice
  for (int32_t i = 1; i <= 3; ++i)
    caf::anon_send(tally, i);
  // Its state comes after the three in its mailbox: they were held.
  auto state = get_state(f.sys, sup, "tally");
  REQUIRE(state);
  CHECK(*state == "");
  CHECK(stats(f, sup).suspended);
  CHECK(stats(f, sup).mailbox_depth == 3);
  // A mailbox probe counts what it holds, so a drain waits for it.
  auto snap = snapshot(f.sys, sup);
  REQUIRE(snap);
  CHECK(mailbox_depths(f.sys, *snap, patience)["root/tally"] == 3);
  REQUIRE_FALSE(resume_child(f.sys, sup, "tally"));
  // Sent at once: they come after what was held.
  for (int32_t i = 4; i <= 6; ++i)
    caf::anon_send(tally, i);
  eventually("the held messages to be handled, then the newer ones", [&] {
    auto x = get_state(f.sys, sup, "tally");
    return x && *x == "1,2,3,4,5,6";
  });
  CHECK_FALSE(stats(f, sup).suspended);
  REQUIRE_FALSE(resume_child(f.sys, sup, "tally")); // not suspended: no error
  SECTION("a suspended child still stops when its supervisor stops it") {
    REQUIRE_FALSE(suspend_child(f.sys, sup, "tally"));
    caf::anon_send(tally, int32_t{7});
    REQUIRE_FALSE(terminate_child(f.sys, sup, "tally"));
    CHECK(f.child(sup, "tally").state == child_state::stopped);
    CHECK(is(suspend_child(f.sys, sup, "tally"), errc::not_found));
  }
}

TEST_CASE("a suspended child's held health checks do not count as missed",
          "[sys]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(
    tally_spec().health_check(health_check{10ms, 20ms, 1}.readiness())));
  REQUIRE_FALSE(suspend_child(f.sys, sup, "tally"));
  // Ten intervals, each of which would have declared it hung.
  std::this_thread::sleep_for(200ms);
  CHECK(f.child(sup, "tally").restart_count == 0);
  CHECK(stats(f, sup).suspended);
  REQUIRE_FALSE(resume_child(f.sys, sup, "tally"));
}

TEST_CASE("a traced handler's time is how long it ran", "[sys]") {
  fixture f;
  auto g = std::make_shared<gate>();
  auto sup = f.start(supervisor("root").child(tally_spec(g)));
  auto tally = f.actor_of(sup, "tally");
  REQUIRE_FALSE(set_trace(f.sys, sup, "tally", 4));
  auto statistics = GENERATE(false, true);
  CAPTURE(statistics);
  REQUIRE_FALSE(set_statistics(f.sys, sup, "tally", statistics));
  // Timed by statistics when they are on, by the trace alone when not.
  caf::anon_send(tally, block_atom::value);
  eventually("the handler to block", [&] { return g->waiting == 1; });
  std::this_thread::sleep_for(30ms);
  g->open();
  eventually("the blocked handler in the trace", [&] {
    auto xs = get_trace(f.sys, sup, "tally");
    return xs && !xs->empty();
  });
  auto xs = get_trace(f.sys, sup, "tally");
  REQUIRE(xs);
  CHECK(xs->back().took >= 30ms);
  if (statistics)
    CHECK(stats(f, sup).handler_max >= 30ms);
}

TEST_CASE("a trace keeps the last messages, with how each ended", "[sys]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(tally_spec()));
  auto tally = f.actor_of(sup, "tally");
  REQUIRE_FALSE(set_trace(f.sys, sup, "tally", 3));
  for (int32_t i = 1; i <= 5; ++i)
    f.probe->send(tally, i);
  eventually("five traced messages", [&] {
    auto x = get_state(f.sys, sup, "tally");
    return x && *x == "1,2,3,4,5";
  });
  auto xs = get_trace(f.sys, sup, "tally");
  REQUIRE(xs);
  REQUIRE(xs->size() == 3);
  for (int32_t i = 0; i < 3; ++i) {
    auto& x = (*xs)[static_cast<size_t>(i)];
    CHECK(render_bounded(x.message.content) == "(" + std::to_string(i + 3) + ")");
    CHECK(x.outcome == trace_outcome::handled);
    CHECK_FALSE(x.message.request);
    CHECK_THAT(x.message.sender, Catch::StartsWith("actor #"));
    CHECK(x.took >= caf::timespan{0});
  }
  CHECK_THAT(to_string(xs->back()), Catch::Contains(" handled "));
  SECTION("a smaller trace keeps the newest") {
    REQUIRE_FALSE(set_trace(f.sys, sup, "tally", 1));
    xs = get_trace(f.sys, sup, "tally");
    REQUIRE(xs);
    REQUIRE(xs->size() == 1);
    CHECK(render_bounded(xs->front().message.content) == "(5)");
  }
  SECTION("zero drops it") {
    REQUIRE_FALSE(set_trace(f.sys, sup, "tally", 0));
    xs = get_trace(f.sys, sup, "tally");
    REQUIRE(xs);
    CHECK(xs->empty());
  }
  SECTION("more than the maximum is refused") {
    CHECK(is(set_trace(f.sys, sup, "tally", max_traced_messages + 1),
             errc::invalid_spec));
  }
}

TEST_CASE("the switches stay with the child across its restarts", "[sys]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(5).child(tally_spec()));
  auto tally = f.actor_of(sup, "tally");
  REQUIRE_FALSE(set_statistics(f.sys, sup, "tally", true));
  REQUIRE_FALSE(set_trace(f.sys, sup, "tally", 10));
  REQUIRE_FALSE(suspend_child(f.sys, sup, "tally"));
  caf::anon_send_exit(tally, caf::exit_reason::kill);
  auto next = f.await_replaced(sup, "tally", tally);
  REQUIRE(next);
  auto spec = get_childspec(f.sys, sup, "tally");
  REQUIRE(spec);
  CHECK(spec->statistics());
  CHECK(spec->trace() == 10);
  caf::anon_send(next, int32_t{7});
  eventually("the new incarnation to handle a message (it is not suspended)", [&] {
    auto x = stats(f, sup);
    return x.enabled && x.collecting && x.messages_handled == 1;
  });
  CHECK_FALSE(stats(f, sup).suspended);
  auto xs = get_trace(f.sys, sup, "tally");
  REQUIRE(xs);
  REQUIRE(xs->size() == 1);
  CHECK(render_bounded(xs->front().message.content) == "(7)");
}

TEST_CASE("get_state renders the child's state on its own thread", "[sys]") {
  fixture f;
  auto g = std::make_shared<gate>();
  auto sup = f.start(supervisor("root").child(tally_spec(g)).child(
    worker("plain", [] { return caf::behavior{[](int32_t) {}}; })));
  auto tally = f.actor_of(sup, "tally");
  caf::anon_send(tally, int32_t{1});
  caf::anon_send(tally, int32_t{2});
  eventually("the state after two messages", [&] {
    auto x = get_state(f.sys, sup, "tally");
    return x && *x == "1,2";
  });
  SECTION("without a hook") {
    auto x = get_state(f.sys, sup, "plain");
    REQUIRE_FALSE(x);
    CHECK(is(x.error(), errc::not_supported));
    CHECK_THAT(f.sys.render(x.error()), Catch::Contains("format_state"));
  }
  SECTION("a stuck child is named hung, with how long its handler ran") {
    REQUIRE_FALSE(set_statistics(f.sys, sup, "tally", true));
    eventually("the child to begin collecting",
          [&] { return stats(f, sup).collecting; });
    caf::anon_send(tally, block_atom::value);
    eventually("the handler to block", [&] { return g->waiting == 1; });
    auto x = get_state(f.sys, sup, "tally", 400ms);
    g->open();
    REQUIRE_FALSE(x);
    CHECK(is(x.error(), errc::hung));
    CHECK_THAT(f.sys.render(x.error()),
               Catch::Contains("its handler has been running for"));
  }
}

TEST_CASE("a hook that throws fails get_state, naming what it threw", "[sys]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(
    worker("tally", tallying, std::make_shared<gate>())
      .format_state([](caf::stateful_actor<tally>*) -> std::string {
        throw std::runtime_error("state locked");
      })));
  auto x = get_state(f.sys, sup, "tally");
  REQUIRE_FALSE(x);
  CHECK(is(x.error(), errc::unhealthy));
  CHECK_THAT(f.sys.render(x.error()), Catch::Contains("state locked"));
  // The child goes on.
  CHECK(f.child(sup, "tally").state == child_state::running);
}

TEST_CASE("sys refuses what it cannot look inside", "[sys]") {
  fixture f;
  auto blocking = [](caf::blocking_actor* self) {
    bool running = true;
    self->receive_while(running)([&](int32_t) {},
                                 [&](const caf::exit_msg&) { running = false; });
  };
  auto sup = f.start(supervisor("root")
                       .child(tally_spec())
                       .child(supervisor("sub").as_child())
                       .child(worker("blocking", blocking)));
  CHECK(is(get_statistics(f.sys, sup, "nobody").error(), errc::not_found));
  CHECK(is(suspend_child(f.sys, sup, "sub"), errc::not_supported));
  auto err = set_statistics(f.sys, sup, "blocking", true);
  CHECK(is(err, errc::not_supported));
  CHECK_THAT(f.sys.render(err), Catch::Contains("blocking"));
  SECTION("specs") {
    CHECK(is(supervisor("s").as_child().statistics(true).validate(),
             errc::invalid_spec));
    CHECK(is(tally_spec().trace(max_traced_messages + 1).validate(),
             errc::invalid_spec));
    auto x = spawn_supervisor(
      f.sys, supervisor("r").intensity(0).child(
               worker("b", blocking).statistics(true)));
    REQUIRE(x);
    caf::error reason;
    f.probe->monitor(*x);
    receive_or_fail(f.probe, "the supervisor to fail its start",
                    [&](caf::down_msg& dm) { reason = dm.reason; });
    CHECK_THAT(f.sys.render(reason), Catch::Contains("statistics"));
  }
}
