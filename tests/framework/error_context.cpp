// CAF's own errors, as they reach users of a tree, carry Trellis' context:
// which actor, why it ended, what to do; and a message nobody handles costs
// neither its sender nor its receiver a restart.

#include "test_support.hpp"

#include <future>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// Answers ints; on `crash_atom`, waits for `gate`, then throws.
caf::behavior gated(caf::event_based_actor*, std::shared_future<void> gate) {
  return {
    [](int x) { return x; },
    [gate](crash_atom) {
      gate.wait_for(patience);
      throw std::runtime_error("boom");
    },
  };
}

/// Answers ints only.
caf::behavior ints_only(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

/// Sends a string to whatever actor it is given; answers ints.
caf::behavior talker(caf::event_based_actor* self) {
  return {
    [self](const caf::actor& dest) { self->send(dest, std::string{"hi"}); },
    [](int x) { return x; },
  };
}

/// Returns the error that `req`'s answer was.
template <class Handle>
caf::error error_of(Handle req) {
  caf::error result;
  std::move(req).receive([](int) { FAIL("an answer instead of an error"); },
                         [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Waits until the log has a line starting with `report`; returns it.
std::string await_report(const log_capture& log, const std::string& report) {
  for (int i = 0; i < 20'000; ++i) {
    auto lines = log.reports(report);
    if (!lines.empty())
      return lines.front();
    std::this_thread::sleep_for(1ms);
  }
  FAIL("no " << report << " report");
  return {};
}

} // namespace

TEST_CASE("a request a crashed child never handled names the child and its "
          "crash",
          "[errors]") {
  fixture f;
  std::promise<void> open;
  auto sup = f.start(supervisor("root").child(
    worker("w", gated, open.get_future().share())));
  auto w = f.actor_of(sup, "w");
  // The crash waits at the gate while the request queues behind it.
  f.probe->send(w, crash_atom::value);
  auto pending = f.probe->request(w, patience, 1);
  open.set_value();
  auto err = error_of(std::move(pending));
  // Still CAF's code, so that existing checks keep working.
  CHECK(err == caf::sec::request_receiver_down);
  auto text = f.render(err);
  CHECK_THAT(text, Catch::Contains("root/w"));
  CHECK_THAT(text, Catch::Contains("std::runtime_error, boom"));
  CHECK_THAT(text, Catch::Contains("stable_handle"));
  // A request that reaches the dead incarnation later gets the same answer.
  f.await_replaced(sup, "w", w);
  auto late = f.render(error_of(f.probe->request(w, patience, 2)));
  CHECK(late == text);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a call to a supervisor that gave up names it and why",
          "[errors]") {
  fixture f;
  std::promise<void> open;
  open.set_value();
  auto sup = f.start(supervisor("root").intensity(0).child(
    worker("w", gated, open.get_future().share())));
  auto h = stable_handle(f.sys, sup, "root/w");
  REQUIRE(h);
  f.probe->send(f.actor_of(sup, "w"), crash_atom::value);
  CHECK_THAT(f.exit_reason_of(sup),
             Catch::StartsWith("trellis::errc::reached_max_restart_intensity"));
  auto children = which_children(f.sys, sup);
  REQUIRE_FALSE(children);
  CHECK(children.error() == caf::sec::request_receiver_down);
  auto text = f.render(children.error());
  CHECK_THAT(text, Catch::Contains("\"root\""));
  CHECK_THAT(text, Catch::Contains("reached_max_restart_intensity"));
  CHECK_THAT(text, Catch::Contains("start the tree again"));
  // The stable handle ends with its tree, and says so. It learns of the
  // end from its own down message: until then a request goes on to the
  // ended incarnation, whose answer names the child's crash instead.
  CHECK_THAT(f.exit_reason_of(*h),
             Catch::StartsWith("trellis::errc::reached_max_restart_intensity"));
  auto via_handle = error_of(f.probe->request(*h, patience, 1));
  CHECK(via_handle == caf::sec::request_receiver_down);
  CHECK_THAT(f.render(via_handle), Catch::Contains("stable_handle root/w"));
  CHECK_THAT(f.render(via_handle),
             Catch::Contains("reached_max_restart_intensity"));
}

TEST_CASE("a message no handler matches is reported with both paths and "
          "costs nobody a restart",
          "[errors]") {
  fixture f;
  log_capture log;
  auto sup = f.start(supervisor("root")
                       .child(worker("talker", talker))
                       .child(worker("ints", ints_only)));
  auto talker_actor = f.actor_of(sup, "talker");
  auto ints = f.actor_of(sup, "ints");
  // A plain message: CAF would answer it with an error message, which ends
  // the sender (talker) for the receiver's mistake.
  f.probe->send(talker_actor, ints);
  auto line = await_report(log, "unexpected_message");
  CHECK_THAT(line, Catch::Contains("receiver=root/ints"));
  CHECK_THAT(line, Catch::Contains("sender=root/talker"));
  CHECK_THAT(line, Catch::Contains("kind=message"));
  CHECK_THAT(line, Catch::Contains("\"hi\""));
  // Both still run, never restarted: the talker answers a request after
  // the receiver had its say.
  int answer = 0;
  f.probe->request(talker_actor, patience, 7)
    .receive([&](int x) { answer = x; },
             [](caf::error& err) { FAIL("talker: " << to_string(err)); });
  CHECK(answer == 7);
  CHECK(f.child(sup, "talker").restart_count == 0);
  CHECK(f.child(sup, "ints").restart_count == 0);
  CHECK(f.actor_of(sup, "talker") == talker_actor);
  // A request gets the error, naming the receiver.
  auto err = error_of(f.probe->request(ints, patience, std::string{"x"}));
  CHECK(err == caf::sec::unexpected_message);
  CHECK_THAT(f.render(err), Catch::Contains("root/ints"));
  stop_supervisor(f.sys, sup);
}
