// Bad input, case by case: every invalid spec is refused before anything
// starts, naming the field; a factory that fails is a start error, not a
// crash; operations on a stopped supervisor, with an invalid handle, unknown
// ids or paths, or for the other kind of supervisor answer typed errors.

#include "test_support.hpp"
#include "trellis/io/remote.hpp"

#include <functional>
#include <atomic>
#include <filesystem>
#include <limits>
#include <utility>

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

caf::behavior echo(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

/// Returns the error of a helper's result, none if it succeeded.
template <class T>
caf::error error_of(caf::expected<T> res) {
  return res ? caf::error{} : std::move(res.error());
}

using named_errors = std::vector<std::pair<std::string, caf::error>>;

/// A fixture whose `counted` children count their starts, so that a test
/// can tell that a refused spec started nothing.
struct bad_input : fixture {
  std::shared_ptr<std::atomic<int>> starts
    = std::make_shared<std::atomic<int>>(0);

  child_spec counted(const std::string& id) {
    return worker(id, [n = starts](child_context& ctx) -> start_result {
      ++*n;
      return ctx.spawn(echo);
    });
  }

  /// Starts `root` with one child, `a`.
  caf::actor start_root() {
    return start(supervisor("root").child(counted("a")));
  }

  /// Requires an `errc::invalid_spec` rendered as
  /// `trellis::errc::invalid_spec: <field>, ...<ending>`.
  void require_invalid(const caf::error& err, const std::string& field,
                       const std::string& ending) {
    REQUIRE(is(err, errc::invalid_spec));
    CHECK_THAT(render(err),
               Catch::StartsWith("trellis::errc::invalid_spec: " + field + ", ")
                 && Catch::EndsWith(ending));
  }

  /// Requires that spawn_supervisor and start_supervisor both refuse `spec`
  /// and that no actor started.
  void refused(const supervisor_spec& spec, const std::string& field,
               const std::string& ending) {
    auto running = sys.registry().running();
    using launcher
      = std::function<caf::expected<caf::actor>(caf::actor_system&,
                                                const supervisor_spec&)>;
    launcher spawn = [](auto& s, auto& x) { return spawn_supervisor(s, x); };
    launcher start = [](auto& s, auto& x) { return start_supervisor(s, x); };
    for (auto& launch : {spawn, start}) {
      auto res = launch(sys, spec);
      REQUIRE_FALSE(res);
      require_invalid(res.error(), field, ending);
    }
    CHECK(*starts == 0);
    CHECK(sys.registry().running() == running);
  }

  /// Requires that `bad` is refused as a child of `flags` when the tree
  /// starts (the error then ends with the supervisor's path) and by
  /// `start_child` at runtime, and that neither started anything.
  void refused_child(const child_spec& bad, const std::string& field,
                     supervisor_spec flags = supervisor("root")) {
    auto named = bad.id().empty() ? std::string{}
                                  : "'" + bad.id() + "'";
    INFO("child " << named);
    auto tree = flags;
    refused(tree.child(counted("first")).child(bad), field, ", root");
    if (!named.empty())
      CHECK_THAT(render(start_supervisor(sys, tree).error()),
                 Catch::Contains(named));
    auto sup = start(flags.child(counted("first")));
    auto running = sys.registry().running();
    require_invalid(error_of(start_child(sys, sup, bad)), field, "");
    CHECK(*starts == 1);
    CHECK(children(sup).size() == 1);
    CHECK(sys.registry().running() == running);
    stop_supervisor(sys, sup);
  }

  /// Waits until no more actors run than `n`.
  void await_running(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (sys.registry().running() > n
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    CHECK(sys.registry().running() <= n);
  }

  /// Calls every blocking helper of `trellis/supervisor.hpp` that asks `sup`
  /// something, and `stable_handle` and `inject`, and returns their errors.
  named_errors every_helper(const caf::actor& sup) {
    auto spec = counted("x");
    return {
      {"start_child(spec)", error_of(start_child(sys, sup, spec))},
      {"start_child(args)",
       error_of(start_child(sys, sup, caf::make_message(1)))},
      {"terminate_child(id)", terminate_child(sys, sup, "a")},
      {"terminate_child(actor)", terminate_child(sys, sup, caf::actor{probe})},
      {"restart_child", error_of(restart_child(sys, sup, "a"))},
      {"delete_child", delete_child(sys, sup, "a")},
      {"which_children", error_of(which_children(sys, sup))},
      {"count_children", error_of(count_children(sys, sup))},
      {"get_childspec", error_of(get_childspec(sys, sup, "a"))},
      {"snapshot", error_of(snapshot(sys, sup))},
      {"lifecycle_events", error_of(lifecycle_events(sys, sup))},
      {"lookup", error_of(lookup(sys, sup, "root/a"))},
      {"dead_letters", error_of(dead_letters(sys, sup))},
      {"stable_handle", error_of(stable_handle(sys, sup, "root/a"))},
      {"inject", inject(sys, sup, fault{fault_kind::kill, "root/a"})},
    };
  }
};

/// A spec whose factory fails in one of the ways a factory can fail, with
/// the code and text its start error has.
struct failing_factory {
  const char* what;
  child_factory start;
  errc code;
  const char* text;
};

std::vector<failing_factory> failing_factories() {
  return {
    {"throws a std::exception",
     [](child_context&) -> start_result {
       throw std::runtime_error("no database");
     },
     errc::unhandled_exception, "std::runtime_error, no database"},
    {"throws something else",
     [](child_context&) -> start_result { throw 42; }, errc::unhandled_exception,
     "int, (not a std::exception)"},
    {"returns an error",
     [](child_context&) -> start_result {
       return make_error(errc::start_failed, "port in use");
     },
     errc::start_failed, "port in use"},
    {"returns an invalid handle",
     [](child_context&) -> start_result { return caf::actor{}; },
     errc::start_failed, "invalid actor handle"},
  };
}

} // namespace

// -- invalid supervisor specs -------------------------------------------------

TEST_CASE("bad input: invalid supervisor flags are refused before anything "
          "starts, naming the field",
          "[bad_input]") {
  bad_input f;
  auto root = [&](const std::string& id = "root") {
    return supervisor(id).child(f.counted("a"));
  };
  SECTION("empty id") {
    f.refused(root(""), "id", "must not be empty");
  }
  SECTION("id containing '/'") {
    f.refused(root("a/b"), "id", "'a/b' must not contain '/' (paths use it)");
  }
  SECTION("an integer cast to an enumeration") {
    // Every switch on it skipped it: the child stayed stopped, silently.
    f.refused(root().strategy(static_cast<strategy>(9)), "strategy",
              "supervisor 'root' has no strategy of trellis::strategy, root");
    f.refused(root().auto_shutdown(static_cast<auto_shutdown>(9)),
              "auto_shutdown",
              "supervisor 'root' has no mode of trellis::auto_shutdown, root");
    f.refused(supervisor("root").child(
                f.counted("x").restart(static_cast<restart>(9))),
              "restart",
              "child 'x' has no restart type of trellis::restart, root");
    f.refused(supervisor("root").child(
                f.counted("x").type(static_cast<child_type>(9))),
              "type", "child 'x' has no type of trellis::child_type, root");
  }
  SECTION("id containing a control character") {
    // Reports print ids as they are: a newline would forge a line.
    f.refused(root("a\nreport=forged"), "id",
              "must not contain control characters (reports print ids as "
              "they are, one event a line)");
    f.refused(supervisor("root").child(f.counted("x\ty")), "id",
              "must not contain control characters (reports print ids as "
              "they are, one event a line), root");
  }
  SECTION("negative intensity") {
    f.refused(root().intensity(-1), "intensity", "negative intensity, root");
  }
  SECTION("zero period") {
    f.refused(root().period(0s), "period", "positive period, root");
  }
  SECTION("negative period") {
    f.refused(root().period(-1s), "period", "positive period, root");
  }
  SECTION("negative kill_timeout") {
    f.refused(root().kill_timeout(-1ms), "kill_timeout",
              "needs a kill_timeout of 0 to 1 year, root");
  }
  SECTION("kill_timeout above a year") {
    // now + timespan::max() overflowed: a busy child was abandoned at once.
    f.refused(root().kill_timeout(caf::timespan::max()), "kill_timeout",
              "needs a kill_timeout of 0 to 1 year, root");
  }
  SECTION("max_children on a static supervisor") {
    f.refused(root().max_children(10), "max_children",
              "only dynamic supervisors have max_children, root");
  }
  SECTION("negative max_children") {
    // An int, so that -1 is refused rather than read as "no limit".
    f.refused(dynamic_supervisor("root", f.counted("a")).max_children(-1),
              "max_children", "negative max_children, root");
  }
  SECTION("a dynamic supervisor without a template") {
    f.refused(supervisor("root").strategy(strategy::simple_one_for_one),
              "children", "exactly one child spec, its template, root");
  }
  SECTION("a dynamic supervisor with two templates") {
    f.refused(dynamic_supervisor("root", f.counted("a")).child(f.counted("b")),
              "children", "exactly one child spec, its template, root");
  }
  SECTION("auto_shutdown on a dynamic supervisor") {
    f.refused(dynamic_supervisor("root", f.counted("a"))
                .auto_shutdown(auto_shutdown::any_significant),
              "auto_shutdown", "cannot shut down automatically, root");
  }
  SECTION("an invalid dynamic template") {
    f.refused(dynamic_supervisor("root", f.counted("a").start(nullptr)),
              "start", "child 'a' has no factory, root");
  }
}

TEST_CASE("bad input: a problem deep in a tree names its path", "[bad_input]") {
  bad_input f;
  auto tree = [&](supervisor_spec leaf) {
    return supervisor("root").child(f.counted("a")).child(
      supervisor("mid").child(f.counted("b")).child(std::move(leaf)));
  };
  SECTION("a nested supervisor's flags") {
    f.refused(tree(supervisor("leaf").intensity(-1)), "intensity",
              "supervisor 'leaf' has a negative intensity, root/mid/leaf");
  }
  SECTION("a child of a nested supervisor") {
    f.refused(tree(supervisor("leaf").child(f.counted("x").start(nullptr))),
              "start", "child 'x' has no factory, root/mid/leaf");
  }
  SECTION("duplicate ids in a nested supervisor") {
    f.refused(tree(supervisor("leaf").child(f.counted("x")).child(
                f.counted("x"))),
              "id", "two children with id 'x', root/mid/leaf");
  }
  SECTION("a nested supervisor's entry in its parent") {
    f.refused(tree(supervisor("leaf")).child(
                supervisor("late").as_child().shutdown(shutdown::timeout(-1s))),
              "shutdown", "child 'late' has a negative timeout, root");
  }
  SECTION("a significant child under a nested supervisor with auto_shutdown "
          "never") {
    f.refused(tree(supervisor("leaf").child(
                f.counted("x").restart(restart::transient).significant(true))),
              "significant", "auto_shutdown is never, root/mid/leaf");
  }
  SECTION("a nested supervisor started at runtime") {
    auto sup = f.start_root();
    auto bad = supervisor("mid").child(supervisor("leaf").period(0s));
    f.require_invalid(error_of(start_child(f.sys, sup, bad.as_child())),
                      "period", "needs a positive period, mid/leaf");
    CHECK(*f.starts == 1);
    stop_supervisor(f.sys, sup);
  }
}

TEST_CASE("bad input: a start that times out names start_supervisor",
          "[bad_input]") {
  // The start's request begins with get_atom: it was named "request".
  bad_input f;
  auto slow = worker("slow", [](child_context& ctx) -> start_result {
    std::this_thread::sleep_for(500ms);
    return ctx.spawn(echo);
  });
  auto res = start_supervisor(f.sys, supervisor("root").child(slow), 50ms);
  REQUIRE_FALSE(res);
  CHECK(is(res.error(), errc::timeout));
  CHECK_THAT(f.render(res.error()),
             Catch::StartsWith("trellis::errc::timeout: start_supervisor"));
}

TEST_CASE("bad input: a timeout of timespan::max() waits, rather than "
          "failing at once",
          "[bad_input]") {
  // Its deadline, now + timeout, overflowed: the call timed out at once.
  bad_input f;
  auto sup = f.start_root();
  constexpr auto forever = caf::timespan::max();
  CHECK(snapshot(f.sys, sup, forever));
  CHECK(count_children(f.sys, sup, forever));
  CHECK(which_children(f.sys, sup, forever));
  CHECK(!stop_supervisor(f.sys, sup, caf::exit_reason::user_shutdown,
                         forever));
}

TEST_CASE("bad input: a tree nested deeper than max_tree_depth is refused",
          "[bad_input]") {
  // Validated level by level, a tree thousands of levels deep ended the
  // stack (SIGSEGV) before any error could be returned.
  bad_input f;
  // Supervisors `s<from>` to `s<to - 1>`, each the only child of the one
  // before, with `a` at the bottom; `from` is the outermost.
  auto chain = [&](size_t from, size_t to) {
    auto spec = supervisor("s" + std::to_string(to - 1)).child(f.counted("a"));
    for (auto i = to - 1; i > from; --i)
      spec = supervisor("s" + std::to_string(i - 1)).child(std::move(spec));
    return spec;
  };
  auto too_deep = [&](const caf::error& err, const std::string& text) {
    REQUIRE(is(err, errc::invalid_spec));
    CHECK_THAT(f.render(err),
               Catch::StartsWith("trellis::errc::invalid_spec: depth, ")
                 && Catch::Contains(text + "; at most 100 are supported"));
  };
  too_deep(error_of(start_supervisor(f.sys, chain(0, 1'000))),
           "supervisor 's100' is nested 101 levels deep");
  too_deep(error_of(start_supervisor(f.sys, chain(0, 101))),
           "supervisor 's100' is nested 101 levels deep");
  CHECK(*f.starts == 0);
  // The deepest tree allowed starts; a subtree added at runtime counts from
  // the level it joins.
  auto root = start_supervisor(f.sys, chain(0, max_tree_depth));
  REQUIRE(root);
  CHECK(*f.starts == 1);
  auto top = f.start(supervisor("top").child(chain(1, 50)));
  auto deepest = top;
  for (size_t i = 1; i < 50; ++i)
    deepest = f.child(deepest, "s" + std::to_string(i)).actor;
  REQUIRE(deepest);
  CHECK(start_child(f.sys, deepest, chain(50, 100).as_child()));
  too_deep(error_of(start_child(f.sys, deepest, chain(50, 101).as_child())),
           "supervisor 's100' is nested 101 levels deep");
  stop_supervisor(f.sys, top);
  stop_supervisor(f.sys, *root);
}

TEST_CASE("bad input: a spec built 100,000 levels deep is refused, and "
          "goes without ending the stack",
          "[bad_input]") {
  // Released recursively, a few frames a level, such a spec overflowed
  // the stack when it went, refused or not.
  bad_input f;
  {
    auto spec = supervisor("s99999").child(f.counted("a"));
    for (size_t i = 99'999; i > 0; --i)
      spec = supervisor("s" + std::to_string(i - 1)).child(std::move(spec));
    auto copy = spec;
    auto res = start_supervisor(f.sys, spec);
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::invalid_spec));
  }
  CHECK(*f.starts == 0);
}

// -- invalid child specs ------------------------------------------------------

TEST_CASE("bad input: invalid child specs are refused at the start and by "
          "start_child, naming the field",
          "[bad_input]") {
  bad_input f;
  auto a = [&] { return f.counted("a"); };
  auto sub = [&] { return supervisor("sub").child(f.counted("x")).as_child(); };
  auto never = supervisor("root");
  auto any = supervisor("root").auto_shutdown(auto_shutdown::any_significant);
  auto nan = std::numeric_limits<double>::quiet_NaN();
  struct bad_child {
    const char* what;
    child_spec spec;
    const char* field;
    supervisor_spec flags;
  };
  std::vector<bad_child> cases{
    {"empty id", f.counted(""), "id", never},
    {"id containing '/'", f.counted("a/b"), "id", never},
    {"missing factory", a().start(nullptr), "start", never},
    {"negative shutdown timeout", a().shutdown(shutdown::timeout(-1ms)),
     "shutdown", never},
    // now + timespan::max() overflows: each took effect at once (a child
    // killed without its grace period, a healthy one declared hung).
    {"shutdown timeout above a year",
     a().shutdown(shutdown::timeout(caf::timespan::max())), "shutdown", never},
    {"health check with an interval above a year",
     a().health_check({caf::timespan::max(), 1s}), "health_check", never},
    {"health check with a timeout above a year",
     a().health_check({1s, caf::timespan::max()}), "health_check", never},
    {"health check with a zero interval", a().health_check({0s, 1s}),
     "health_check", never},
    {"health check with a negative interval", a().health_check({-1s, 1s}),
     "health_check", never},
    {"health check with a zero timeout", a().health_check({1s, 0s}),
     "health_check", never},
    {"health check with a negative timeout", a().health_check({1s, -1s}),
     "health_check", never},
    {"health check with max_missed 0", a().health_check({1s, 1s, 0}),
     "health_check", never},
    {"health check with a negative max_missed", a().health_check({1s, 1s, -1}),
     "health_check", never},
    {"readiness probe on a supervisor",
     sub().health_check(health_check{1s, 1s}.readiness()), "health_check",
     never},
    {"backoff with a zero min", a().backoff({0s, 1s}), "backoff", never},
    {"backoff with a negative min", a().backoff({-1s, 1s}), "backoff", never},
    {"backoff with max below min", a().backoff({2s, 1s}), "backoff", never},
    {"backoff with max above a year",
     a().backoff({1s, std::chrono::hours(9000)}), "backoff", never},
    {"backoff with a negative jitter", a().backoff({1s, 2s, -0.1}), "backoff",
     never},
    {"backoff with a jitter above 1", a().backoff({1s, 2s, 1.5}), "backoff",
     never},
    {"backoff with a NaN jitter", a().backoff({1s, 2s, nan}), "backoff", never},
    {"backoff with a negative reset_after",
     a().backoff(restart_backoff{1s, 2s}.reset_after(-1s)), "backoff", never},
    {"quarantine_after on a supervisor", sub().quarantine_after(1),
     "quarantine_after", never},
    {"a negative quarantine_after", a().quarantine_after(-1),
     "quarantine_after", never},
    {"a significant permanent child", a().significant(true), "significant",
     any},
    {"a significant transient child under auto_shutdown never",
     a().restart(restart::transient).significant(true), "significant", never},
    {"a significant temporary child under auto_shutdown never",
     a().restart(restart::temporary).significant(true), "significant", never},
    {"a remote child without nodes", remote_worker("a", "pinger"), "nodes",
     never},
    {"a remote child with an empty list of nodes",
     remote_worker("a", "pinger").nodes({}), "nodes", never},
    {"a node address without a port",
     remote_worker("a", "pinger").nodes({"127.0.0.1:4000", "nohost"}),
     "nodes[1]", never},
    {"a node address with a port out of range",
     remote_worker("a", "pinger").nodes({"127.0.0.1:70000"}), "nodes[0]",
     never},
    {"a node address without a host",
     remote_worker("a", "pinger").nodes({":4000"}), "nodes[0]", never},
    {"a remote child with an empty type name",
     remote_worker("a", "").nodes({"127.0.0.1:4000"}), "remote_type",
     never},
    {"nodes for a local child", a().nodes({"127.0.0.1:4000"}),
     "remote_type", never},
  };
  for (auto& x : cases)
    DYNAMIC_SECTION(x.what) {
      f.refused_child(x.spec, x.field, x.flags);
    }
}

TEST_CASE("bad input: duplicate ids are refused", "[bad_input]") {
  bad_input f;
  SECTION("in a spec") {
    f.refused(supervisor("root").child(f.counted("a")).child(f.counted("a")),
              "id", "two children with id 'a', root");
    CHECK(is(check_childspecs({f.counted("a"), f.counted("a")}),
             errc::invalid_spec));
  }
  SECTION("at runtime") {
    auto sup = f.start_root();
    auto res = start_child(f.sys, sup, f.counted("a"));
    CHECK(is(error_of(res), errc::already_started));
    REQUIRE_FALSE(terminate_child(f.sys, sup, "a"));
    res = start_child(f.sys, sup, f.counted("a"));
    CHECK(is(error_of(res), errc::already_present));
    CHECK_THAT(f.render(error_of(res)),
               Catch::Equals("trellis::errc::already_present: root, a"));
    CHECK(*f.starts == 1);
    stop_supervisor(f.sys, sup);
  }
}

// -- factories that fail ------------------------------------------------------

TEST_CASE("bad input: a factory that fails is a start error, not a crash",
          "[bad_input]") {
  bad_input f;
  auto baseline = f.sys.registry().running();
  for (auto& bad : failing_factories()) {
    INFO("a factory that " << bad.what);
    auto b = worker("b", bad.start);
    // At the start: the supervisor undoes what started and names the child.
    auto res = start_supervisor(f.sys, supervisor("root")
                                         .child(f.counted("a"))
                                         .child(b)
                                         .child(f.counted("c")));
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::failed_to_start_child));
    CHECK_THAT(f.render(res.error()),
               Catch::StartsWith("trellis::errc::failed_to_start_child: b, ")
                 && Catch::Contains(bad.text));
    f.await_running(baseline);
    // At runtime: start_child returns the start error and drops the spec.
    auto sup = f.start_root();
    auto err = error_of(start_child(f.sys, sup, b));
    CHECK(is(err, bad.code));
    CHECK_THAT(f.render(err), Catch::Contains(bad.text));
    CHECK(f.children(sup).size() == 1);
    CHECK(is(error_of(get_childspec(f.sys, sup, "b")), errc::not_found));
    // A dynamic supervisor's template.
    auto dyn = f.start(dynamic_supervisor("dyn", b));
    err = error_of(start_child(f.sys, dyn, caf::make_message()));
    CHECK(is(err, bad.code));
    CHECK(f.children(dyn).empty());
    // Both supervisors still run and answer.
    CHECK(count_children(f.sys, sup));
    CHECK(count_children(f.sys, dyn));
    stop_supervisor(f.sys, dyn);
    stop_supervisor(f.sys, sup);
  }
  // `a` started once per case and `c` never.
  CHECK(*f.starts == 2 * static_cast<int>(failing_factories().size()));
}

TEST_CASE("bad input: a factory that returns an actor the supervisor has "
          "already is refused, and the supervisor goes on",
          "[bad_input]") {
  // Bound a second time, a sibling's actor hid the first binding and its
  // start never completed: every later operation waited behind it.
  bad_input f;
  auto sup = f.start_root();
  auto a = f.child(sup, "a").actor;
  REQUIRE(a);
  struct adopted {
    const char* what;
    std::function<caf::actor(child_context&)> pick;
    child_type type;
    const char* text;
  };
  std::vector<adopted> cases{
    {"a sibling's actor", [a](child_context&) { return a; },
     child_type::worker, "the actor of child 'a'"},
    {"its own supervisor", [](child_context& ctx) { return ctx.supervisor(); },
     child_type::worker, "its own supervisor"},
    {"its own supervisor, declared a supervisor",
     [](child_context& ctx) { return ctx.supervisor(); },
     child_type::supervisor, "its own supervisor"},
  };
  for (auto& x : cases) {
    INFO("a factory that returns " << x.what);
    auto b = worker("b", [pick = x.pick](child_context& ctx) -> start_result {
               return pick(ctx);
             }).type(x.type);
    auto err = error_of(start_child(f.sys, sup, b));
    CHECK(is(err, errc::start_failed));
    CHECK_THAT(f.render(err), Catch::Contains(x.text)
                                && Catch::Contains("an actor of its own"));
    // Nothing was bound or killed: `a` runs as before, and the supervisor
    // answers the next operation at once.
    CHECK(f.children(sup).size() == 1);
    CHECK(f.child(sup, "a").actor == a);
    CHECK_FALSE(terminate_child(f.sys, sup, "a"));
    REQUIRE(restart_child(f.sys, sup, "a"));
    a = f.child(sup, "a").actor;
    REQUIRE(a);
  }
  // The supervisor of its supervisor: `mid` fails to start, naming why, and
  // `sup` goes on.
  auto mid = supervisor("mid").child(
    worker("up", [sup](child_context&) -> start_result { return sup; }));
  auto err = error_of(start_child(f.sys, sup, mid.as_child()));
  CHECK(is(err, errc::failed_to_start_child));
  CHECK_THAT(f.render(err), Catch::Contains("the supervisor of its supervisor"));
  CHECK(f.children(sup).size() == 1);
  CHECK(f.child(sup, "a").actor == a);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("bad input: a factory that returns a blocking actor it spawned "
          "itself, or an actor of another actor system, is refused at once",
          "[bad_input]") {
  bad_input f;
  auto sup = f.start_root();
  auto check_refused = [&](const child_spec& spec, const char* text) {
    auto t0 = std::chrono::steady_clock::now();
    auto err = error_of(start_child(f.sys, sup, spec));
    CHECK(is(err, errc::start_failed));
    CHECK_THAT(f.render(err), Catch::Contains(text));
    // Refused, not timed out: the helper waits 30 s for an answer.
    CHECK(std::chrono::steady_clock::now() - t0 < default_timeout);
    CHECK(f.children(sup).size() == 1);
  };
  SECTION("a blocking actor") {
    // Its start waited for an answer its receive loop kept from coming, the
    // helper timed out, and the actor held its thread past the tree's end.
    auto spawned = std::make_shared<caf::actor>();
    auto b = worker("b", [spawned](child_context& ctx) -> start_result {
      *spawned = ctx.system().spawn([](caf::blocking_actor* self) {
        bool running = true;
        self->receive_while(running)([](int32_t) {},
                                     [&](caf::exit_msg&) { running = false; });
      });
      return *spawned;
    });
    check_refused(b, "a blocking actor that its child_context did not spawn");
    // Told to end, as it was made for the child (a blocking actor ends on
    // an exit message only if its receive loop takes one).
    REQUIRE(*spawned);
    f.probe->monitor(*spawned);
    receive_or_fail(f.probe, "the blocking actor's end",
                    [](caf::down_msg&) {});
  }
  SECTION("an actor of another actor system") {
    // Adopted, it kept that system's destructor waiting for ever.
    caf::actor_system_config cfg;
    caf::actor_system other{cfg};
    auto foreign = other.spawn(echo);
    auto b = worker("b", [foreign](child_context&) -> start_result {
      return foreign;
    });
    check_refused(b, "an actor of another actor_system");
    // Not killed: it is that system's.
    caf::scoped_actor self{other};
    self->request(foreign, patience, int32_t{7})
      .receive([](int32_t x) { CHECK(x == 7); },
               [&](caf::error& err) { FAIL(other.render(err)); });
    caf::anon_send_exit(foreign, caf::exit_reason::user_shutdown);
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("bad input: a factory that answers ignore starts nothing, without "
          "an error",
          "[bad_input]") {
  bad_input f;
  auto ignoring = worker("i", [](child_context&) -> start_result {
    return ignore;
  });
  auto sup = f.start(supervisor("root").child(ignoring));
  CHECK(f.child(sup, "i").state == child_state::stopped);
  auto res = start_child(f.sys, sup, ignoring.id("j"));
  REQUIRE(res);
  CHECK_FALSE(*res);
  CHECK(f.child(sup, "j").state == child_state::stopped);
  auto dyn = f.start(dynamic_supervisor("dyn", ignoring));
  res = start_child(f.sys, dyn, caf::make_message());
  REQUIRE(res);
  CHECK_FALSE(*res);
  CHECK(f.children(dyn).empty());
  stop_supervisor(f.sys, dyn);
  stop_supervisor(f.sys, sup);
}

// -- operations that cannot apply ---------------------------------------------

TEST_CASE("bad input: every helper on a stopped supervisor answers at once",
          "[bad_input]") {
  bad_input f;
  auto sup = f.start_root();
  CHECK(stop_and_await(f.sys, sup) == caf::exit_reason::user_shutdown);
  // A request to an actor that is gone fails at once, as from an actor.
  for (auto& [name, err] : f.every_helper(sup)) {
    INFO(name);
    CHECK(err == caf::sec::request_receiver_down);
  }
  // Stopping again succeeds, as terminating a stopped child does; waiting
  // returns how it ended, whatever reason the later stops gave.
  CHECK(stop_supervisor(f.sys, sup) == caf::none);
  CHECK(stop_supervisor(f.sys, sup, caf::exit_reason::kill) == caf::none);
  CHECK(await_exit(f.sys, sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE("bad input: every helper refuses an invalid supervisor handle",
          "[bad_input]") {
  bad_input f;
  auto named_null = named_errors{
    {"stop_supervisor", stop_supervisor(f.sys, caf::actor{})},
    {"await_exit", await_exit(f.sys, caf::actor{})},
  };
  for (auto& x : f.every_helper(caf::actor{}))
    named_null.push_back(std::move(x));
  for (auto& [name, err] : named_null) {
    INFO(name);
    CHECK(is(err, errc::not_found));
    CHECK_THAT(f.render(err), Catch::Contains("invalid supervisor handle"));
  }
}

TEST_CASE("bad input: unknown ids are not found", "[bad_input]") {
  bad_input f;
  auto sup = f.start_root();
  auto expect = "trellis::errc::not_found: root, nope";
  CHECK(f.render(terminate_child(f.sys, sup, "nope")) == expect);
  CHECK(f.render(error_of(restart_child(f.sys, sup, "nope"))) == expect);
  CHECK(f.render(delete_child(f.sys, sup, "nope")) == expect);
  CHECK(f.render(error_of(get_childspec(f.sys, sup, "nope"))) == expect);
  // An actor that is no child of it, and an invalid one.
  CHECK(is(terminate_child(f.sys, sup, caf::actor{f.probe}), errc::not_found));
  CHECK(is(terminate_child(f.sys, sup, caf::actor{}), errc::not_found));
  // Arming a start fault for an unknown child.
  CHECK(f.render(inject(f.sys, sup, fault{fault_kind::start_failure,
                                          "root/nope"}))
        == expect);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("bad input: unknown paths are not found, naming the path",
          "[bad_input]") {
  bad_input f;
  auto sup = f.start(
    supervisor("root").child(f.counted("a")).child(
      supervisor("sub").child(f.counted("b")).child(
        f.counted("idle").restart(restart::transient))));
  auto sub = lookup(f.sys, sup, "root/sub");
  REQUIRE(sub);
  REQUIRE_FALSE(terminate_child(f.sys, *sub, "idle"));
  auto not_found = [&](const std::string& path, const std::string& why) {
    INFO(path);
    auto expect = "trellis::errc::not_found: " + path + ", " + why;
    CHECK(f.render(error_of(lookup(f.sys, sup, path))) == expect);
    CHECK(f.render(error_of(stable_handle(f.sys, sup, path))) == expect);
    CHECK(f.render(inject(f.sys, sup, fault{fault_kind::kill, path}))
          == expect);
    CHECK(f.render(inject(f.sys, sup, fault{fault_kind::exception, path}))
          == expect);
  };
  not_found("root/nope", "no child nope");
  not_found("other/a", "not under root");
  not_found("", "not under root");
  not_found("root/a/x", "a is a worker");
  not_found("root/sub/nope", "no child nope");
  not_found("root/sub/idle", "child idle is stopped");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("bad input: operations for the other kind of supervisor are not "
          "supported",
          "[bad_input]") {
  bad_input f;
  auto sup = f.start_root();
  auto dyn = f.start(dynamic_supervisor("dyn", f.counted("w")));
  REQUIRE(start_child(f.sys, dyn, caf::make_message()));
  auto not_supported = [&](const caf::error& err, const std::string& text) {
    CHECK(is(err, errc::not_supported));
    CHECK_THAT(f.render(err), Catch::Contains(text));
  };
  not_supported(error_of(start_child(f.sys, sup, caf::make_message(1))),
                "start_child with arguments needs a dynamic supervisor");
  not_supported(error_of(start_child(f.sys, dyn, f.counted("x"))),
                "start_child with a child spec does not apply");
  not_supported(error_of(restart_child(f.sys, dyn, "w#1")),
                "restart_child does not apply");
  not_supported(delete_child(f.sys, dyn, "w#1"), "delete_child does not apply");
  // A supervisor arms only start faults.
  caf::error armed;
  f.probe
    ->request(sup, patience, fault_atom::value, fault_kind::kill,
              std::string{"a"}, caf::timespan{0})
    .receive([](caf::ok_atom) {}, [&](caf::error& err) { armed = err; });
  not_supported(armed, "a supervisor arms only start faults");
  CHECK(f.children(dyn).size() == 1);
  stop_supervisor(f.sys, dyn);
  stop_supervisor(f.sys, sup);
}

// -- recovery helpers ---------------------------------------------------------

TEST_CASE("bad input: a stable handle needs room for a message",
          "[bad_input]") {
  bad_input f;
  auto sup = f.start_root();
  auto running = f.sys.registry().running();
  auto res = stable_handle(f.sys, sup, "root/a", 0);
  REQUIRE_FALSE(res);
  f.require_invalid(res.error(), "buffer", "at least one message");
  CHECK(f.sys.registry().running() == running);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("bad input: a checkpoint store that cannot write says so",
          "[bad_input]") {
  // Not even root may create directories in /proc.
  auto store = make_file_checkpoint_store("/proc/trellis-bad-input/ckpt");
  auto err = store->save("root/a", "data");
  CHECK(is(err, errc::checkpoint_failed));
  CHECK_FALSE(std::filesystem::exists("/proc/trellis-bad-input"));
}

TEST_CASE("asking an empty error for a code answers no", "[bad_input]") {
  CHECK(!is(caf::error{}, errc::not_found));
  CHECK(is(make_error(errc::not_found), errc::not_found));
  CHECK(!is(caf::error{caf::sec::runtime_error}, errc::not_found));
}

TEST_CASE("bad input: a remote child in a program that is no node fails to "
          "start, naming configure_node",
          "[bad_input]") {
  // This test program links no distribution and never configures a node.
  fixture f;
  auto sup = start_supervisor(
    f.sys, supervisor("root").child(
             remote_worker("r", "pinger").nodes({"127.0.0.1:1"})));
  REQUIRE_FALSE(sup);
  CHECK(is(cause_of(sup.error()), errc::start_failed));
  CHECK_THAT(f.render(sup.error()),
             Catch::Contains("not_configured")
               && Catch::Contains("trellis::configure_node"));
}
