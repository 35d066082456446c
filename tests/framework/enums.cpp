// The names of Trellis' enumerators, written out: they appear in reports,
// snapshots and the observer's JSON, so a renamed one is a visible change.

#include "test_support.hpp"

#include "trellis/mailbox_probe.hpp"

using namespace trellis;
using namespace trellis::test;
using namespace std::chrono_literals;

TEST_CASE("every enumerator renders as its OTP name", "[enums]") {
  CHECK(to_string(restart::permanent) == "permanent");
  CHECK(to_string(restart::transient) == "transient");
  CHECK(to_string(restart::temporary) == "temporary");
  CHECK(to_string(child_type::worker) == "worker");
  CHECK(to_string(child_type::supervisor) == "supervisor");
  CHECK(to_string(strategy::one_for_one) == "one_for_one");
  CHECK(to_string(strategy::one_for_all) == "one_for_all");
  CHECK(to_string(strategy::rest_for_one) == "rest_for_one");
  CHECK(to_string(strategy::simple_one_for_one) == "simple_one_for_one");
  CHECK(to_string(auto_shutdown::never) == "never");
  CHECK(to_string(auto_shutdown::any_significant) == "any_significant");
  CHECK(to_string(auto_shutdown::all_significant) == "all_significant");
  CHECK(to_string(child_state::running) == "running");
  CHECK(to_string(child_state::restarting) == "restarting");
  CHECK(to_string(child_state::stopped) == "stopped");
  CHECK(to_string(shutdown::brutal_kill()) == "brutal_kill");
  CHECK(to_string(shutdown::infinity()) == "infinity");
  CHECK(to_string(shutdown::timeout(1500ms)) == "timeout(1500ms)");
  CHECK(to_string(decision::restart) == "restart");
  CHECK(to_string(decision::stop) == "stop");
  CHECK(to_string(decision::escalate) == "escalate");
  CHECK(to_string(decision::resume) == "resume");
  // A value outside the enumeration (from a peer, say) does not crash.
  CHECK(to_string(static_cast<restart>(200)) == "unknown");
  CHECK(to_string(static_cast<child_type>(200)) == "unknown");
  CHECK(to_string(static_cast<strategy>(200)) == "unknown");
  CHECK(to_string(static_cast<auto_shutdown>(200)) == "unknown");
  CHECK(to_string(static_cast<child_state>(200)) == "unknown");
  CHECK(to_string(static_cast<decision>(200)) == "unknown");
}

TEST_CASE("every lifecycle kind of the framework renders as its name",
          "[enums]") {
  CHECK(to_string(lifecycle_kind::child_started) == "child_started");
  CHECK(to_string(lifecycle_kind::child_exited) == "child_exited");
  CHECK(to_string(lifecycle_kind::child_restarted) == "child_restarted");
  CHECK(to_string(lifecycle_kind::restart_given_up) == "restart_given_up");
  CHECK(to_string(lifecycle_kind::child_unhealthy) == "child_unhealthy");
  CHECK(to_string(lifecycle_kind::checkpoint_skipped) == "checkpoint_skipped");
  CHECK(to_string(lifecycle_kind::checkpoint_failed) == "checkpoint_failed");
  CHECK(to_string(lifecycle_kind::message_quarantined)
        == "message_quarantined");
  CHECK(to_string(lifecycle_kind::message_dropped) == "message_dropped");
  CHECK(to_string(lifecycle_kind::messages_kept) == "messages_kept");
  CHECK(to_string(lifecycle_kind::messages_lost) == "messages_lost");
  CHECK(to_string(lifecycle_kind::child_resumed) == "child_resumed");
  // Kinds travel between nodes by number: appended, never renumbered.
  CHECK(static_cast<int>(lifecycle_kind::messages_lost) == 13);
  CHECK(static_cast<int>(lifecycle_kind::child_resumed) == 14);
  // The numbers left free by the ready-made actors' old kinds.
  CHECK(to_string(static_cast<lifecycle_kind>(5)) == "kind_5");
}

TEST_CASE("JSON escapes backslashes, tabs and control characters",
          "[snapshot]") {
  tree_snapshot x;
  x.path = "root";
  x.id = "root";
  x.last_exit_reason = std::string{"a\\b\tc\x01" "d\x1f"};
  auto json = to_json(x);
  CHECK_THAT(json, Catch::Contains(R"("last_exit_reason":"a\\b\tc\u0001d\u001f")"));
}

namespace {

using other_atom = caf::atom_constant<caf::atom("other")>;

} // namespace

TEST_CASE("an actor of one's own answers mailbox probes once it installs "
          "the probe, and keeps its own default handler",
          "[mailbox_probe]") {
  fixture f;
  caf::actor probe{f.probe};
  // Spawned by hand, not by Trellis: it installs the probe itself, after a
  // default handler of its own.
  auto actor = f.sys.spawn([probe](caf::event_based_actor* self) -> caf::behavior {
    self->set_default_handler(
      [probe](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
        caf::anon_send(probe, event_atom::value, std::string{"unmatched"});
        return caf::message{};
      });
    install_mailbox_probe(self);
    return {[](int x) { return x; }};
  });
  uint64_t depth = 99;
  f.probe->request(actor, patience, mailbox_probe_atom::value)
    .receive([&](uint64_t n) { depth = n; },
             [](caf::error& err) { FAIL("no answer to the probe: " << to_string(err)); });
  CHECK(depth == 0);
  // What neither the behavior nor the probe takes still reaches its handler.
  f.probe->send(actor, other_atom::value);
  CHECK(f.next_event() == "unmatched");
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
}
