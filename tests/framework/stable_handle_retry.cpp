// Stable handles with options: failing fast while the child is down, and
// sending requests again after the incarnation they went to ended.

#include "handle_support.hpp"
#include "journal.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

child_spec keeping(std::shared_ptr<journal> j, bool keep = false) {
  return journaled(std::move(j)).keep_mailbox(keep);
}

stable_handle_options retrying(uint32_t attempts, bool idempotent) {
  stable_handle_options opts;
  opts.retry.attempts = attempts;
  opts.retry.idempotent = idempotent;
  return opts;
}

answer ask(fixture& f, const caf::actor& h, int x) {
  answer a;
  f.probe->request(h, patience, x).receive(
    [&](int y) { a.value = y; }, [&](caf::error& e) { a.err = std::move(e); });
  return a;
}

/// Holds the child behind `h` and sends the requests `from`..`to` through
/// `h`, which queue behind the hold; lets the child go on and returns every
/// answer, in order. Each call gets exactly one: a second would be left in
/// the probe's mailbox, which the caller checks with `no_more_answers`.
std::vector<answer> queued(fixture& f, journal& j, const caf::actor& h,
                           int from, int to) {
  f.probe->send(h, hold_atom::value);
  auto calls = send_requests(f, h, from, to);
  j.released = true;
  return answers(calls);
}

/// Checks that no answer beyond the one each request got reached the probe.
void no_more_answers(fixture& f) {
  // CAF drops a second response to a request already answered; a probe
  // request sent now is answered after anything the handle relayed before.
  bool extra = false;
  f.probe->receive([&](caf::message&) { extra = true; },
                   caf::after(std::chrono::milliseconds(0)) >> [] {});
  CHECK_FALSE(extra);
}

} // namespace

