#include "clock_fixture.hpp"
#include "journal.hpp"
#include "test_support.hpp"
#include "trellis/detail/member_class.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/io/remote.hpp"

#include <atomic>
#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

child_spec keeping(std::shared_ptr<journal> j, bool keep = true) {
  return journaled(std::move(j)).keep_mailbox(keep);
}

/// What `queued` saw: the incarnation the requests went to, and their
/// answers, in order.
struct queued_run {
  caf::actor first;
  std::vector<answer> got;
};

/// Holds `sup`'s child `w`, queues the requests 1..`n` behind the hold, then
/// lets the child go on and waits for every answer.
queued_run queued(fixture& f, journal& j, const caf::actor& sup, int n) {
  queued_run result;
  result.first = f.actor_of(sup, "w");
  f.probe->send(result.first, hold_atom::value);
  auto calls = send_requests(f, result.first, 1, n);
  j.released = true;
  result.got = answers(calls);
  return result;
}

/// Subscribes the probe to the tree's events.
void listen(fixture& f, const caf::actor& sup) {
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
}

} // namespace

TEST_CASE("a child that keeps its mailbox hands queued requests to its next "
          "incarnation",
          "[keep_mailbox]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) { return gen == 1 && x == 1; };
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
  listen(f, sup);
  auto [first, got] = queued(f, *j, sup, 100);
  // The crashing request gets the crash; the 99 behind it are answered by
  // the next incarnation, in order, each once.
  REQUIRE(got.size() == 100);
  CHECK(is(got[0].err, errc::unhandled_exception));
  for (int i = 2; i <= 100; ++i) {
    INFO("request " << i << ": " << f.render(got[i - 1].err));
    CHECK(got[i - 1].value == 2000 + i);
  }
  CHECK(j->of(1) == std::vector<int>{1});
  CHECK(j->of(2) == range(2, 100));
  auto ev = await_event(f.probe, lifecycle_kind::messages_kept, "root/w");
  CHECK(ev.detail == "messages=99");
  CHECK(f.actor_of(sup, "w") != first);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a kept child killed from outside hands its queue over",
          "[keep_mailbox]") {
  fixture f;
  auto j = std::make_shared<journal>();
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
  auto first = f.actor_of(sup, "w");
  f.probe->send(first, hold_atom::value);
  auto calls = send_requests(f, first, 1, 100);
  // Urgent, so that it comes before most of the queued requests (CAF may
  // still run a few of them first).
  f.probe->send<caf::message_priority::high>(
    first, caf::exit_msg{caf::actor_addr{}, caf::exit_reason::kill});
  j->released = true;
  auto got = answers(calls);
  // Each answered once, by the old incarnation before the kill or by the
  // new one after it; none lost.
  for (int i = 1; i <= 100; ++i) {
    INFO("request " << i << ": " << f.render(got[i - 1].err));
    CHECK((got[i - 1].value == 1000 + i || got[i - 1].value == 2000 + i));
  }
  auto handled = j->of(1);
  auto rest = j->of(2);
  handled.insert(handled.end(), rest.begin(), rest.end());
  CHECK(handled == range(1, 100));
  CHECK(!rest.empty());
  stop_supervisor(f.sys, sup);
}

TEST_CASE("without keep_mailbox, requests queued at a crash are bounced",
          "[keep_mailbox]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) { return gen == 1 && x == 1; };
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j, false)));
  auto [first, got] = queued(f, *j, sup, 10);
  CHECK(is(got[0].err, errc::unhandled_exception));
  for (int i = 2; i <= 10; ++i)
    CHECK(got[i - 1].err == caf::sec::request_receiver_down);
  CHECK(j->of(2).empty());
  stop_supervisor(f.sys, sup);
}

