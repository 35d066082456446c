#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

namespace {

/// Answers every int with itself, but throws on 13 and 14.
caf::behavior picky(caf::event_based_actor*) {
  return {
    [](int x) {
      if (x == 13 || x == 14)
        throw std::invalid_argument("cannot stand " + std::to_string(x));
      return x;
    },
    [](const std::string& x) {
      if (x == "poison")
        throw std::runtime_error("poisoned");
    },
  };
}

child_spec picky_child(size_t k) {
  auto spec = worker("w", picky);
  if (k > 0)
    spec.quarantine_after(k);
  return spec;
}

/// Sends `x` to child `w` as a request and returns the child's answer or the
/// error; waits for the replacement if the request crashed the child.
caf::expected<int> ask(fixture& f, const caf::actor& sup, int x) {
  auto hdl = f.actor_of(sup, "w");
  REQUIRE(hdl);
  caf::expected<int> result = caf::error{};
  f.probe->request(hdl, patience, x)
    .receive([&](int y) { result = y; },
             [&](caf::error& err) { result = std::move(err); });
  if (!result && result.error() == caf::exit_reason::unknown)
    FAIL("no answer");
  if (!result)
    UNSCOPED_INFO("request " << x << ": " << f.render(result.error()));
  if (!result && !is(result.error(), errc::quarantined))
    f.await_replaced(sup, "w", hdl);
  return result;
}

bool crashed(const caf::expected<int>& x) {
  return !x && !is(x.error(), errc::quarantined);
}

} // namespace

