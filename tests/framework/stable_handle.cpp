#include "clock_fixture.hpp"
#include "forwarding_probe.hpp"
#include "handle_support.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <numeric>
#include <thread>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// Appends every int it gets to `log`, shared by all incarnations, and
/// answers it doubled.
caf::behavior recorder(caf::event_based_actor*,
                       std::shared_ptr<std::vector<int>> log,
                       std::shared_ptr<std::mutex> mtx) {
  return {
    [log, mtx](int x) {
      std::lock_guard<std::mutex> guard{*mtx};
      log->push_back(x);
      return x * 2;
    },
    [](crash_atom) -> int { throw std::runtime_error("boom"); },
  };
}

/// Crashes the child behind `h`, waits until the handle knows it is down,
/// and sends `n` requests (0, 1, ...) that reach it while it is down.
auto crash_then_request(fixture& f, const caf::actor& h, int n) {
  f.probe->send(h, crash_atom::value);
  await_up(f, h, false);
  using handle = decltype(f.probe->request(h, patience, 1));
  std::vector<handle> calls;
  for (int i = 0; i < n; ++i)
    calls.push_back(f.probe->request(h, patience, i));
  return calls;
}

int ask(fixture& f, const caf::actor& h, int x, caf::error* err = nullptr) {
  int result = -1;
  f.probe->request(h, patience, x).receive([&](int y) { result = y; },
                                           [&](caf::error& e) {
                                             if (err)
                                               *err = e;
                                           });
  return result;
}

/// A tree whose child `db` records what it gets; a backoff of `down` keeps
/// it down for that long after each crash.
struct recorder_tree {
  std::shared_ptr<std::vector<int>> log = std::make_shared<std::vector<int>>();
  std::shared_ptr<std::mutex> mtx = std::make_shared<std::mutex>();
  caf::actor sup;

  recorder_tree(fixture& f, caf::timespan down) {
    sup = f.start(supervisor("root").intensity(5).child(
      worker("db", recorder, log, mtx)
        .backoff(restart_backoff{down, down, 0.0})));
  }
};

} // namespace

TEST_CASE("a stable handle keeps working across restarts and buffers in order",
          "[stable_handle]") {
  fixture f;
  recorder_tree t{f, 2s};
  auto& sup = t.sup;
  auto h = stable_handle(f.sys, sup, "root/db");
  REQUIRE(h);
  await_up(f, *h, true); // its first lookup answered
  CHECK(ask(f, *h, 1) == 2);
  auto first = f.actor_of(sup, "db");
  f.probe->send(*h, crash_atom::value);
  await_up(f, *h, false);
  // Sent while the child is down: buffered, then delivered in order.
  for (int i = 10; i < 110; ++i)
    f.probe->send(*h, i);
  CHECK(ask(f, *h, 7) == 14); // answered by the next incarnation
  CHECK(f.actor_of(sup, "db") != first);
  std::vector<int> expected{1};
  for (int i = 10; i < 110; ++i)
    expected.push_back(i);
  expected.push_back(7);
  std::lock_guard<std::mutex> guard{*t.mtx};
  CHECK(*t.log == expected);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a stable handle that its users dropped ends, and stops following "
          "the tree",
          "[stable_handle]") {
  // The tree's event group held each proxy: a handle made per request and
  // dropped lived, and got every event, as long as the tree.
  fixture f;
  recorder_tree t{f, 10ms};
  auto baseline = f.sys.registry().running();
  for (int i = 0; i < 200; ++i) {
    auto h = stable_handle(f.sys, t.sup, "root/db");
    REQUIRE(h);
    CHECK(ask(f, *h, i) == 2 * i);
    if (i == 0) {
      // The first one through a restart too.
      f.probe->send(*h, crash_atom::value);
      await_up(f, *h, false);
      CHECK(ask(f, *h, 7) == 14);
    }
  }
  eventually("the 200 dropped handles to end", [&] {
    return f.sys.registry().running() <= baseline;
  });
  // The tree still serves a new handle, and restarts as before.
  auto h = stable_handle(f.sys, t.sup, "root/db");
  REQUIRE(h);
  CHECK(ask(f, *h, 21) == 42);
  stop_supervisor(f.sys, t.sup);
}

