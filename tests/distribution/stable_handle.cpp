// A retrying stable handle to a remote child whose node is lost: a request
// out on the lost node never gets an answer of its own, so the handle gives
// up on it when it learns of the loss.

#include <csignal>
#include <string>

#include "dist_fixture.hpp"

using namespace std::chrono_literals;
using namespace trellis;
using namespace trellis::test;

namespace {

stable_handle_options retrying(uint32_t attempts, bool idempotent) {
  stable_handle_options opts;
  opts.retry.attempts = attempts;
  opts.retry.idempotent = idempotent;
  return opts;
}

/// Returns the answer to `x` through `h`: the string, or the error rendered.
std::string call(dist_fixture& f, caf::scoped_actor& self, const caf::actor& h,
                 const std::string& x) {
  std::string result;
  self->request(h, patience, x)
    .receive([&](std::string& y) { result = std::move(y); },
             [&](caf::error& err) { result = f.sys.render(err); });
  return result;
}

} // namespace

TEST_CASE("a retrying stable handle sends an idempotent request out on a lost "
          "node to the next incarnation, and answers in_doubt for one that is "
          "not idempotent",
          "[distribution][stable_handle]") {
  dist_fixture f;
  auto a = f.start_node_process();
  auto b = f.start_node_process();
  auto root = start_supervisor(
    f.sys, supervisor("root").intensity(10).period(30s).child(
             remote_worker("w", "pinger").nodes({a->address(), b->address()})));
  REQUIRE(root);
  REQUIRE(f.info(*root, "w").node == a->address());
  auto idem = stable_handle(f.sys, *root, "root/w", retrying(2, true));
  auto once = stable_handle(f.sys, *root, "root/w", retrying(2, false));
  REQUIRE(idem);
  REQUIRE(once);
  caf::scoped_actor self{f.sys};
  // Both serve the child on a, and relay its answers.
  CHECK(call(f, self, *idem, "ping") == "pong 1");
  CHECK(call(f, self, *once, "ping") == "pong 2");
  // A stopped node reads nothing: the requests stay out until it is lost.
  // Stopped for sure, or it may still answer them.
  REQUIRE(a->pause());
  auto c1 = self->request(*idem, patience, std::string{"ping"});
  auto c2 = self->request(*once, patience, std::string{"ping"});
  // A handle handles in order: once it answered this, its request is out.
  for (auto& h : {*idem, *once})
    self->request(h, patience, caf::get_atom::value, stable_handle_atom::value)
      .receive([](bool up, uint64_t) { CHECK(up); },
               [&](caf::error& err) { FAIL(f.sys.render(err)); });
  a->kill();
  std::string idem_answer;
  c1.receive([&](std::string& x) { idem_answer = x; },
             [&](caf::error& err) { idem_answer = f.sys.render(err); });
  // Answered by the incarnation on b, its first ping.
  CHECK(idem_answer == "pong 1");
  caf::error err;
  c2.receive([](std::string& x) { FAIL("answered: " << x); },
             [&](caf::error& e) { err = std::move(e); });
  auto text = f.sys.render(err);
  INFO(text);
  CHECK(is(err, errc::in_doubt));
  CHECK_THAT(text, Catch::Contains("root/w"));
  auto cause = cause_of(err);
  CHECK((is(cause, errc::node_down)
         || is(cause, caf::exit_reason::remote_link_unreachable)));
  CHECK(running_on(f.info(*root, "w"), b->address()));
  // The handles serve the new incarnation.
  CHECK(call(f, self, *once, "ping") == "pong 2");
  CHECK(stop_and_await(f.sys, *root) == caf::exit_reason::user_shutdown);
}