TEST_CASE("requests that reach a kept child while it is down are answered in "
          "order",
          "[keep_mailbox]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) { return gen == 1 && x == 0; };
  // Down long enough that every request below reaches it while it is down.
  auto sup = f.start(supervisor("root").intensity(5).child(
    keeping(j).backoff(restart_backoff{1s, 1s, 0.0})));
  listen(f, sup);
  auto h = stable_handle(f.sys, sup, "root/w");
  REQUIRE(h);
  auto first = f.actor_of(sup, "w");
  auto crash = f.probe->request(first, patience, 0);
  auto ev = await_event(f.probe, lifecycle_kind::child_exited, "root/w");
  CHECK(is(ev.reason, errc::unhandled_exception));
  // To the ended incarnation's address, then through the stable handle.
  auto calls = send_requests(f, first, 1, 50);
  crash.receive([](int) { FAIL("the crashing request was answered"); },
                [](caf::error& e) { CHECK(is(e, errc::unhandled_exception)); });
  auto more = send_requests(f, *h, 51, 100);
  calls.insert(calls.end(), std::make_move_iterator(more.begin()),
               std::make_move_iterator(more.end()));
  auto got = answers(calls);
  for (int i = 1; i <= 100; ++i) {
    INFO("request " << i << ": " << f.render(got[i - 1].err));
    CHECK(got[i - 1].value == 2000 + i);
  }
  // Nothing overtook: the next incarnation handled them as they were sent.
  CHECK(j->of(2) == range(1, 100));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a crash on a kept message hands the rest on again, within the "
          "restart budget",
          "[keep_mailbox]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) {
    return (gen == 1 && x == 1) || (gen == 2 && x == 50);
  };
  SECTION("the budget allows both restarts") {
    auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
    auto [first, got] = queued(f, *j, sup, 100);
    CHECK(is(got[0].err, errc::unhandled_exception));
    CHECK(is(got[49].err, errc::unhandled_exception));
    for (int i = 2; i <= 100; ++i) {
      if (i == 50)
        continue;
      INFO("request " << i << ": " << f.render(got[i - 1].err));
      CHECK(got[i - 1].value == (i < 50 ? 2000 : 3000) + i);
    }
    CHECK(j->of(2) == range(2, 50));
    CHECK(j->of(3) == range(51, 100));
    CHECK(f.child(sup, "w").restart_count == 2);
    stop_supervisor(f.sys, sup);
  }
  SECTION("the budget is exhausted: what waits is bounced and counted") {
    auto sup = f.start(supervisor("root").intensity(1).child(keeping(j)));
    listen(f, sup);
    auto [first, got] = queued(f, *j, sup, 100);
    CHECK(is(got[49].err, errc::unhandled_exception));
    for (int i = 51; i <= 100; ++i) {
      INFO("request " << i << ": " << f.render(got[i - 1].err));
      CHECK(got[i - 1].err == caf::sec::request_receiver_down);
      CHECK_THAT(f.render(got[i - 1].err), Catch::Contains("root/w"));
    }
    auto ev = await_event(f.probe, lifecycle_kind::messages_lost, "root/w");
    CHECK(ev.detail == "requests=50 messages=0");
    CHECK(j->of(3).empty());
    CHECK(is(await_exit(f.sys, sup), errc::reached_max_restart_intensity));
  }
}