TEST_CASE("a sender's messages keep their order while other messages to "
          "the stable handle switch how it forwards",
          "[stable_handle]") {
  // The handle forwards a running child's messages on the sender's thread,
  // and through its own mailbox whenever it must see a message itself: a
  // query from another thread, here, many times over. High-priority
  // messages are served in rounds with the others, and may still wait in
  // the mailbox when the handle would switch.
  fixture f;
  recorder_tree t{f, 10ms};
  auto h = stable_handle(f.sys, t.sup, "root/db");
  REQUIRE(h);
  await_up(f, *h, true);
  constexpr int n = 100'000;
  std::atomic<bool> done{false};
  std::atomic<int> queries{0};
  // How often forwarding was found on, between two queries: the test
  // means nothing if the handle never forwarded on the sender's thread.
  std::atomic<int> found_on{0};
  std::thread other{[&] {
    caf::scoped_actor self{f.sys};
    while (!done) {
      self
        ->request(*h, patience, caf::get_atom::value, stable_handle_atom::value)
        .receive([&](bool, uint64_t) { ++queries; }, [](caf::error&) {});
      // Room to switch forwarding on again between two queries.
      std::this_thread::sleep_for(50us);
      if (detail::forwards_directly(*h))
        ++found_on;
    }
  }};
  auto send_all = [&](auto priority) {
    constexpr auto p = decltype(priority)::value;
    for (int i = 0; i < n; ++i)
      f.probe->send<p>(*h, i);
  };
  SECTION("normal priority") {
    send_all(std::integral_constant<caf::message_priority,
                                    caf::message_priority::normal>{});
  }
  SECTION("high priority") {
    send_all(std::integral_constant<caf::message_priority,
                                    caf::message_priority::high>{});
  }
  INFO("waiting for the child to get all " << n << " messages");
  auto got_all = [&] {
    std::lock_guard<std::mutex> guard{*t.mtx};
    return t.log->size() >= static_cast<size_t>(n);
  };
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (!got_all() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  done = true;
  other.join();
  CHECK(queries > 0);
  INFO("forwarding was on at " << found_on << " of " << queries
                               << " looks between queries");
  CHECK(found_on > 0);
  std::vector<int> expected(static_cast<size_t>(n));
  std::iota(expected.begin(), expected.end(), 0);
  std::lock_guard<std::mutex> guard{*t.mtx};
  auto& log = *t.log;
  auto first = std::mismatch(log.begin(), log.end(), expected.begin(),
                             expected.end());
  INFO("the child got " << log.size() << " messages, the first out of place at "
                        << (first.first - log.begin()));
  CHECK(log == expected);
  stop_supervisor(f.sys, t.sup);
}

TEST_CASE("a stable handle forwards under CAF's test scheduler, which runs "
          "an actor inside the enqueue that wakes it",
          "[stable_handle]") {
  // The handle holds a lock while it switches how it forwards: an enqueue
  // that runs its receiver at once must not happen under it, or the handle,
  // run inside its own enqueue, takes the lock again on the same thread.
  clock_fixture f;
  auto log = std::make_shared<std::vector<int>>();
  auto mtx = std::make_shared<std::mutex>();
  auto sup = spawn_supervisor(
    f.sys, supervisor("root").child(worker("db", recorder, log, mtx)));
  REQUIRE(sup);
  f.sched.run();
  // Inline from here: `stable_handle` asks the supervisor and waits.
  f.sched.inline_all_enqueues();
  auto h = stable_handle(f.sys, *sup, "root/db");
  REQUIRE(h);
  f.sched.run();
  auto run = std::async(std::launch::async, [&] {
    std::vector<bool> direct;
    // Through the handle's mailbox; then it switches forwarding on.
    f.self->send(*h, 0);
    f.sched.run();
    direct.push_back(detail::forwards_directly(*h));
    // On this thread, straight to the child.
    f.self->send(*h, 1);
    f.sched.run();
    // The handle's own: off, answered, and on again.
    f.self->send(*h, caf::get_atom::value, stable_handle_atom::value);
    f.sched.run();
    direct.push_back(detail::forwards_directly(*h));
    f.self->send(*h, 2);
    f.sched.run();
    return direct;
  });
  if (run.wait_for(patience) != std::future_status::ready) {
    // The sending thread waits for itself: nothing ends this test cleanly.
    std::fprintf(stderr, "a stable handle under CAF's inline test scheduler "
                         "did not deliver 3 messages within %lld s: it "
                         "deadlocked\n",
                 static_cast<long long>(patience.count()));
    std::_Exit(EXIT_FAILURE);
  }
  CHECK(run.get() == std::vector<bool>{true, true});
  receive_or_fail(f.self, "the handle's answer to get",
                  [](bool up, uint64_t held) {
                    CHECK(up);
                    CHECK(held == 0);
                  });
  std::lock_guard<std::mutex> guard{*mtx};
  CHECK(*log == std::vector<int>{0, 1, 2});
}

TEST_CASE("a stable handle refuses what its buffer cannot hold",
          "[stable_handle]") {
  fixture f;
  // Down long enough that all five calls reach the proxy while it is down.
  recorder_tree t{f, 2s};
  auto& sup = t.sup;
  auto h = stable_handle(f.sys, sup, "root/db", 3);
  REQUIRE(h);
  await_up(f, *h, true); // its first lookup answered
  auto calls = crash_then_request(f, *h, 5);
  int answered = 0;
  int refused = 0;
  for (auto& c : calls)
    c.receive([&](int) { ++answered; },
              [&](caf::error& err) { refused += is(err, errc::overloaded); });
  CHECK(answered == 3);
  CHECK(refused == 2);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a stable handle to a child gone for good fails clearly",
          "[stable_handle]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(
    f.probed("job").restart(restart::transient)));
  f.next_event();
  auto h = stable_handle(f.sys, sup, "root/job");
  REQUIRE(h);
  await_up(f, *h, true); // its first lookup answered
  f.exit_child(sup, "job", caf::exit_reason::normal);
  await_up(f, *h, false);
  caf::error err;
  // Until the proxy learns the child will not return, it may buffer; the
  // answer then comes once it knows.
  CHECK(ask(f, *h, 1, &err) == -1);
  CHECK(is(err, errc::not_found));
  CHECK_THAT(f.render(err), Catch::Contains("gone for good"));
  CHECK(is(stable_handle(f.sys, sup, "root/nope").error(), errc::not_found));
  // Started again, the child is served again through the same handle.
  REQUIRE(restart_child(f.sys, sup, "job"));
  await_up(f, *h, true);
  CHECK(ask(f, *h, 21) == 21);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a plain send that a stable handle cannot deliver becomes a dead "
          "letter, never an exit of its sender",
          "[stable_handle]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(
    f.probed("job").restart(restart::transient)));
  f.next_event();
  auto h = stable_handle(f.sys, sup, "root/job");
  REQUIRE(h);
  await_up(f, *h, true);
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  caf::scoped_actor listener{f.sys};
  listener->join(*events);
  f.exit_child(sup, "job", caf::exit_reason::normal);
  await_up(f, *h, false);
  // Gone for good: a request learns so, which also tells that the proxy
  // knows.
  caf::error err;
  CHECK(ask(f, *h, 1, &err) == -1);
  INFO(f.render(err));
  REQUIRE(is(err, errc::not_found));
  // A sender with CAF's default error handler, which an error message would
  // end, sends plainly: it lives on, and the message is published dropped.
  auto sender = f.sys.spawn([](caf::event_based_actor* self, caf::actor to)
                              -> caf::behavior {
    self->send(to, 42);
    return {[](int x) { return x; }};
  }, *h);
  auto ev = await_event(listener, lifecycle_kind::message_dropped, "root/job");
  CHECK(is(ev.reason, errc::not_found));
  CHECK_THAT(ev.detail, Catch::Contains("42"));
  // Still alive: it answers.
  int answer = 0;
  f.probe->request(sender, patience, 7)
    .receive([&](int x) { answer = x; },
             [&](caf::error& e) { FAIL("the sender died: " << f.render(e)); });
  CHECK(answer == 7);
  caf::anon_send_exit(sender, caf::exit_reason::user_shutdown);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a stable handle answers what it buffered when its root stops",
          "[stable_handle]") {
  fixture f;
  // Down for longer than the test: calls wait in the buffer.
  recorder_tree t{f, std::chrono::hours(1)};
  auto h = stable_handle(f.sys, t.sup, "root/db");
  REQUIRE(h);
  await_up(f, *h, true);
  auto calls = crash_then_request(f, *h, 3);
  // All three are in the buffer before the root goes.
  uint64_t buffered = 0;
  for (int i = 0; i < 20'000 && buffered < 3; ++i) {
    f.probe->request(*h, patience, caf::get_atom::value, stable_handle_atom::value)
      .receive([&](bool, uint64_t n) { buffered = n; }, [](caf::error&) {});
    if (buffered < 3)
      std::this_thread::sleep_for(1ms);
  }
  REQUIRE(buffered == 3);
  f.probe->monitor(*h);
  CHECK(stop_and_await(f.sys, t.sup) == caf::exit_reason::user_shutdown);
  // Buffered calls get the answer a call after the handle quit gets: the
  // tree ended, and why.
  int tree_ended = 0;
  for (auto& c : calls)
    c.receive([](int) { FAIL("answered by a stopped child"); },
              [&](caf::error& err) {
                auto text = f.render(err);
                INFO(text);
                tree_ended += err == caf::sec::request_receiver_down
                              && text.find("stable_handle root/db")
                                   != std::string::npos
                              && text.find("user_shutdown")
                                   != std::string::npos;
              });
  CHECK(tree_ended == 3);
  // And the handle exits with its root.
  bool down = false;
  f.probe->receive([&](caf::down_msg&) { down = true; },
                   caf::after(patience) >> [] {});
  CHECK(down);
}