TEST_CASE("a message that crashes a child K times in a row is quarantined",
          "[poison]") {
  fixture f;
  log_capture logs;
  auto sup = f.start(supervisor("root").intensity(10).child(picky_child(3)));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  CHECK(crashed(ask(f, sup, 13)));
  CHECK(crashed(ask(f, sup, 13)));
  CHECK(crashed(ask(f, sup, 13)));
  auto ev = await_event(f.probe, lifecycle_kind::message_quarantined,
                        "root/w");
  CHECK(ev.detail == "crashes=3 message=(13)");
  auto details = crash_details_of(ev.reason);
  REQUIRE(details);
  CHECK(details->type == "std::invalid_argument");
  // The fourth copy is set aside: the child keeps running and serving.
  auto hdl = f.actor_of(sup, "w");
  auto fourth = ask(f, sup, 13);
  REQUIRE(!fourth);
  CHECK(is(fourth.error(), errc::quarantined));
  CHECK(ask(f, sup, 12) == 12);
  CHECK(f.actor_of(sup, "w") == hdl);
  CHECK(f.child(sup, "w").restart_count == 3);
  // A message it was not asked for is set aside too, silently.
  f.probe->send(hdl, 13);
  CHECK(ask(f, sup, 11) == 11);
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  REQUIRE(letters->size() == 1);
  auto& letter = letters->front();
  CHECK(letter.path == "root/w");
  CHECK(letter.content.match_elements<int>());
  CHECK(letter.content.get_as<int>(0) == 13);
  CHECK(letter.crashes == 3);
  CHECK(letter.diverted == 2);
  CHECK(is(letter.reason, errc::unhandled_exception));
  auto reports = logs.reports("message_quarantined");
  REQUIRE(reports.size() == 1);
  CHECK_THAT(reports.front(),
             Catch::StartsWith("message_quarantined supervisor=root child=w ")
               && Catch::EndsWith(" crashes=3 message=(13)"));
  // Other poison still crashes until it too reaches the limit.
  CHECK(crashed(ask(f, sup, 14)));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("only crashes in a row on the same message count", "[poison]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(20).child(picky_child(2)));
  // 13, 14, 13, 14: never twice in a row.
  for (int i = 0; i < 2; ++i) {
    CHECK(crashed(ask(f, sup, 13)));
    CHECK(crashed(ask(f, sup, 14)));
  }
  // An exit that is not a crash on a message ends a streak as well.
  CHECK(crashed(ask(f, sup, 13)));
  auto old = f.actor_of(sup, "w");
  f.probe->send_exit(old, caf::exit_reason::kill);
  f.await_replaced(sup, "w", old);
  CHECK(crashed(ask(f, sup, 13)));
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  CHECK(letters->empty());
  // Now twice in a row.
  CHECK(crashed(ask(f, sup, 13)));
  auto quarantined = ask(f, sup, 13);
  REQUIRE(!quarantined);
  CHECK(is(quarantined.error(), errc::quarantined));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("messages are told apart by content, not only by type",
          "[poison]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(10).child(picky_child(1)));
  auto hdl = f.actor_of(sup, "w");
  f.probe->send(hdl, std::string{"poison"});
  hdl = f.await_replaced(sup, "w", hdl);
  // "poison" is quarantined; other strings and ints still get through.
  f.probe->send(hdl, std::string{"poison"});
  f.probe->send(hdl, std::string{"fine"});
  CHECK(ask(f, sup, 5) == 5);
  CHECK(f.actor_of(sup, "w") == hdl);
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  REQUIRE(letters->size() == 1);
  CHECK(letters->front().diverted == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("without quarantine_after every copy crashes, as in OTP",
          "[poison]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(10).child(picky_child(0)));
  for (int i = 0; i < 4; ++i)
    CHECK(crashed(ask(f, sup, 13)));
  CHECK(f.child(sup, "w").restart_count == 4);
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  CHECK(letters->empty());
  stop_supervisor(f.sys, sup);
}

TEST_CASE("dead letters outlive their child", "[poison]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(10).child(picky_child(1)));
  CHECK(crashed(ask(f, sup, 13)));
  REQUIRE(!terminate_child(f.sys, sup, "w"));
  REQUIRE(!delete_child(f.sys, sup, "w"));
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  REQUIRE(letters->size() == 1);
  CHECK(letters->front().path == "root/w");
  CHECK(to_string(letters->front()).find("content=(13)") != std::string::npos);
  // A new child under the same id starts with a clean slate.
  REQUIRE(start_child(f.sys, sup, picky_child(1)));
  CHECK(crashed(ask(f, sup, 13)));
  stop_supervisor(f.sys, sup);
}

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;

/// Answers ints; on `go`, asks `peer` for 0 and throws on the answer.
caf::behavior asks_then_throws(caf::event_based_actor* self, caf::actor peer) {
  return {
    [](int x) { return x; },
    [self, peer](go_atom) {
      self->request(peer, caf::infinite, 0).then([](int) {
        throw std::runtime_error("in a response handler");
      });
    },
  };
}

} // namespace

TEST_CASE("crashes on responses and system messages quarantine nothing",
          "[poison]") {
  fixture f;
  auto peer = f.sys.spawn([]() -> caf::behavior {
    return {[](int x) { return x; }};
  });
  auto sup = f.start(supervisor("root").intensity(100).child(
    worker("w", asks_then_throws, peer).quarantine_after(1)));
  auto old = f.actor_of(sup, "w");
  f.probe->send(old, go_atom::value);
  f.await_replaced(sup, "w", old);
  // The answer 0 crashed it; a request 0 is still handled.
  CHECK(ask(f, sup, 0) == 0);
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  CHECK(letters->empty());
  stop_supervisor(f.sys, sup);
  f.probe->send_exit(peer, caf::exit_reason::user_shutdown);
}

TEST_CASE("a crash on an idle timeout quarantines nothing", "[poison]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(100).child(
    worker("w",
           [](caf::event_based_actor*) -> caf::behavior {
             return {[](int x) { return x; },
                     caf::after(std::chrono::milliseconds(5)) >> [] {
                       throw std::runtime_error("idle");
                     }};
           })
      .quarantine_after(1)));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  for (int i = 0; i < 3; ++i)
    await_event(f.probe, lifecycle_kind::child_restarted, "root/w");
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  CHECK(letters->empty());
  stop_supervisor(f.sys, sup);
}

TEST_CASE("the quarantined message is the one that arrived, even if the "
          "handler moved from it",
          "[poison]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(10).child(
    worker("w",
           [](caf::event_based_actor*) -> caf::behavior {
             return {[](int x) { return x; },
                     [](std::string& x) {
                       auto taken = std::move(x);
                       if (taken == "poison")
                         throw std::runtime_error("poisoned");
                     },
                     [](const std::string& tag, const caf::actor&) {
                       if (tag == "with an actor")
                         throw std::runtime_error("poisoned");
                     }};
           })
      .quarantine_after(1)));
  auto hdl = f.actor_of(sup, "w");
  f.probe->send(hdl, std::string{"poison"});
  hdl = f.await_replaced(sup, "w", hdl);
  // Actor handles in a message hash without a context.
  f.probe->send(hdl, std::string{"with an actor"}, caf::actor{f.probe});
  hdl = f.await_replaced(sup, "w", hdl);
  f.probe->send(hdl, std::string{"poison"});
  f.probe->send(hdl, std::string{""});
  f.probe->send(hdl, std::string{"with an actor"}, caf::actor{f.probe});
  CHECK(ask(f, sup, 1) == 1);
  CHECK(f.actor_of(sup, "w") == hdl);
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  REQUIRE(letters->size() == 2);
  CHECK(letters->at(0).content.match_elements<std::string>());
  CHECK(letters->at(0).content.get_as<std::string>(0) == "poison");
  CHECK(letters->at(0).diverted == 1);
  CHECK(letters->at(1).diverted == 1);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("at most 1,000 messages stay quarantined per child, the oldest "
          "leaving first",
          "[poison]") {
  fixture f;
  // Throws on every int but 0: each is a message of its own.
  auto spec = worker("w", [](caf::event_based_actor*) -> caf::behavior {
                return {[](int x) {
                  if (x != 0)
                    throw std::invalid_argument("cannot stand it");
                  return x;
                }};
              }).quarantine_after(1);
  auto sup = f.start(supervisor("root").intensity(2000).period(std::chrono::hours(1)).child(spec));
  constexpr int n = 1001;
  for (int x = 1; x <= n; ++x) {
    auto hdl = f.actor_of(sup, "w");
    REQUIRE(hdl);
    bool failed = false;
    f.probe->request(hdl, patience, x)
      .receive([](int) {}, [&](caf::error&) { failed = true; });
    REQUIRE(failed);
    f.await_replaced(sup, "w", hdl);
  }
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  REQUIRE(letters->size() == 1000);
  // The first one left to make room for the last.
  CHECK(to_string(letters->front()).find("content=(2)") != std::string::npos);
  CHECK(to_string(letters->back()).find("content=(1001)") != std::string::npos);
  // The last is still set aside; the first crashes again.
  auto hdl = f.actor_of(sup, "w");
  caf::error err;
  f.probe->request(hdl, patience, n)
    .receive([](int) {}, [&](caf::error& x) { err = std::move(x); });
  CHECK(is(err, errc::quarantined));
  CHECK(f.actor_of(sup, "w") == hdl);
  f.probe->request(hdl, patience, 1)
    .receive([](int) {}, [&](caf::error& x) { err = std::move(x); });
  CHECK(is(err, errc::unhandled_exception));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a child that installs its own exception handler opts out of the "
          "quarantine",
          "[poison]") {
  fixture f;
  log_capture logs;
  auto spec = worker("w", [](child_context& ctx) -> start_result {
                return ctx.spawn([](caf::event_based_actor* self) -> caf::behavior {
                  // Its own handler: the exit reason is not Trellis' crash
                  // reason, so nothing counts towards a quarantine.
                  self->set_exception_handler(
                    [](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
                      return caf::sec::runtime_error;
                    });
                  return {[](int x) {
                    if (x == 13)
                      throw std::invalid_argument("cannot stand 13");
                    return x;
                  }};
                });
              }).quarantine_after(1);
  auto sup = f.start(supervisor("root").intensity(10).child(spec));
  for (int i = 0; i < 3; ++i) {
    auto hdl = f.actor_of(sup, "w");
    REQUIRE(hdl);
    caf::error err;
    f.probe->request(hdl, patience, 13)
      .receive([](int) {}, [&](caf::error& x) { err = std::move(x); });
    INFO("copy " << i << ": " << f.render(err));
    REQUIRE(err);
    CHECK_FALSE(is(err, errc::quarantined));
    f.await_replaced(sup, "w", hdl);
  }
  CHECK(f.child(sup, "w").restart_count == 3);
  auto letters = dead_letters(f.sys, sup);
  REQUIRE(letters);
  CHECK(letters->empty());
  CHECK(logs.reports("message_quarantined").empty());
  stop_supervisor(f.sys, sup);
}
