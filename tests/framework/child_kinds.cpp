// Every kind of CAF actor can be a child (event-based, typed, class-based,
// stateful, blocking), or is refused by name; and a blocking helper called
// from inside the tree it would block fails at once (OTP's calling_self).

#include "test_support.hpp"
#include "trellis/detail/member_class.hpp"
#include "trellis/detail/running_tree.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

using calc = caf::typed_actor<caf::replies_to<int>::with<int>,
                              caf::reacts_to<crash_atom>>;

calc::behavior_type typed_worker(calc::pointer) {
  return {
    [](int x) { return x; },
    [](crash_atom) { throw std::runtime_error("typed crash"); },
  };
}

class class_worker : public caf::event_based_actor {
public:
  explicit class_worker(caf::actor_config& cfg) : caf::event_based_actor(cfg) {
    // nop
  }

  caf::behavior make_behavior() override {
    return {
      [](int x) { return x; },
      [](crash_atom) -> int { throw std::runtime_error("class crash"); },
    };
  }
};

struct counter_state {
  int count = 0;
  static inline const char* name = "counter";
};

caf::behavior stateful_worker(caf::stateful_actor<counter_state>* self) {
  return {
    [self](int x) { return x + self->state.count++ * 0; },
    [](crash_atom) -> int { throw std::runtime_error("stateful crash"); },
  };
}

void blocking_worker(caf::blocking_actor* self) {
  bool running = true;
  self->receive_while(running)(
    [](int x) { return x; },
    [](crash_atom) -> int { throw std::runtime_error("blocking crash"); });
}

class blocking_class : public caf::blocking_actor {
public:
  explicit blocking_class(caf::actor_config& cfg) : caf::blocking_actor(cfg) {
    // nop
  }

  void act() override {
    blocking_worker(this);
  }
};

struct kinds : fixture {
  /// Starts `spec` alone under a root, checks that it answers and that
  /// Trellis finds its place in the tree (and, for an event-based kind, its
  /// `sys` control), crashes it, checks that its replacement answers, and
  /// stops the tree.
  void exercise(child_spec spec, bool event_based = true) {
    auto id = spec.id();
    auto root = start(supervisor("root").intensity(5).period(30s).child(
      std::move(spec)));
    auto first = actor_of(root, id);
    REQUIRE(first);
    auto ptr = caf::actor_cast<caf::abstract_actor*>(first);
    auto member = detail::tree_member_of(ptr);
    REQUIRE(member != nullptr);
    CHECK(member->path() == "root/" + id);
    CHECK(detail::inspectable(ptr) == event_based);
    CHECK(ask(first, 7) == 7);
    probe->send(first, crash_atom::value);
    auto second = await_replaced(root, id, first);
    REQUIRE(second);
    CHECK(ask(second, 8) == 8);
    auto info = child(root, id);
    CHECK(info.restart_count == 1);
    CHECK(info.last_exit_reason.find("crash") != std::string::npos);
    CHECK(is(stop_and_await(sys, root), caf::exit_reason::user_shutdown));
  }

  int ask(const caf::actor& who, int x) {
    int result = -1;
    probe->request(who, patience, x)
      .receive([&](int y) { result = y; },
               [&](caf::error& err) { FAIL("no answer: " << render(err)); });
    return result;
  }
};

} // namespace

TEST_CASE_METHOD(kinds, "every kind of CAF actor starts, restarts and stops "
                        "as a child",
                 "[child_kinds]") {
  SECTION("event-based function") {
    exercise(worker("event", [](caf::event_based_actor*) -> caf::behavior {
      return {
        [](int x) { return x; },
        [](crash_atom) -> int { throw std::runtime_error("event crash"); },
      };
    }));
  }
  SECTION("typed") {
    exercise(worker("typed", typed_worker));
  }
  SECTION("class-based") {
    exercise(worker<class_worker>("class"));
  }
  SECTION("stateful") {
    exercise(worker("stateful", stateful_worker));
  }
  SECTION("blocking function") {
    exercise(worker("blocking", blocking_worker), false);
  }
  SECTION("blocking class") {
    exercise(worker<blocking_class>("blocking_class"), false);
  }
}