TEST_CASE("a stable handle drops a plain message past its buffer as a dead "
          "letter, overloaded, and sends its sender no error",
          "[stable_handle]") {
  fixture f;
  recorder_tree t{f, std::chrono::hours(1)};
  auto h = stable_handle(f.sys, t.sup, "root/db", 2);
  REQUIRE(h);
  await_up(f, *h, true);
  auto events = lifecycle_events(f.sys, t.sup);
  REQUIRE(events);
  caf::scoped_actor listener{f.sys};
  listener->join(*events);
  f.probe->send(*h, crash_atom::value);
  await_up(f, *h, false);
  // Sent, not requested: the third has no room.
  for (int i = 0; i < 3; ++i)
    f.probe->send(*h, i);
  auto ev = await_event(listener, lifecycle_kind::message_dropped, "root/db");
  INFO(f.render(ev.reason));
  CHECK(is(ev.reason, errc::overloaded));
  CHECK_THAT(ev.detail, Catch::Contains("2"));
  // No error message reaches the sender (CAF's default handler would end an
  // event-based sender with it).
  bool got_error = false;
  f.probe->receive([&](caf::error&) { got_error = true; },
                   caf::after(std::chrono::milliseconds(200)) >> [] {});
  CHECK_FALSE(got_error);
  stop_supervisor(f.sys, t.sup);
}