TEST_CASE("a fail-fast stable handle answers restarting while its child is "
          "down and forwards again once it is up",
          "[stable_handle][fail_fast]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) { return gen == 1 && x == 0; };
  j->hold_starts = true; // the restart waits until the test lets it
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
  stable_handle_options opts;
  opts.while_down = down_policy::fail_fast;
  auto h = stable_handle(f.sys, sup, "root/w", opts);
  REQUIRE(h);
  await_up(f, *h, true);
  CHECK(ask(f, *h, 1).value == 1001);
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  caf::scoped_actor listener{f.sys};
  listener->join(*events);
  f.probe->send(*h, 0); // crashes it; its restart waits
  await_up(f, *h, false);
  auto a = ask(f, *h, 2);
  INFO(f.render(a.err));
  CHECK(is(a.err, errc::restarting));
  CHECK_THAT(f.render(a.err), Catch::Contains("root/w"));
  CHECK_THAT(f.render(a.err), Catch::Contains("fails fast"));
  // A plain message is a dead letter, published, never an error message.
  f.probe->send(*h, 3);
  auto ev = await_event(listener, lifecycle_kind::message_dropped, "root/w");
  CHECK(is(ev.reason, errc::restarting));
  CHECK_THAT(ev.detail, Catch::Contains("3"));
  // Nothing waited for the next incarnation.
  uint64_t buffered = 99;
  f.probe->request(*h, patience, caf::get_atom::value, stable_handle_atom::value)
    .receive([&](bool, uint64_t n) { buffered = n; }, [](caf::error&) {});
  CHECK(buffered == 0);
  j->let_start();
  await_up(f, *h, true);
  CHECK(ask(f, *h, 4).value == 2004);
  CHECK(j->of(2) == std::vector<int>{4});
  CHECK(to_string(down_policy::fail_fast) == "fail_fast");
  CHECK(to_string(down_policy::buffer) == "buffer");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a retrying stable handle sends idempotent requests interrupted by "
          "a crash to the next incarnation, each answered once",
          "[stable_handle][retry]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) { return gen == 1 && x == 0; };
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
  auto h = stable_handle(f.sys, sup, "root/w", retrying(1, true));
  REQUIRE(h);
  await_up(f, *h, true);
  // 0 crashes the first incarnation; 1..20 wait behind it and are bounced.
  auto got = queued(f, *j, *h, 0, 20);
  for (int i = 0; i <= 20; ++i) {
    INFO("request " << i << ": " << f.render(got[i].err));
    CHECK(got[i].value == 2000 + i);
  }
  no_more_answers(f);
  CHECK(j->of(1) == std::vector<int>{0});
  // Sent again in the order they were first sent.
  CHECK(j->of(2) == range(0, 20));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a retrying stable handle gives a request that may have run and is "
          "not idempotent in_doubt, and sends again what never ran",
          "[stable_handle][retry]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) { return gen == 1 && x == 0; };
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
  auto h = stable_handle(f.sys, sup, "root/w", retrying(3, false));
  REQUIRE(h);
  await_up(f, *h, true);
  auto got = queued(f, *j, *h, 0, 10);
  auto text = f.render(got[0].err);
  INFO(text);
  CHECK(is(got[0].err, errc::in_doubt));
  CHECK_THAT(text, Catch::Contains("root/w"));
  CHECK_THAT(text, Catch::Contains("may have run"));
  CHECK(is(cause_of(got[0].err), errc::unhandled_exception));
  CHECK_THAT(text, Catch::Contains("boom on 0"));
  // Bounced from the mailbox, they never ran: sent again.
  for (int i = 1; i <= 10; ++i) {
    INFO("request " << i << ": " << f.render(got[i].err));
    CHECK(got[i].value == 2000 + i);
  }
  no_more_answers(f);
  CHECK(j->count(0) == 1);
  CHECK(j->of(2) == range(1, 10));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a retrying stable handle sends a request again at most `attempts` "
          "times, then answers the last error",
          "[stable_handle][retry]") {
  fixture f;
  auto j = std::make_shared<journal>();
  // A poison message: every incarnation crashes on it.
  j->crashes = [](int, int x) { return x == 0; };
  auto sup = f.start(supervisor("root").intensity(10).child(keeping(j)));
  auto h = stable_handle(f.sys, sup, "root/w", retrying(2, true));
  REQUIRE(h);
  await_up(f, *h, true);
  auto a = ask(f, *h, 0);
  INFO(f.render(a.err));
  CHECK(is(a.err, errc::unhandled_exception));
  // Sent once and again twice, each time to a new incarnation.
  CHECK(j->count(0) == 3);
  CHECK(j->of(1) == std::vector<int>{0});
  CHECK(j->of(2) == std::vector<int>{0});
  CHECK(j->of(3) == std::vector<int>{0});
  // The next incarnation serves what is not poison.
  CHECK(ask(f, *h, 5).value == 4005);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a retrying stable handle relays answers and the handler's own "
          "errors as they are, once",
          "[stable_handle][retry]") {
  fixture f;
  auto j = std::make_shared<journal>();
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
  auto h = stable_handle(f.sys, sup, "root/w", retrying(3, true));
  REQUIRE(h);
  await_up(f, *h, true);
  CHECK(ask(f, *h, 7).value == 1007);
  auto a = ask(f, *h, -1);
  CHECK(is(a.err, errc::not_supported));
  CHECK(j->count(-1) == 1);
  std::string text;
  f.probe->request(*h, patience, std::string{"hi"})
    .receive([&](std::string& x) { text = x; },
             [&](caf::error& e) { text = f.render(e); });
  CHECK(text == "hi back");
  // A plain message is forwarded, not tracked: the child gets it.
  f.probe->send(*h, 8);
  CHECK(ask(f, *h, 9).value == 1009);
  CHECK(j->of(1) == std::vector<int>{7, -1, 8, 9});
  no_more_answers(f);
  CHECK(j->incarnations == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a retrying stable handle to a child that keeps its mailbox has "
          "each request answered exactly once",
          "[stable_handle][retry][keep_mailbox]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) { return gen == 1 && x == 1; };
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j, true)));
  auto h = stable_handle(f.sys, sup, "root/w", retrying(3, true));
  REQUIRE(h);
  await_up(f, *h, true);
  auto got = queued(f, *j, *h, 1, 50);
  // 1 crashed the first incarnation and is sent again; 2..50 were handed to
  // the next one with the mailbox and answered there, not sent again.
  for (int i = 1; i <= 50; ++i) {
    INFO("request " << i << ": " << f.render(got[i - 1].err));
    CHECK(got[i - 1].value == 2000 + i);
  }
  no_more_answers(f);
  CHECK(j->of(1) == std::vector<int>{1});
  auto second = j->of(2);
  for (int i = 1; i <= 50; ++i) {
    INFO("request " << i);
    CHECK(std::count(second.begin(), second.end(), i) == 1);
  }
  CHECK(second.size() == 50);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a retrying stable handle answers what it holds when it is "
          "stopped",
          "[stable_handle][retry]") {
  fixture f;
  auto j = std::make_shared<journal>();
  j->crashes = [](int gen, int x) { return gen == 1 && x == 0; };
  j->hold_starts = true;
  auto sup = f.start(supervisor("root").intensity(5).child(keeping(j)));
  auto h = stable_handle(f.sys, sup, "root/w", retrying(3, true));
  REQUIRE(h);
  await_up(f, *h, true);
  // 0 crashes the child, whose restart waits: 0 waits to be sent again.
  auto c = f.probe->request(*h, patience, 0);
  await_up(f, *h, false);
  uint64_t buffered = 0;
  for (int i = 0; i < 20'000 && buffered < 1; ++i) {
    f.probe->request(*h, patience, caf::get_atom::value, stable_handle_atom::value)
      .receive([&](bool, uint64_t n) { buffered = n; }, [](caf::error&) {});
    if (buffered < 1)
      std::this_thread::sleep_for(1ms);
  }
  REQUIRE(buffered == 1);
  caf::anon_send_exit(*h, caf::exit_reason::user_shutdown);
  caf::error err;
  c.receive([](int) { FAIL("answered by a child that never restarted"); },
            [&](caf::error& e) { err = std::move(e); });
  INFO(f.render(err));
  CHECK(err == caf::sec::request_receiver_down);
  CHECK_THAT(f.render(err), Catch::Contains("stable_handle root/w"));
  j->let_start();
  stop_supervisor(f.sys, sup);
}

TEST_CASE("stable handle options are checked", "[stable_handle]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(f.probed("job")));
  stable_handle_options opts;
  opts.buffer = 0;
  CHECK(is(stable_handle(f.sys, sup, "root/job", opts).error(),
           errc::invalid_spec));
  stop_supervisor(f.sys, sup);
}
