#include <atomic>

#include "test_support.hpp"
#include "trellis/io/remote.hpp"

using namespace trellis;
using namespace trellis::test;

namespace {

struct shop {
  int orders = 0;
  std::string last;
};

// Out of line and named, so that a captured stack shows it.
[[gnu::noinline]] void reject_order(const std::string& item, int32_t qty) {
  throw std::invalid_argument("bad quantity " + std::to_string(qty) + " for "
                              + item);
}

caf::behavior shop_worker(caf::stateful_actor<shop>* self) {
  return {
    [self](const std::string& item, int32_t qty) -> int32_t {
      if (qty < 0)
        reject_order(item, qty);
      ++self->state.orders;
      self->state.last = item;
      return qty;
    },
  };
}

child_spec shop_spec() {
  return worker("shop", shop_worker);
}

/// Sends `item` and `qty` to the shop and waits for its answer (or error).
void order(fixture& f, const caf::actor& shop, const std::string& item,
           int32_t qty) {
  bool answered = false;
  f.probe->request(shop, patience, item, qty)
    .receive([&](int32_t) { answered = true; },
             [&](caf::error&) { answered = true; });
  REQUIRE(answered);
}

/// Crashes the shop with an order of `item`, waits for its supervisor to
/// replace it, and returns the supervisor's reports.
std::vector<crash_report> crash_shop(fixture& f, const caf::actor& sup,
                                     const std::string& item = "widget") {
  auto shop = f.actor_of(sup, "shop");
  order(f, shop, item, -1);
  f.await_replaced(sup, "shop", shop);
  auto xs = crash_reports(f.sys, sup);
  REQUIRE(xs);
  return std::move(*xs);
}

} // namespace

