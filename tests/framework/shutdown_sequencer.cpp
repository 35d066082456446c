// The shutdown sequencer alone: an actor of the test's own hosts it, with
// children the test spawned, and records what the sequencer reports.

#include "test_support.hpp"

#include <atomic>
#include <future>

#include "shutdown_sequencer.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;
using trellis::detail::child_registry;
using trellis::detail::continuation_guard;
using trellis::detail::shutdown_sequencer;

namespace {

using group_atom = caf::atom_constant<caf::atom("group")>;
using parallel_atom = caf::atom_constant<caf::atom("parallel")>;
using stopped_atom = caf::atom_constant<caf::atom("stopped")>;

/// Hosts a sequencer over `children` and records, in order, each child the
/// sequencer reports stopped, as "<id> <reason>".
class sequencer_host : public caf::event_based_actor,
                       private shutdown_sequencer::host {
public:
  sequencer_host(caf::actor_config& cfg, std::vector<test_child> xs,
                 caf::timespan kill_timeout)
    : caf::event_based_actor(cfg),
      stops_(this, this, children_, guard_, kill_timeout) {
    for (auto& x : xs) {
      auto c = children_.add(std::move(x.spec));
      children_.bind(c, x.actor);
      monitor(x.actor);
    }
  }

  caf::behavior make_behavior() override {
    set_down_handler([this](caf::down_msg& msg) {
      auto c = children_.find(msg.source);
      if (c != children_.end() && c->stop != nullptr)
        stops_.on_down(c, std::move(msg.reason));
    });
    return {
      [this](group_atom) {
        auto rp = make_response_promise();
        auto g = std::make_shared<std::vector<child_registry::iterator>>();
        for (auto i = children_.begin(); i != children_.end(); ++i)
          g->insert(g->begin(), i); // Reverse start order.
        stops_.stop_group(g, 0, [rp]() mutable {
          rp.deliver(caf::ok_atom::value);
        });
        return rp;
      },
      [this](parallel_atom) {
        auto rp = make_response_promise();
        stops_.stop_all_parallel([rp]() mutable {
          rp.deliver(caf::ok_atom::value);
        });
        return rp;
      },
      [this](shutdown_sequencer::timeout_atom, uint64_t token) {
        stops_.on_timeout(token);
      },
      [this](stopped_atom) { return stopped_; },
    };
  }

  void on_exit() override {
    stops_.clear();
    children_.clear();
  }

private:
  void ask_child_to_stop(const trellis::detail::child& c) override {
    send_exit(c.handle, caf::exit_reason::user_shutdown);
  }

  void child_stopped(child_registry::iterator c, caf::error reason) override {
    stopped_.push_back(c->spec.id() + " " + system().render(reason));
    children_.unbind(c);
  }

  child_registry children_;
  continuation_guard guard_;
  shutdown_sequencer stops_;
  std::vector<std::string> stopped_;
};

std::vector<std::string> stopped(fixture& f, const caf::actor& host) {
  std::vector<std::string> result;
  f.probe->request(host, patience, stopped_atom::value)
    .receive([&](std::vector<std::string>& xs) { result = std::move(xs); },
             [](caf::error& err) { FAIL(to_string(err)); });
  return result;
}

void await_done(fixture& f, const caf::actor& host, caf::message what) {
  bool done = false;
  f.probe->request(host, patience, std::move(what))
    .receive([&](caf::ok_atom) { done = true; },
             [](caf::error& err) { FAIL(to_string(err)); });
  CHECK(done);
}

} // namespace

TEST_CASE("a sequencer stops a group one after another in the order given",
          "[shutdown_sequencer]") {
  fixture f;
  std::vector<test_child> xs;
  for (auto id : {"a", "b", "c"})
    xs.push_back({worker(id, idle_worker), f.sys.spawn(idle_worker)});
  auto host = f.sys.spawn<sequencer_host>(xs, caf::timespan{5s});
  await_done(f, host, caf::make_message(group_atom::value));
  CHECK(stopped(f, host)
        == std::vector<std::string>{"c exit_reason(user_shutdown)",
                                    "b exit_reason(user_shutdown)",
                                    "a exit_reason(user_shutdown)"});
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
}

