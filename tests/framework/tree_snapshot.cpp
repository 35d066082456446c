#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

namespace {

/// root (one_for_one)
///   cache                    worker
///   db (rest_for_one)        supervisor
///     reader                 worker
///     writer                 worker, transient
///   sessions (dynamic)       supervisor, with one child
supervisor_spec three_levels(fixture& f) {
  caf::actor probe{f.probe};
  return supervisor("root")
    .intensity(5)
    .child(f.probed("cache"))
    .child(supervisor("db")
             .strategy(strategy::rest_for_one)
             .intensity(5)
             .period(std::chrono::hours(1)) // budget checks: never refills
             .child(f.probed("reader"))
             .child(f.probed("writer").restart(restart::transient)))
    .child(dynamic_supervisor(
      "sessions", worker("session", [probe](child_context& ctx, int) {
        return ctx.spawn(probed_worker, std::string{"session"}, probe);
      })));
}

const tree_snapshot& node(const tree_snapshot& root, const std::string& path) {
  auto result = find(root, path);
  REQUIRE(result != nullptr);
  return *result;
}

void check_node(const tree_snapshot& x, const std::string& path,
                const std::string& id, child_type type, restart restart_type,
                child_state state) {
  INFO(path);
  CHECK(x.path == path);
  CHECK(x.id == id);
  CHECK(x.type == type);
  CHECK(x.restart_type == restart_type);
  CHECK(x.state == state);
}

} // namespace