TEST_CASE("a kept mailbox is bounced and counted when its child is "
          "terminated",
          "[keep_mailbox]") {
  fixture f;
  auto j = std::make_shared<journal>();
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
  listen(f, sup);
  auto first = f.actor_of(sup, "w");
  f.probe->send(first, hold_atom::value);
  // Asked while the child holds; once the supervisor answered the probe's
  // next request (one it answers at once, unlike which_children, which
  // waits for the stop) it has sent the stop signal, which CAF queues as any
  // message: the requests sent now wait behind it.
  auto stop = f.probe->request(sup, patience, terminate_child_atom::value,
                               std::string{"w"});
  f.probe->request(sup, patience, dead_letters_atom::value)
    .receive([](std::vector<dead_letter>&) {},
             [&](caf::error& e) { FAIL("dead_letters: " << f.render(e)); });
  auto calls = send_requests(f, first, 1, 100);
  j->released = true;
  auto got = answers(calls);
  stop.receive([](caf::ok_atom) {}, [&](caf::error& e) {
    FAIL("terminate_child: " << f.render(e));
  });
  for (auto& a : got) {
    CHECK(a.err == caf::sec::request_receiver_down);
    CHECK_THAT(f.render(a.err), Catch::Contains("root/w"));
  }
  auto ev = await_event(f.probe, lifecycle_kind::messages_lost, "root/w");
  CHECK(ev.detail == "requests=100 messages=0");
  CHECK(j->of(1).empty());
  CHECK(f.child(sup, "w").state == child_state::stopped);
  CHECK(j->incarnations == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a kept child declared hung hands nothing over: what reaches it "
          "after its kill is bounced and counted once it returns",
          "[keep_mailbox][health]") {
  fixture f;
  auto j = std::make_shared<journal>();
  // Releases the stuck handler even when a check fails first.
  auto release = std::shared_ptr<void>(nullptr,
                                       [j](void*) { j->released = true; });
  auto sup = f.start(supervisor("root").intensity(5).child(
    keeping(j).health_check(health_check{20ms, 200ms, 1})));
  listen(f, sup);
  auto first = f.actor_of(sup, "w");
  f.probe->send(first, hold_atom::value);
  auto before = send_requests(f, first, 1, 3);
  await_event(f.probe, lifecycle_kind::child_restarted, "root/w");
  // The replacement runs at once, without what the stuck one holds.
  auto fresh = f.actor_of(sup, "w");
  REQUIRE(fresh != first);
  auto on_fresh = send_requests(f, fresh, 7, 7);
  CHECK(answers(on_fresh)[0].value == 2007);
  // Behind the kill in the stuck one's mailbox.
  auto after = send_requests(f, first, 11, 13);
  j->released = true;
  // Once it returns, it handles what was queued before its kill (CAF
  // queues the kill as any message), then ends.
  for (auto& a : answers(before))
    CHECK(a.value > 1000);
  for (auto& a : answers(after)) {
    CHECK(a.err == caf::sec::request_receiver_down);
    CHECK_THAT(f.render(a.err), Catch::Contains("root/w"));
  }
  CHECK(j->of(1) == range(1, 3));
  CHECK(j->of(2) == std::vector<int>{7});
  auto ev = await_event(f.probe, lifecycle_kind::messages_lost, "root/w");
  CHECK(ev.detail == "requests=3 messages=0");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("keep_mailbox is refused for children whose mailbox cannot be kept",
          "[keep_mailbox][spec]") {
  fixture f;
  auto refused = [&](const supervisor_spec& spec) {
    auto res = start_supervisor(f.sys, spec);
    REQUIRE_FALSE(res);
    CHECK_THAT(f.render(res.error()),
               Catch::Contains("invalid_spec: keep_mailbox"));
  };
  SECTION("a remote child") {
    refused(supervisor("root").child(
      remote_worker("r", "pinger").nodes({"127.0.0.1:4000"}).keep_mailbox(
        true)));
  }
  SECTION("a supervisor child") {
    refused(supervisor("root").child(
      supervisor("sub").as_child().keep_mailbox(true)));
  }
  SECTION("a blocking child") {
    refused(supervisor("root").intensity(0).child(
      worker("b",
             [](caf::blocking_actor* self) {
               self->receive([](int) {});
             })
        .keep_mailbox(true)));
  }
}

// -- on the test coordinator: exact interleavings -----------------------------

namespace {

/// The answers an `asker` got, by request; the test coordinator runs every
/// actor on the test's thread.
struct answer_book {
  std::map<int, answer> got;
  std::map<int, int> times;

  /// Whether `x` was answered exactly once.
  bool once(int x) {
    return times[x] == 1;
  }
};

/// Sends each int of `(dest, xs)` to `dest` as a request, without timeout
/// (no timer on the test clock), and writes down the answers.
caf::behavior asker(caf::event_based_actor* self,
                    std::shared_ptr<answer_book> book) {
  return {
    [self, book](const caf::actor& dest, const std::vector<int>& xs) {
      for (auto x : xs)
        self->request(dest, caf::infinite, x)
          .then(
            [book, x](int v) {
              book->got[x].value = v;
              ++book->times[x];
            },
            [book, x](caf::error& e) {
              book->got[x].err = std::move(e);
              ++book->times[x];
            });
    },
  };
}

struct ordered_fixture : clock_fixture {
  std::shared_ptr<journal> j = std::make_shared<journal>();
  std::shared_ptr<answer_book> book = std::make_shared<answer_book>();
  caf::actor from = sys.spawn(asker, book);
  caf::actor sup;

  explicit ordered_fixture(std::function<bool(int, int)> crashes) {
    j->released = true;
    j->crashes = std::move(crashes);
    auto x = spawn_supervisor(sys, supervisor("root").intensity(5).period(1h)
                                     .child(keeping(j)));
    REQUIRE(x);
    sup = *x;
    sched.run();
    // Asked by message: the blocking helpers would wait for a scheduler
    // that only the test runs.
    self->send(sup, events_atom::value);
    sched.run();
    receive_or_fail(self, "the tree's event group",
                    [&](caf::group& events) { self->join(events); });
  }

  /// Queues the requests `xs` at `dest`, and runs nothing else.
  void ask(const caf::actor& dest, std::vector<int> xs) {
    caf::anon_send(from, dest, std::move(xs));
    REQUIRE(sched.prioritize(from));
    sched.run_once();
  }

  /// Lets `dest` handle one message.
  void step(const caf::actor& dest) {
    REQUIRE(sched.prioritize(dest));
    sched.run_once();
  }

  /// Runs every other actor until the supervisor has spawned the child's
  /// next incarnation, and returns it before it ran at all.
  caf::actor next_incarnation(const caf::actor& old) {
    auto is_next = [&](caf::resumable* r) {
      auto actor = dynamic_cast<caf::abstract_actor*>(r);
      auto member = detail::tree_member_of(actor);
      return member != nullptr && actor != nullptr
             && member->path() == "root/w" && actor->address() != old.address();
    };
    for (int i = 0; i < 1000; ++i) {
      auto& jobs = sched.jobs;
      auto found = std::find_if(jobs.begin(), jobs.end(), is_next);
      if (found != jobs.end())
        return caf::actor_cast<caf::actor>(
          dynamic_cast<caf::abstract_actor*>(*found));
      if (!sched.try_run_once())
        break;
    }
    FAIL("waited for the supervisor to start a next incarnation of root/w");
    return {};
  }
};

} // namespace

TEST_CASE("deterministic: kept messages reach the next incarnation once, in "
          "order, ahead of newer ones",
          "[keep_mailbox][order]") {
  ordered_fixture f{[](int gen, int x) { return gen == 1 && x == 1; }};
  auto first = f.child(f.sup).actor;
  f.ask(first, range(1, 5));
  f.step(first); // handles 1, throws: 2..5 stay queued, then move to the box
  CHECK(f.j->of(1) == std::vector<int>{1});
  f.ask(first, {6, 7}); // late: the old address, after the crash
  auto next = f.next_incarnation(first);
  f.ask(next, {8, 9}); // newer: queued before the next incarnation runs
  f.sched.run();
  CHECK(f.j->of(2) == range(2, 9));
  CHECK(is(f.book->got[1].err, errc::unhandled_exception));
  for (int x = 1; x <= 9; ++x) {
    INFO("request " << x);
    CHECK(f.book->once(x));
    if (x > 1)
      CHECK(f.book->got[x].value == 2000 + x);
  }
  auto ev = await_event(f.self, lifecycle_kind::messages_kept, "root/w");
  CHECK(ev.detail == "messages=6");
}

TEST_CASE("deterministic: a crash during the handover hands the rest on again",
          "[keep_mailbox][order]") {
  ordered_fixture f{[](int gen, int x) {
    return (gen == 1 && x == 1) || (gen == 2 && x == 3);
  }};
  auto first = f.child(f.sup).actor;
  f.ask(first, range(1, 6));
  f.step(first);
  auto second = f.next_incarnation(first);
  f.ask(second, {7}); // newer than the kept 2..6
  f.step(second);     // handles the kept 2
  f.ask(second, {8}); // behind 7 in the second's own mailbox
  f.sched.run();      // 3 crashes the second: 4..6, 7, 8 move on
  CHECK(f.j->of(2) == std::vector<int>{2, 3});
  CHECK(f.j->of(3) == range(4, 8));
  CHECK(is(f.book->got[1].err, errc::unhandled_exception));
  CHECK(is(f.book->got[3].err, errc::unhandled_exception));
  CHECK(f.book->got[2].value == 2002);
  for (int x = 1; x <= 8; ++x) {
    INFO("request " << x);
    CHECK(f.book->once(x));
    if (x >= 4)
      CHECK(f.book->got[x].value == 3000 + x);
  }
  CHECK(f.children(f.sup)[0].restart_count == 2);
}

TEST_CASE("deterministic: past the capacity, requests are refused and counted",
          "[keep_mailbox][order]") {
  ordered_fixture f{[](int gen, int x) { return gen == 1 && x == 1; }};
  constexpr int cap = static_cast<int>(detail::kept_mailbox::capacity);
  auto first = f.child(f.sup).actor;
  f.ask(first, range(1, cap + 4));
  f.sched.run();
  // 1 crashed; the next `cap` were kept; the 3 behind them did not fit.
  auto kept = f.j->of(2);
  CHECK(kept.size() == static_cast<size_t>(cap));
  CHECK((!kept.empty() && kept.front() == 2 && kept.back() == cap + 1));
  for (int x = cap + 2; x <= cap + 4; ++x) {
    INFO("request " << x << ": " << to_string(f.book->got[x].err));
    CHECK(f.book->once(x));
    CHECK(is(f.book->got[x].err, errc::overloaded));
  }
  auto ev = await_event(f.self, lifecycle_kind::messages_lost, "root/w");
  CHECK(ev.detail == "requests=3 messages=0");
}