TEST_CASE("a sequencer kills a child that ignores its stop after the "
          "shutdown timeout, and kills a brutal_kill child at once",
          "[shutdown_sequencer]") {
  fixture f;
  std::vector<test_child> xs;
  xs.push_back(
    {worker("brutal", idle_worker).shutdown(shutdown::brutal_kill()),
     f.sys.spawn(idle_worker)});
  xs.push_back({worker("stubborn", stubborn_worker, std::string{"stubborn"},
                       caf::actor{f.probe})
                  .shutdown(shutdown::timeout(50ms)),
                f.sys.spawn(stubborn_worker, std::string{"stubborn"},
                            caf::actor{f.probe})});
  auto host = f.sys.spawn<sequencer_host>(xs, caf::timespan{5s});
  CHECK(f.next_event() == "started:stubborn");
  await_done(f, host, caf::make_message(group_atom::value));
  CHECK(f.next_event() == "ignored_exit:stubborn");
  CHECK(stopped(f, host)
        == std::vector<std::string>{"stubborn exit_reason(kill)",
                                    "brutal exit_reason(kill)"});
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
}

TEST_CASE("a sequencer abandons a child stuck in a handler after the kill "
          "timeout, so that the stop finishes",
          "[shutdown_sequencer]") {
  fixture f;
  std::promise<void> release;
  auto released = release.get_future().share();
  // Detached: a stuck actor holds its thread, and the test has only two.
  auto stuck = f.sys.spawn<caf::detached>([released] {
    return caf::behavior{[released](int) { released.wait(); }};
  });
  caf::anon_send(stuck, 1);
  std::vector<test_child> xs;
  xs.push_back(
    {worker("stuck", idle_worker).shutdown(shutdown::brutal_kill()), stuck});
  auto host = f.sys.spawn<sequencer_host>(xs, caf::timespan{100ms});
  await_done(f, host, caf::make_message(group_atom::value));
  auto log = stopped(f, host);
  REQUIRE(log.size() == 1);
  CHECK_THAT(log[0], Catch::StartsWith("stuck trellis::errc::abandoned"));
  release.set_value();
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
}

TEST_CASE("a parallel stop has at most its window of stops in flight",
          "[shutdown_sequencer]") {
  fixture f;
  constexpr size_t n = shutdown_sequencer::window + 88;
  auto asked = std::make_shared<std::atomic<size_t>>(0);
  // Each counts the stop it was asked for, and stops once it was both asked
  // and told to go.
  auto slow = [asked](caf::event_based_actor* self) -> caf::behavior {
    auto was_asked = std::make_shared<bool>(false);
    auto may_go = std::make_shared<bool>(false);
    self->set_exit_handler([self, asked, was_asked, may_go](caf::exit_msg&) {
      ++*asked;
      *was_asked = true;
      if (*may_go)
        self->quit();
    });
    return {[self, was_asked, may_go](quit_atom) {
      *may_go = true;
      if (*was_asked)
        self->quit();
    }};
  };
  std::vector<test_child> xs;
  for (size_t i = 0; i < n; ++i)
    xs.push_back(
      {worker("c" + std::to_string(i), idle_worker), f.sys.spawn(slow)});
  auto actors = xs;
  auto host = f.sys.spawn<sequencer_host>(xs, caf::timespan{1h});
  auto done = f.probe->request(host, patience, parallel_atom::value);
  auto await_asked = [&](size_t k) {
    for (int i = 0; i < 20'000 && *asked < k; ++i)
      std::this_thread::sleep_for(1ms);
    INFO("waited for " << k << " children to be asked to stop");
    REQUIRE(*asked >= k);
  };
  await_asked(shutdown_sequencer::window);
  // The window is full: the rest wait until some of these are gone.
  std::this_thread::sleep_for(100ms);
  CHECK(*asked == shutdown_sequencer::window);
  for (auto& x : actors)
    caf::anon_send(x.actor, quit_atom::value);
  bool finished = false;
  done.receive([&](caf::ok_atom) { finished = true; },
               [](caf::error& err) { FAIL(to_string(err)); });
  CHECK(finished);
  CHECK(*asked == n);
  CHECK(stopped(f, host).size() == n);
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
}