TEST_CASE("a snapshot shows a whole tree, node by node",
          "[supervisor][snapshot]") {
  fixture f;
  auto sup = f.start(three_levels(f));
  f.next_events(3);
  auto sessions = lookup(f.sys, sup, "root/sessions");
  REQUIRE(sessions);
  REQUIRE(start_child(f.sys, *sessions, caf::make_message(7)));
  f.next_event();
  auto snap = snapshot(f.sys, sup);
  REQUIRE(snap);
  auto& root = *snap;
  check_node(root, "root", "root", child_type::supervisor, restart::permanent,
             child_state::running);
  CHECK(root.actor == sup);
  REQUIRE(root.children.size() == 3);
  check_node(root.children[0], "root/cache", "cache", child_type::worker,
             restart::permanent, child_state::running);
  check_node(root.children[1], "root/db", "db", child_type::supervisor,
             restart::permanent, child_state::running);
  check_node(root.children[2], "root/sessions", "sessions",
             child_type::supervisor, restart::permanent, child_state::running);
  auto& db = root.children[1];
  REQUIRE(db.children.size() == 2);
  check_node(db.children[0], "root/db/reader", "reader", child_type::worker,
             restart::permanent, child_state::running);
  check_node(db.children[1], "root/db/writer", "writer", child_type::worker,
             restart::transient, child_state::running);
  REQUIRE(root.children[2].children.size() == 1);
  check_node(root.children[2].children[0], "root/sessions/session#1",
             "session#1", child_type::worker, restart::permanent,
             child_state::running);
  // Actor ids are those of the current actors, found by path.
  for (auto path : {"root/cache", "root/db", "root/db/reader",
                    "root/db/writer", "root/sessions/session#1"}) {
    INFO(path);
    auto hdl = lookup(f.sys, sup, path);
    REQUIRE(hdl);
    CHECK(node(root, path).actor == *hdl);
    CHECK(node(root, path).restart_count == 0);
    CHECK(node(root, path).last_exit_reason.empty());
    CHECK(node(root, path).uptime > caf::timespan{0});
  }
  CHECK(root.children[0].children.empty());
  // Supervisors show their restart budget; workers have none.
  CHECK(root.intensity == 5);
  CHECK(root.restarts_left == 5);
  CHECK(node(root, "root/db").intensity == 5);
  CHECK(node(root, "root/db").restarts_left == 5);
  CHECK(node(root, "root/cache").intensity == 0);
  SECTION("after a restart") {
    auto writer = lookup(f.sys, sup, "root/db/writer");
    REQUIRE(writer);
    f.probe->send(*writer, crash_atom::value);
    auto db_sup = lookup(f.sys, sup, "root/db");
    REQUIRE(db_sup);
    auto fresh = f.await_replaced(*db_sup, "writer", *writer);
    auto after = snapshot(f.sys, sup);
    REQUIRE(after);
    auto& w = node(*after, "root/db/writer");
    CHECK(w.state == child_state::running);
    CHECK(w.actor == fresh);
    CHECK(w.actor != *writer);
    CHECK(w.restart_count == 1);
    CHECK_THAT(w.last_exit_reason, Catch::Contains("boom from writer"));
    // rest_for_one: the reader, started before the writer, was left alone.
    CHECK(node(*after, "root/db/reader").actor
          == node(root, "root/db/reader").actor);
    CHECK(node(*after, "root/db").restart_count == 0);
    // The restart was charged to db's budget, not root's.
    CHECK(node(*after, "root/db").restarts_left == 4);
    CHECK(after->restarts_left == 5);
  }
  SECTION("a stopped child") {
    REQUIRE_FALSE(terminate_child(f.sys, sup, "cache"));
    auto after = snapshot(f.sys, sup);
    REQUIRE(after);
    auto& cache = node(*after, "root/cache");
    CHECK(cache.state == child_state::stopped);
    CHECK_FALSE(cache.actor);
    CHECK(cache.uptime == caf::timespan{0});
    CHECK(cache.last_exit_reason == f.render(caf::exit_reason::user_shutdown));
    CHECK(is(lookup(f.sys, sup, "root/cache").error(), errc::not_found));
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("lookup by path finds current actors and names what it cannot",
          "[supervisor][snapshot]") {
  fixture f;
  auto sup = f.start(three_levels(f));
  f.next_events(3);
  CHECK(*lookup(f.sys, sup, "root") == sup);
  CHECK(*lookup(f.sys, sup, "root/cache") == f.actor_of(sup, "cache"));
  auto not_found = [&](const std::string& path) {
    INFO(path);
    auto res = lookup(f.sys, sup, path);
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::not_found));
    CHECK_THAT(f.render(res.error()), Catch::Contains(path));
  };
  not_found("other/cache");
  not_found("root/nope");
  not_found("root/db/nope");
  not_found("root/cache/deeper");
  not_found("roots");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a snapshot renders as indented text and as JSON",
          "[supervisor][snapshot]") {
  tree_snapshot leaf;
  leaf.path = "root/db";
  leaf.id = "db";
  leaf.type = child_type::worker;
  leaf.restart_type = restart::transient;
  leaf.state = child_state::restarting;
  leaf.restart_count = 2;
  leaf.last_exit_reason = "said \"no\"\n";
  tree_snapshot root;
  root.path = "root";
  root.id = "root";
  root.type = child_type::supervisor;
  root.state = child_state::running;
  // A real actor, for an actor id in the rendering.
  fixture f;
  caf::actor probe{f.probe};
  root.actor = probe;
  auto id = std::to_string(probe.id());
  root.uptime = 1500ms;
  root.intensity = 5;
  root.restarts_left = 4;
  root.children.push_back(leaf);
  CHECK(to_text(root)
        == "root  path=root type=supervisor restart=permanent state=running "
           "actor=" + id + " restarts=0 uptime=1.500s\n"
           "  db  path=root/db type=worker restart=transient state=restarting "
           "actor=0 restarts=2 uptime=0.000s last_exit=\"said \\\"no\\\"\\n\"\n");
  CHECK(to_json(root)
        == R"({"path":"root","id":"root","type":"supervisor",)"
           R"("restart":"permanent","state":"running","actor_id":)" + id + ","
           R"("restart_count":0,"last_exit_reason":"","uptime_ms":1500,)"
           R"("restart_due_in_ms":0,"intensity":5,"restarts_left":4,"node":"",)"
           R"("needed_for_readiness":false,"missed_health_checks":0,"health_checked":false,"suspicion":0,"paused_for":"",)"
           R"("children":[{"path":"root/db","id":"db","type":"worker",)"
           R"("restart":"transient","state":"restarting","actor_id":0,)"
           R"("restart_count":2,"last_exit_reason":"said \"no\"\n",)"
           R"("uptime_ms":0,"restart_due_in_ms":0,"intensity":0,)"
           R"("restarts_left":0,"node":"","needed_for_readiness":false,)"
           R"("missed_health_checks":0,"health_checked":false,"suspicion":0,"paused_for":"",)"
    R"("children":[]}]})");
  CHECK(find(root, "root/db") == &root.children[0]);
  CHECK(find(root, "root/d") == nullptr);
}