TEST_CASE_METHOD(kinds, "Trellis finds a supervisor's place in its tree, and "
                        "no place for an actor it did not make",
                 "[child_kinds]") {
  auto root = start(supervisor("root").child(
    worker("w", [](caf::event_based_actor*) -> caf::behavior {
      return {[](int x) { return x; }};
    })));
  auto sup = caf::actor_cast<caf::abstract_actor*>(root);
  auto member = detail::tree_member_of(sup);
  REQUIRE(member != nullptr);
  CHECK(member->path() == "root");
  CHECK_FALSE(detail::inspectable(sup));
  auto plain = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  CHECK(detail::tree_member_of(caf::actor_cast<caf::abstract_actor*>(plain))
        == nullptr);
  CHECK_FALSE(detail::inspectable(caf::actor_cast<caf::abstract_actor*>(plain)));
  CHECK(detail::tree_member_of(nullptr) == nullptr);
  caf::anon_send_exit(plain, caf::exit_reason::user_shutdown);
  CHECK(is(stop_and_await(sys, root), caf::exit_reason::user_shutdown));
}

TEST_CASE_METHOD(kinds, "a worker declared as a supervisor fails its start "
                        "by name",
                 "[child_kinds]") {
  auto res = start_supervisor(
    sys, supervisor("root").child(
           worker("fake", [](caf::event_based_actor*) -> caf::behavior {
             return {[](int x) { return x; }};
           }).type(child_type::supervisor)));
  REQUIRE_FALSE(res);
  auto text = render(res.error());
  INFO(text);
  CHECK(is(res.error(), errc::failed_to_start_child));
  CHECK(text.find("fake") != std::string::npos);
  CHECK(text.find("not a Trellis supervisor") != std::string::npos);
}

TEST_CASE_METHOD(kinds, "a blocking call from inside the tree it asks fails "
                        "at once with calling_self",
                 "[child_kinds][calling_self]") {
  auto seen = std::make_shared<std::vector<caf::error>>();
  SECTION("from a child's factory, on its own tree") {
    auto tree = supervisor("root")
                  .child(probed("a"))
                  .child(worker("b", [seen](child_context& ctx) -> start_result {
                    auto& s = ctx.system();
                    seen->push_back(
                      lookup(s, ctx.supervisor(), "root/a").error());
                    seen->push_back(
                      stable_handle(s, ctx.supervisor(), "root/a").error());
                    seen->push_back(
                      which_children(s, ctx.supervisor()).error());
                    return ctx.spawn([](caf::event_based_actor*) {
                      return caf::behavior{[](int x) { return x; }};
                    });
                  }));
    auto root = start(tree);
    REQUIRE(seen->size() == 3);
    for (auto& err : *seen) {
      INFO(render(err));
      CHECK(is(err, errc::calling_self));
    }
    CHECK(is(stop_and_await(sys, root), caf::exit_reason::user_shutdown));
  }
  SECTION("from a child's handler, terminating itself") {
    auto tree = supervisor("root").child(
      worker("self_stopper", [seen](caf::event_based_actor*,
                                    caf::actor_system* s) -> caf::behavior {
        return {[=](caf::actor& sup) {
          seen->push_back(terminate_child(*s, sup, "self_stopper"));
          seen->push_back(stop_supervisor(*s, sup));
          return static_cast<int>(seen->size());
        }};
      }, &sys));
    auto root = start(tree);
    auto child_actor = actor_of(root, "self_stopper");
    int n = 0;
    probe->request(child_actor, patience, root)
      .receive([&](int x) { n = x; },
               [&](caf::error& err) { FAIL(render(err)); });
    REQUIRE(n == 2);
    for (auto& err : *seen) {
      INFO(render(err));
      CHECK(is(err, errc::calling_self));
    }
    // The child still runs: nothing waited for it.
    CHECK(child(root, "self_stopper").state == child_state::running);
    CHECK(is(stop_and_await(sys, root), caf::exit_reason::user_shutdown));
  }
  SECTION("from outside the tree the same calls work") {
    auto root = start(supervisor("root").child(probed("a")));
    CHECK(lookup(sys, root, "root/a"));
    CHECK(which_children(sys, root));
    CHECK(is(stop_and_await(sys, root), caf::exit_reason::user_shutdown));
  }
}

TEST_CASE_METHOD(kinds, "a blocking call that gets no answer in time fails "
                        "with a timeout naming the call",
                 "[calling_self]") {
  // A scoped actor never answers requests: as a supervisor that hangs.
  caf::scoped_actor silent{sys};
  auto res = which_children(sys, caf::actor{silent}, 200ms);
  REQUIRE_FALSE(res);
  CHECK(is(res.error(), errc::timeout));
  CHECK(render(res.error()).find("which_children") != std::string::npos);
}
