// The health monitor alone: an actor of the test's own hosts it, with
// children the test spawned, and tells the probe what the monitor reports.

#include "test_support.hpp"

#include <atomic>

#include "health_monitor.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;
using trellis::detail::child_registry;
using trellis::detail::health_monitor;

namespace {

/// Hosts a health monitor over `children`; tells `probe`
/// "unhealthy:<id> <reason>" for each child the monitor gives up on.
class monitor_host : public caf::event_based_actor,
                     private health_monitor::host {
public:
  monitor_host(caf::actor_config& cfg, std::vector<test_child> xs,
               caf::actor probe)
    : caf::event_based_actor(cfg),
      probe_(std::move(probe)),
      health_(this, this, children_) {
    for (auto& x : xs)
      children_.bind(children_.add(std::move(x.spec)), x.actor);
  }

  caf::behavior make_behavior() override {
    for (auto i = children_.begin(); i != children_.end(); ++i)
      health_.watch(i);
    return {
      [this](health_monitor::tick_atom, const caf::actor_addr& who,
             uint64_t token) { health_.on_tick(who, token); },
    };
  }

  void on_exit() override {
    children_.clear();
  }

private:
  void child_unhealthy(child_registry::iterator c,
                       caf::error reason) override {
    send(probe_, event_atom::value,
         "unhealthy:" + c->spec.id() + " " + system().render(reason));
    children_.unbind(c);
  }

  caf::actor probe_;
  child_registry children_;
  health_monitor health_;
};

/// Answers readiness probes by `answer(n)` for the n-th probe (0 first),
/// and counts them in `probes`.
template <class F>
auto answering(std::shared_ptr<std::atomic<int>> probes, F answer) {
  return [probes, answer](caf::event_based_actor*) -> caf::behavior {
    return {[probes, answer](readiness_atom) -> caf::result<caf::ok_atom> {
      return answer((*probes)++);
    }};
  };
}

void await_probes(const std::atomic<int>& probes, int n) {
  for (int i = 0; i < 20'000 && probes < n; ++i)
    std::this_thread::sleep_for(1ms);
  INFO("waited for " << n << " health probes");
  REQUIRE(probes >= n);
}

/// No report came: a quiet probe mailbox, within a short wait.
void expect_no_report(fixture& f) {
  bool reported = false;
  f.probe->receive([&](event_atom, std::string&) { reported = true; },
                   caf::after(50ms) >> [] {});
  CHECK_FALSE(reported);
}

/// Checks every 20 ms. Only the hung child's test waits for timeouts: the
/// others allow a timeout no loaded machine reaches, so that every miss is
/// one the child chose.
auto readiness_check(uint32_t max_missed, caf::timespan timeout = 20s) {
  return health_check(20ms, timeout, max_missed).readiness();
}

} // namespace

TEST_CASE("a health monitor leaves a child that answers alone",
          "[health_monitor]") {
  fixture f;
  auto probes = std::make_shared<std::atomic<int>>(0);
  auto fine = f.sys.spawn(
    answering(probes, [](int) -> caf::result<caf::ok_atom> {
      return caf::ok_atom::value;
    }));
  std::vector<test_child> xs{
    {worker("fine", idle_worker).health_check(readiness_check(1)), fine}};
  auto host = f.sys.spawn<monitor_host>(xs, caf::actor{f.probe});
  await_probes(*probes, 5);
  expect_no_report(f);
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fine, caf::exit_reason::user_shutdown);
}

TEST_CASE("a health monitor declares a child that stops answering hung "
          "after max_missed checks in a row",
          "[health_monitor]") {
  fixture f;
  auto probes = std::make_shared<std::atomic<int>>(0);
  // Answers the first probe it reads, then none (a promise never kept). On
  // a loaded machine even the first may come too late: the count of misses
  // in the report, not the probes read, is what the test checks.
  auto fading = f.sys.spawn([probes](caf::event_based_actor* self)
                              -> caf::behavior {
    return {[self, probes](readiness_atom) -> caf::result<caf::ok_atom> {
      if ((*probes)++ == 0)
        return caf::ok_atom::value;
      return self->make_response_promise<caf::ok_atom>();
    }};
  });
  std::vector<test_child> xs{
    {worker("fading", idle_worker).health_check(readiness_check(2, 50ms)),
     fading}};
  auto host = f.sys.spawn<monitor_host>(xs, caf::actor{f.probe});
  auto report = f.next_event();
  CHECK_THAT(report, Catch::StartsWith("unhealthy:fading trellis::errc::hung"));
  CHECK_THAT(report, Catch::Contains("no answer to 2 health checks of 50ms"));
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fading, caf::exit_reason::kill);
}

TEST_CASE("a health monitor declares a child that answers with errors "
          "unhealthy, naming the last error",
          "[health_monitor]") {
  fixture f;
  auto probes = std::make_shared<std::atomic<int>>(0);
  auto failing = f.sys.spawn(
    answering(probes, [](int) -> caf::result<caf::ok_atom> {
      return make_error(errc::overloaded, "queue", "full");
    }));
  std::vector<test_child> xs{
    {worker("failing", idle_worker).health_check(readiness_check(3)), failing}};
  auto host = f.sys.spawn<monitor_host>(xs, caf::actor{f.probe});
  auto report = f.next_event();
  CHECK_THAT(report,
             Catch::StartsWith("unhealthy:failing trellis::errc::unhealthy"));
  CHECK_THAT(report, Catch::Contains("failed 3 health checks"));
  CHECK_THAT(report, Catch::Contains("overloaded"));
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(failing, caf::exit_reason::user_shutdown);
}

TEST_CASE("a passed check starts the count of misses over",
          "[health_monitor]") {
  fixture f;
  auto probes = std::make_shared<std::atomic<int>>(0);
  // Every other probe fails: never two misses in a row.
  auto flaky = f.sys.spawn(
    answering(probes, [](int n) -> caf::result<caf::ok_atom> {
      if (n % 2 == 0)
        return make_error(errc::overloaded, "queue", "full");
      return caf::ok_atom::value;
    }));
  std::vector<test_child> xs{
    {worker("flaky", idle_worker).health_check(readiness_check(2)), flaky}};
  auto host = f.sys.spawn<monitor_host>(xs, caf::actor{f.probe});
  await_probes(*probes, 8);
  expect_no_report(f);
  caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(flaky, caf::exit_reason::user_shutdown);
}