TEST_CASE("a crash report names the child, its exception and its message",
          "[crash_report]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(5).child(shop_spec()));
  auto xs = crash_shop(f, sup);
  REQUIRE(xs.size() == 1);
  auto& x = xs.front();
  CHECK(x.path == "root/shop");
  CHECK(x.id == "shop");
  CHECK(x.restart_count == 0);
  auto details = crash_details_of(x.reason);
  REQUIRE(details);
  CHECK(details->type == "std::invalid_argument");
  CHECK(details->what == "bad quantity -1 for widget");
  REQUIRE(x.message);
  CHECK(x.message->request);
  CHECK_THAT(x.message->sender, Catch::StartsWith("actor #"));
  CHECK(type_names(x.message->content) == "std::string, int32_t");
  CHECK(render_bounded(x.message->content) == "(\"widget\", -1)");
  // Where: the stack of the throw, from the throwing function up to the
  // handler.
  REQUIRE(x.trace);
  CHECK(x.trace->walked());
  auto frames = symbolize(*x.trace);
  REQUIRE_FALSE(frames.empty());
  CHECK_THAT(frames[0].function, Catch::Contains("reject_order"));
  CHECK_THAT(to_string(x), Catch::Contains("thrown at:\n    #0 0x"));
  // Nothing else was asked for.
  CHECK(x.last_messages.empty());
  CHECK(x.state.empty());
  CHECK(x.state_error.empty());
  auto text = to_string(x);
  CHECK_THAT(text, Catch::StartsWith("crash_report child=root/shop "
                                     "restart_count=0"));
  CHECK_THAT(text, Catch::Contains("exception: std::invalid_argument: bad "
                                   "quantity -1 for widget"));
  CHECK_THAT(text, Catch::Contains("on request from actor #"));
  CHECK_THAT(text, Catch::Contains("(std::string, int32_t) (\"widget\", -1)"));
  // The next crash is the next incarnation's.
  xs = crash_shop(f, sup, "gadget");
  REQUIRE(xs.size() == 2);
  CHECK(xs.back().restart_count == 1);
  CHECK(render_bounded(xs.back().message->content) == "(\"gadget\", -1)");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a child that keeps its last messages shows them as they arrived",
          "[crash_report]") {
  fixture f;
  auto sup = f.start(
    supervisor("root").intensity(5).child(shop_spec().keep_last_messages(3)));
  auto shop = f.actor_of(sup, "shop");
  for (auto item : {"a", "b", "c", "d"})
    order(f, shop, item, 1);
  // Trellis' own probes (the observer's, for the mailbox's depth) are not
  // logged: they would push the child's own messages out.
  for (int i = 0; i < 3; ++i) {
    bool answered = false;
    f.probe->request(shop, patience, mailbox_probe_atom::value)
      .receive([&](uint64_t) { answered = true; }, [&](caf::error&) {});
    REQUIRE(answered);
  }
  auto xs = crash_shop(f, sup, "e");
  REQUIRE(xs.size() == 1);
  auto& last = xs.front().last_messages;
  REQUIRE(last.size() == 3);
  CHECK(render_bounded(last[0].content) == "(\"c\", 1)");
  CHECK(render_bounded(last[1].content) == "(\"d\", 1)");
  CHECK(render_bounded(last[2].content) == "(\"e\", -1)");
  CHECK(last[2].request);
  CHECK_THAT(to_string(xs.front()),
             Catch::Contains("last messages, oldest first:"));
  // A new incarnation starts with an empty log.
  shop = f.actor_of(sup, "shop");
  xs = crash_shop(f, sup, "f");
  REQUIRE(xs.size() == 2);
  REQUIRE(xs.back().last_messages.size() == 1);
  CHECK(render_bounded(xs.back().last_messages[0].content) == "(\"f\", -1)");
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a crash dump renders the child's state as the handler left it",
          "[crash_report]") {
  fixture f;
  SECTION("a hook of the child's type") {
    auto sup = f.start(supervisor("root").intensity(5).child(
      shop_spec().on_crash_dump([](caf::stateful_actor<shop>* self) {
        return "orders=" + std::to_string(self->state.orders)
               + " last=" + self->state.last;
      })));
    auto shop = f.actor_of(sup, "shop");
    order(f, shop, "a", 1);
    order(f, shop, "b", 2);
    auto xs = crash_shop(f, sup);
    REQUIRE(xs.size() == 1);
    CHECK(xs.front().state == "orders=2 last=b");
    CHECK(xs.front().state_error.empty());
    CHECK_THAT(to_string(xs.front()), Catch::Contains("state: orders=2 last=b"));
    stop_supervisor(f.sys, sup);
  }
  SECTION("a hook that throws does not break the report") {
    auto sup = f.start(supervisor("root").intensity(5).child(
      shop_spec().keep_last_messages(2).on_crash_dump(
        [](caf::stateful_actor<shop>*) -> std::string {
          throw std::runtime_error("dump failed");
        })));
    auto xs = crash_shop(f, sup);
    REQUIRE(xs.size() == 1);
    CHECK(xs.front().state.empty());
    CHECK(xs.front().state_error == "the state hook threw: dump failed");
    REQUIRE(xs.front().message);
    CHECK(xs.front().last_messages.size() == 1);
    CHECK_THAT(to_string(xs.front()),
               Catch::Contains("state: (none: the state hook threw: dump "
                               "failed)"));
    // The child was restarted as any crashed child.
    CHECK(f.child(sup, "shop").restart_count == 1);
    stop_supervisor(f.sys, sup);
  }
  SECTION("a large state is cut") {
    auto sup = f.start(supervisor("root").intensity(5).child(
      shop_spec().on_crash_dump([](caf::stateful_actor<shop>*) {
        return std::string(1'000'000, 's');
      })));
    auto xs = crash_shop(f, sup);
    REQUIRE(xs.size() == 1);
    CHECK(xs.front().state.size() == max_rendered_state + 3);
    CHECK_THAT(xs.front().state, Catch::EndsWith("sss..."));
    stop_supervisor(f.sys, sup);
  }
  SECTION("a hook of another type says so") {
    struct other {};
    auto sup = f.start(supervisor("root").intensity(5).child(
      shop_spec().on_crash_dump(
        [](caf::stateful_actor<other>*) { return std::string{"never"}; })));
    auto xs = crash_shop(f, sup);
    REQUIRE(xs.size() == 1);
    CHECK(xs.front().state.empty());
    CHECK_THAT(xs.front().state_error,
               Catch::Contains("the state hook expects")
                 && Catch::Contains("the child is another type"));
    stop_supervisor(f.sys, sup);
  }
}

TEST_CASE("a supervisor keeps its last 64 crash reports, the newest 8 with "
          "their last messages",
          "[crash_report]") {
  fixture f;
  auto sup = f.start(supervisor("root").intensity(1000).period(
    std::chrono::seconds(3600)).child(shop_spec().keep_last_messages(4)));
  constexpr int crashes = 70;
  for (int i = 0; i < crashes; ++i)
    crash_shop(f, sup, "item" + std::to_string(i));
  auto xs = crash_reports(f.sys, sup);
  REQUIRE(xs);
  REQUIRE(xs->size() == 64);
  CHECK(xs->front().restart_count == crashes - 64);
  CHECK(xs->back().restart_count == crashes - 1);
  CHECK(render_bounded(xs->back().message->content)
        == "(\"item" + std::to_string(crashes - 1) + "\", -1)");
  for (size_t i = 0; i < xs->size(); ++i) {
    INFO("report " << i);
    CHECK((*xs)[i].last_messages.size() == (i < 64 - 8 ? 0u : 1u));
    CHECK((*xs)[i].message);
  }
  stop_supervisor(f.sys, sup);
}