namespace {

/// Takes its time with every int, as a child with a backlog does, appends
/// it to `log`, shared by all incarnations, and answers it.
caf::behavior slow_recorder(caf::event_based_actor*,
                            std::shared_ptr<std::vector<int>> log,
                            std::shared_ptr<std::mutex> mtx) {
  return {
    [log, mtx](int x) {
      std::this_thread::sleep_for(2ms);
      std::lock_guard<std::mutex> guard{*mtx};
      log->push_back(x);
      return x;
    },
  };
}

} // namespace

// The orphan of a supervisor that died still works through its mailbox
// until it reads its kill; the replacement under the restarted supervisor
// must not get a message before the orphan ended, or later messages would
// overtake earlier ones. (What the orphan did not get to is lost with it.)
TEST_CASE("a stable handle keeps order when the child's supervisor dies "
          "with a backlog",
          "[stable_handle]") {
  fixture f;
  auto log = std::make_shared<std::vector<int>>();
  auto mtx = std::make_shared<std::mutex>();
  auto root = f.start(supervisor("root").child(
    supervisor("mid").child(worker("w", slow_recorder, log, mtx))));
  auto events = lifecycle_events(f.sys, root);
  REQUIRE(events);
  f.probe->join(*events);
  auto h = stable_handle(f.sys, root, "root/mid/w", 10'000);
  REQUIRE(h);
  auto mid = f.actor_of(root, "mid");
  REQUIRE(mid);
  for (int i = 0; i < 200; ++i)
    f.probe->send(*h, i);
  // The backlog is in the old incarnation's mailbox once it handled one.
  for (int i = 0; i < 5'000; ++i) {
    {
      std::lock_guard<std::mutex> guard{*mtx};
      if (!log->empty())
        break;
    }
    std::this_thread::sleep_for(1ms);
  }
  f.probe->send_exit(mid, caf::exit_reason::kill);
  // The root restarts `mid`, and with it a new `w`, while the orphan works.
  await_event(f.probe, lifecycle_kind::child_started, "root/mid/w");
  for (int i = 200; i < 399; ++i)
    f.probe->send(*h, i);
  // The last one as a request, until an incarnation answers it.
  bool answered = false;
  for (int i = 0; i < 100 && !answered; ++i)
    f.probe->request(*h, patience, 399)
      .receive([&](int) { answered = true; }, [](caf::error&) {});
  f.probe->leave(*events);
  REQUIRE(answered);
  std::lock_guard<std::mutex> guard{*mtx};
  INFO("handled " << log->size() << " of 400");
  CHECK(std::is_sorted(log->begin(), log->end()));
  CHECK(std::adjacent_find(log->begin(), log->end()) == log->end());
  CHECK(log->back() == 399);
}

namespace {

using block_atom = caf::atom_constant<caf::atom("block")>;

/// Opened by the test; waited for at most a minute.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;

  void wait() {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait_for(guard, std::chrono::minutes(1), [this] { return open; });
  }

  void release() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      open = true;
    }
    cv.notify_all();
  }
};

