#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

TEST_CASE("an exception in a child's handler is that child's failure alone",
          "[crash]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(5)
                       .child(f.probed("a"))
                       .child(f.probed("b")));
  f.next_events(2);
  auto b = f.actor_of(sup, "b");
  f.crash(sup, "a");
  CHECK(f.next_events(2) == std::vector<std::string>{"stopped:a", "started:a"});
  // The sibling never noticed and still answers.
  int answer = 0;
  f.probe->request(b, patience, 42).receive([&](int x) { answer = x; },
                                            [](caf::error&) {});
  CHECK(answer == 42);
  CHECK(f.actor_of(sup, "b") == b);
  CHECK_THAT(f.child(sup, "a").last_exit_reason,
             Catch::Equals("trellis::errc::unhandled_exception: "
                           "std::runtime_error, boom from a"));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("crash reasons name the exception's type", "[crash]") {
  fixture f;
  SECTION("a std::exception") {
    auto reason = crash_reason(
      std::make_exception_ptr(std::out_of_range("index 7")));
    CHECK(f.render(reason)
          == "trellis::errc::unhandled_exception: std::out_of_range, index 7");
  }
  SECTION("anything else") {
    auto reason = crash_reason(std::make_exception_ptr(42));
    CHECK(f.render(reason)
          == "trellis::errc::unhandled_exception: int, (not a std::exception)");
  }
  SECTION("the same type again, then another (names are cached per type)") {
    for (int i = 0; i < 3; ++i) {
      CHECK(f.render(crash_reason(std::make_exception_ptr(
              std::out_of_range("again"))))
            == "trellis::errc::unhandled_exception: std::out_of_range, again");
      CHECK(f.render(crash_reason(std::make_exception_ptr(
              std::invalid_argument("other"))))
            == "trellis::errc::unhandled_exception: std::invalid_argument, "
               "other");
    }
  }
}

TEST_CASE("the crash handler is installed in class-based and stateful actors",
          "[crash]") {
  fixture f;
  struct counter_state {
    int n = 0;
  };
  struct impl : caf::event_based_actor {
    using caf::event_based_actor::event_based_actor;
    caf::behavior make_behavior() override {
      return {[](crash_atom) -> int { throw std::invalid_argument("class"); }};
    }
  };
  auto stateful = [](caf::stateful_actor<counter_state>* self) -> caf::behavior {
    return {[self](crash_atom) -> int {
      throw std::domain_error("state " + std::to_string(self->state.n));
    }};
  };
  auto sup = f.start(supervisor("root").intensity(5)
                       .child(worker<impl>("class_based"))
                       .child(worker("stateful", stateful)));
  for (auto id : {"class_based", "stateful"}) {
    auto old = f.actor_of(sup, id);
    f.probe->send(old, crash_atom::value);
    f.await_replaced(sup, id, old);
  }
  CHECK_THAT(f.child(sup, "class_based").last_exit_reason,
             Catch::Contains("std::invalid_argument, class"));
  CHECK_THAT(f.child(sup, "stateful").last_exit_reason,
             Catch::Contains("std::domain_error, state 0"));
  stop_supervisor(f.sys, sup);
}