TEST_CASE("the child_exited event carries the crash report and the log "
          "shows it",
          "[crash_report]") {
  fixture f;
  log_capture logs;
  auto sup = f.start(supervisor("root").intensity(5).child(shop_spec()));
  auto group = lifecycle_events(f.sys, sup);
  REQUIRE(group);
  f.probe->join(*group);
  auto shop = f.actor_of(sup, "shop");
  f.probe->send(shop, std::string{"widget"}, int32_t{-1});
  auto ev = await_event(f.probe, lifecycle_kind::child_exited, "root/shop");
  REQUIRE(ev.crash != nullptr);
  CHECK(ev.crash->path == "root/shop");
  REQUIRE(ev.crash->message);
  CHECK_FALSE(ev.crash->message->request);
  CHECK(render_bounded(ev.crash->message->content) == "(\"widget\", -1)");
  await_event(f.probe, lifecycle_kind::child_restarted, "root/shop");
  // At most 10 reports a second are written: ctest runs each case in a
  // process of its own, so the budget is this case's alone.
  auto lines = logs.reports("crash_report");
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Catch::StartsWith("crash_report supervisor=root "
                                         "child=root/shop restart_count=0"));
  CHECK_THAT(lines[0], Catch::Contains("\n  on message from actor #"));
  f.probe->leave(*group);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a crash in a child's initialization has no message",
          "[crash_report]") {
  fixture f;
  std::atomic<int> starts{0};
  auto flaky = [&starts](caf::event_based_actor*) -> caf::behavior {
    if (starts++ == 1)
      throw std::runtime_error("second start fails");
    return {[](int x) { return x; }};
  };
  auto sup = f.start(supervisor("root").intensity(5).child(worker("w", flaky)));
  auto old = f.actor_of(sup, "w");
  f.probe->send_exit(old, caf::exit_reason::kill);
  f.await_replaced(sup, "w", old);
  // The second start failed in its initialization, the third ran.
  for (int i = 0; i < 20'000 && starts.load() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(starts.load() >= 3);
  auto xs = crash_reports(f.sys, sup);
  REQUIRE(xs);
  REQUIRE(xs->size() == 1);
  CHECK_FALSE(xs->front().message);
  CHECK_THAT(to_string(xs->front()),
             Catch::Contains("on no message (in its initialization)"));
  stop_supervisor(f.sys, sup);
}

TEST_CASE("messages render within their bound", "[crash_report]") {
  std::string large(100'000, 'x');
  auto msg = caf::make_message(large, std::vector<char>(5000, 'y'), 7);
  auto text = render_bounded(msg);
  CHECK(text.size() <= max_rendered_message + 3);
  CHECK_THAT(text, Catch::StartsWith("(\"" + std::string(10, 'x')));
  CHECK_THAT(text, Catch::Contains("xx\"..., <5000 bytes>, 7)"));
  CHECK(type_names(msg) == "std::string, std::vector<char>, int32_t");
  auto many = caf::make_message(large, large, large, large, large);
  CHECK(render_bounded(many).size() <= max_rendered_message + 3);
  CHECK_THAT(render_bounded(many), Catch::EndsWith("..."));
  CHECK(render_bounded(caf::make_message(caf::atom("hello"))) == "('hello')");
}

TEST_CASE("crash report options are checked", "[crash_report][spec]") {
  fixture f;
  auto refused = [&](const supervisor_spec& spec, const std::string& field) {
    auto res = start_supervisor(f.sys, spec);
    REQUIRE_FALSE(res);
    CHECK_THAT(f.render(res.error()),
               Catch::Contains("invalid_spec: " + field));
  };
  SECTION("too many messages") {
    refused(supervisor("root").child(shop_spec().keep_last_messages(10'001)),
            "keep_last_messages");
  }
  SECTION("a supervisor child") {
    refused(supervisor("root").child(
              supervisor("sub").as_child().keep_last_messages(5)),
            "keep_last_messages");
  }
  SECTION("a remote child") {
    refused(supervisor("root").child(
              remote_worker("r", "pinger")
                .nodes({"127.0.0.1:4000"})
                .on_crash_dump([](caf::event_based_actor*) { return ""; })),
            "format_state");
  }
  SECTION("a blocking child") {
    auto blocking = [](caf::blocking_actor* self) {
      self->receive([](int) {});
    };
    refused(supervisor("root").intensity(0).child(
              worker("b", blocking).keep_last_messages(4)),
            "keep_last_messages");
    refused(supervisor("root").intensity(0).child(
              worker("b", blocking).on_crash_dump(
                [](caf::blocking_actor*) { return "x"; })),
            "format_state");
  }
  SECTION("zero turns the log off again") {
    auto spec = shop_spec().keep_last_messages(4).keep_last_messages(0);
    CHECK(spec.keep_last_messages() == 0);
    CHECK(spec.forensics() == nullptr);
  }
}