/// Answers an int with its incarnation's number; `block` holds it in its
/// handler until the gate opens.
caf::behavior gated(caf::event_based_actor*, std::shared_ptr<gate> g,
                    std::shared_ptr<std::atomic<int>> incarnations) {
  auto me = ++*incarnations;
  return {
    [g](block_atom) { g->wait(); },
    [me](int) { return me; },
  };
}

} // namespace

// An orphan stuck in a handler reads its kill only once the handler
// returns: the handle waits for it a bounded time, then serves the
// replacement.
TEST_CASE("a stable handle waits for a stuck older incarnation a bounded "
          "time only",
          "[stable_handle]") {
  fixture f;
  auto g = std::make_shared<gate>();
  auto incarnations = std::make_shared<std::atomic<int>>(0);
  auto root = f.start(supervisor("root").child(supervisor("mid").child(
    worker("w", gated, g, incarnations).detached(true))));
  auto events = lifecycle_events(f.sys, root);
  REQUIRE(events);
  f.probe->join(*events);
  auto h = stable_handle(f.sys, root, "root/mid/w", 100);
  REQUIRE(h);
  CHECK(ask(f, *h, 1) == 1);
  f.probe->send(*h, block_atom::value);
  f.probe->send_exit(f.actor_of(root, "mid"), caf::exit_reason::kill);
  await_event(f.probe, lifecycle_kind::child_started, "root/mid/w");
  f.probe->leave(*events);
  // The handle found the replacement and holds messages for the orphan.
  await_up(f, *h, false);
  // Answered by the replacement while the orphan is still stuck: the wait
  // for it ended without its down message.
  int answer = -1;
  f.probe->request(*h, patience, 2)
    .receive([&](int x) { answer = x; }, [](caf::error&) {});
  g->release();
  CHECK(answer == 2);
}
