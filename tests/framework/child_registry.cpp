#include <catch2/catch.hpp>

#include "test_support.hpp"
#include "child_registry.hpp"

using namespace trellis;

namespace {

child_spec dummy(const std::string& id) {
  return worker(id, [](child_context&) -> start_result { return ignore; });
}

caf::behavior idle() {
  return {[](int) {}};
}

} // namespace

TEST_CASE("a child registry keeps start order and finds by id and address",
          "[child_registry]") {
  test::test_config cfg;
  caf::actor_system sys{cfg};
  detail::child_registry reg;
  auto a = reg.add(dummy("a"));
  auto b = reg.add(dummy("b"));
  auto c = reg.add(dummy("c"));
  REQUIRE(reg.size() == 3);
  SECTION("iteration follows start order") {
    std::vector<std::string> ids;
    for (auto& x : reg)
      ids.push_back(x.spec.id());
    CHECK(ids == std::vector<std::string>{"a", "b", "c"});
  }
  SECTION("look-up by id") {
    CHECK(reg.find("b") == b);
    CHECK(reg.find("zzz") == reg.end());
  }
  SECTION("look-up by address follows binding") {
    auto x = sys.spawn(idle);
    auto y = sys.spawn(idle);
    reg.bind(a, x);
    CHECK(reg.find(x.address()) == a);
    reg.bind(a, y);
    CHECK(reg.find(x.address()) == reg.end());
    CHECK(reg.find(y.address()) == a);
    reg.unbind(a);
    CHECK(reg.find(y.address()) == reg.end());
    CHECK(!a->handle);
    caf::anon_send_exit(x, caf::exit_reason::kill);
    caf::anon_send_exit(y, caf::exit_reason::kill);
  }
  SECTION("erasing keeps the others valid") {
    auto x = sys.spawn(idle);
    reg.bind(b, x);
    reg.erase(b);
    CHECK(reg.size() == 2);
    CHECK(reg.find("b") == reg.end());
    CHECK(reg.find(x.address()) == reg.end());
    CHECK(std::next(a) == c);
    caf::anon_send_exit(x, caf::exit_reason::kill);
  }
}

TEST_CASE("a child's start and stop state live only while pending",
          "[child_registry]") {
  detail::child_registry reg{"/sup/"};
  auto a = reg.add(dummy("a"));
  // A child that uses nothing optional carries none of it.
  CHECK(a->extras == nullptr);
  CHECK(a->start == nullptr);
  CHECK(a->stop == nullptr);
  CHECK(a->node().empty());
  CHECK(a->due_token() == 0);
  auto ran = 0;
  auto& st = reg.begin_start(*a);
  st.token = 7;
  st.k = [&ran](caf::error) { ++ran; };
  CHECK(&reg.begin_start(*a) == &st);
  reg.begin_stop(*a).killed = true;
  REQUIRE(a->start != nullptr);
  CHECK(a->start->token == 7);
  REQUIRE(a->stop != nullptr);
  CHECK(a->stop->killed);
  a->start->k(caf::none);
  CHECK(ran == 1);
  reg.end_start(*a);
  CHECK(a->start == nullptr);
  reg.end_start(*a);
  SECTION("a stop in flight goes with its child") {
    reg.erase(a);
    CHECK(reg.empty());
  }
  SECTION("a start begun afresh has no token and no continuation") {
    reg.end_stop(*a);
    CHECK(a->stop == nullptr);
    auto b = reg.add(dummy("b"));
    CHECK(reg.begin_start(*b).token == 0);
    CHECK(!b->start->k);
  }
  // The registry frees what is still pending when it goes (the sanitizer
  // build finds a leak otherwise).
}

TEST_CASE("a child registry stays consistent while children come and go",
          "[child_registry]") {
  // Children and index entries reuse the pool's memory of those erased
  // before them; ids are index keys that view the child's own id.
  test::test_config cfg;
  caf::actor_system sys{cfg};
  detail::child_registry reg{"/sup/"};
  std::vector<caf::actor> actors;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 200; ++i)
      reg.add(dummy("c" + std::to_string(round) + "-" + std::to_string(i)));
    // Erase every other child of this round, bind the rest.
    for (int i = 0; i < 200; ++i) {
      auto id = "c" + std::to_string(round) + "-" + std::to_string(i);
      auto c = reg.find(id);
      REQUIRE(c != reg.end());
      CHECK(reg.path_of(*c) == "/sup/" + id);
      if (i % 2 == 0) {
        reg.erase(c);
      } else {
        actors.push_back(sys.spawn(idle));
        reg.bind(c, actors.back());
      }
    }
  }
  CHECK(reg.size() == 300);
  size_t running = 0;
  reg.for_each_running([&](detail::child& c) {
    CHECK(c.handle);
    ++running;
  });
  CHECK(running == actors.size());
  for (auto& x : actors) {
    auto c = reg.find(x.address());
    REQUIRE(c != reg.end());
    CHECK(reg.find(c->spec.id()) == c);
    reg.unbind(c);
    CHECK(reg.find(x.address()) == reg.end());
  }
  running = 0;
  reg.for_each_running([&](detail::child&) { ++running; });
  CHECK(running == 0);
  CHECK(reg.find("c0-0") == reg.end());
  CHECK(reg.find("c2-199") != reg.end());
  reg.clear();
  CHECK(reg.empty());
  CHECK(reg.find("c2-199") == reg.end());
  for (auto& x : actors)
    caf::anon_send_exit(x, caf::exit_reason::kill);
}

TEST_CASE("a child registry indexes ids on the first look-up by id",
          "[child_registry]") {
  // Children come and go unindexed until an id is looked up; from then on
  // the index follows every add and erase.
  detail::child_registry reg{"/sup/"};
  std::vector<detail::child_registry::iterator> xs;
  for (int i = 0; i < 100; ++i)
    xs.push_back(reg.add(dummy("c" + std::to_string(i))));
  for (int i = 0; i < 100; i += 3)
    reg.erase(xs[static_cast<size_t>(i)]);
  for (int i = 0; i < 100; ++i) {
    auto c = reg.find("c" + std::to_string(i));
    if (i % 3 == 0) {
      CHECK(c == reg.end());
    } else {
      REQUIRE(c != reg.end());
      CHECK(c == xs[static_cast<size_t>(i)]);
    }
  }
  auto late = reg.add(dummy("late"));
  CHECK(reg.find("late") == late);
  reg.erase(xs[1]);
  CHECK(reg.find("c1") == reg.end());
  CHECK(reg.find("c2") == xs[2]);
}
