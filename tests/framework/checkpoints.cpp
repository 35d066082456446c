#include "test_support.hpp"

#include <filesystem>
#include <fstream>
#include <mutex>

#include <unistd.h>

using namespace trellis;
using namespace trellis::test;

namespace fs = std::filesystem;

namespace {

using add_atom = caf::atom_constant<caf::atom("add")>;

/// A counter that checkpoints after each change and starts from its last
/// checkpoint.
child_spec counter(const std::string& id) {
  return worker(id, [](child_context& ctx) -> start_result {
    auto cp = ctx.checkpoint();
    auto start = cp.restore_or(0);
    return ctx.spawn([cp, start](caf::event_based_actor*) -> caf::behavior {
      auto n = std::make_shared<int>(start);
      return {
        [=](add_atom, int x) {
          *n += x;
          cp.save(*n);
          return *n;
        },
        [=](caf::get_atom) { return *n; },
        [](crash_atom) -> int { throw std::runtime_error("boom"); },
      };
    });
  });
}

int call(fixture& f, const caf::actor& hdl, caf::message msg) {
  int result = -1;
  f.probe->request(hdl, patience, std::move(msg))
    .receive([&](int x) { result = x; },
             [](caf::error& err) { FAIL("request failed: " << to_string(err)); });
  return result;
}

int value_of(fixture& f, const caf::actor& sup, const std::string& id) {
  return call(f, f.actor_of(sup, id), caf::make_message(caf::get_atom::value));
}

int add(fixture& f, const caf::actor& sup, const std::string& id, int x) {
  return call(f, f.actor_of(sup, id), caf::make_message(add_atom::value, x));
}

/// A fresh directory for a test's files, removed afterwards.
struct scratch_dir {
  fs::path path;

  scratch_dir() {
    path = fs::temp_directory_path()
           / ("trellis-checkpoints-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter_++));
    fs::remove_all(path);
  }

  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }

  std::vector<std::string> files() const {
    std::vector<std::string> result;
    if (fs::exists(path))
      for (auto& x : fs::directory_iterator(path))
        result.push_back(x.path().filename().string());
    std::sort(result.begin(), result.end());
    return result;
  }

  static inline int counter_ = 0;
};

void overwrite(const fs::path& file, std::string contents) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << contents;
}

std::string read(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

TEST_CASE("a checkpoint is restored after a crash", "[checkpoint]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(counter("c")));
  REQUIRE(add(f, sup, "c", 5) == 5);
  REQUIRE(add(f, sup, "c", 3) == 8);
  auto old = f.actor_of(sup, "c");
  f.crash(sup, "c");
  f.await_replaced(sup, "c", old);
  CHECK(value_of(f, sup, "c") == 8);
  CHECK(add(f, sup, "c", 1) == 9);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a child that leaves for good takes its checkpoint along",
          "[checkpoint]") {
  fixture f;
  auto sup = f.start(supervisor("root").child(counter("c")));
  REQUIRE(add(f, sup, "c", 4) == 4);
  REQUIRE(!terminate_child(f.sys, sup, "c"));
  // Stopped but kept: restart_child resumes.
  REQUIRE(restart_child(f.sys, sup, "c"));
  CHECK(value_of(f, sup, "c") == 4);
  REQUIRE(!terminate_child(f.sys, sup, "c"));
  REQUIRE(!delete_child(f.sys, sup, "c"));
  REQUIRE(start_child(f.sys, sup, counter("c")));
  CHECK(value_of(f, sup, "c") == 0);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a file checkpoint survives its supervisor", "[checkpoint]") {
  scratch_dir dir;
  auto store = make_file_checkpoint_store(dir.path.string());
  {
    fixture f;
    auto sup = f.start(
      supervisor("root").child(counter("c").checkpoint_store(store)));
    REQUIRE(add(f, sup, "c", 7) == 7);
    stop_supervisor(f.sys, sup);
  }
  // The write went through a temporary file that is gone now.
  CHECK(dir.files() == std::vector<std::string>{"root%2Fc.ckpt"});
  fixture f;
  auto sup = f.start(
    supervisor("root").child(counter("c").checkpoint_store(store)));
  CHECK(value_of(f, sup, "c") == 7);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a corrupt checkpoint file is reported and skipped",
          "[checkpoint]") {
  scratch_dir dir;
  auto store = make_file_checkpoint_store(dir.path.string());
  fixture f;
  log_capture logs;
  auto sup = f.start(supervisor("root").intensity(10).child(
    counter("c").checkpoint_store(store)));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  REQUIRE(add(f, sup, "c", 7) == 7);
  auto file = dir.path / "root%2Fc.ckpt";
  auto good = read(file);
  REQUIRE(good.size() > 20);
  std::string damage;
  SECTION("a flipped byte") {
    damage = good;
    damage.back() ^= 0x01;
  }
  SECTION("a torn write") {
    damage = good.substr(0, good.size() - 1);
  }
  SECTION("a short header") {
    damage = good.substr(0, 5);
  }
  overwrite(file, damage);
  auto old = f.actor_of(sup, "c");
  f.crash(sup, "c");
  auto ev = await_event(f.probe, lifecycle_kind::checkpoint_skipped, "root/c");
  CHECK(is(ev.reason, errc::corrupt_checkpoint));
  f.await_replaced(sup, "c", old);
  // The restart went ahead without the checkpoint.
  CHECK(value_of(f, sup, "c") == 0);
  CHECK(logs.reports("checkpoint_skipped").size() == 1);
  // The evidence is kept aside, out of the next load's way.
  CHECK(fs::exists(dir.path / "root%2Fc.ckpt.corrupt"));
  CHECK(add(f, sup, "c", 2) == 2);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a dynamic child starts without a checkpoint, then keeps its own",
          "[checkpoint]") {
  scratch_dir dir;
  auto store = make_file_checkpoint_store(dir.path.string());
  // What an earlier run left under the id the next child gets.
  fixture stale;
  checkpoint left{stale.sys, store, "root/c#1", std::nullopt};
  REQUIRE(!left.save(100));
  fixture f;
  auto sup = f.start(dynamic_supervisor(
    "root", counter("c").restart(restart::transient).checkpoint_store(store)));
  auto child = start_child(f.sys, sup, caf::make_message());
  REQUIRE(child);
  CHECK(call(f, *child, caf::make_message(add_atom::value, 3)) == 3);
  f.probe->send(*child, crash_atom::value);
  f.await_replaced(sup, "c#1", *child);
  CHECK(value_of(f, sup, "c#1") == 3);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("file checkpoint stores save, load and erase by key",
          "[checkpoint]") {
  scratch_dir dir;
  auto store = make_file_checkpoint_store((dir.path / "a" / "b").string());
  auto none = store->load("root/x#1");
  REQUIRE(none);
  CHECK(!*none);
  std::string binary{"\0\1\2 bytes\xff", 10};
  REQUIRE(!store->save("root/x#1", binary));
  REQUIRE(!store->save("root/y", ""));
  auto x = store->load("root/x#1");
  REQUIRE(x);
  REQUIRE(*x);
  CHECK(**x == binary);
  auto y = store->load("root/y");
  REQUIRE(y);
  REQUIRE(*y);
  CHECK((*y)->empty());
  REQUIRE(!store->erase("root/x#1"));
  REQUIRE(!store->erase("root/x#1"));
  x = store->load("root/x#1");
  REQUIRE(x);
  CHECK(!*x);
}

TEST_CASE("a file store that cannot write says why", "[checkpoint]") {
  scratch_dir dir;
  // A file where the directory should be.
  overwrite(dir.path.string() + ".file", "x");
  auto store = make_file_checkpoint_store(dir.path.string() + ".file");
  auto err = store->save("root/c", "data");
  CHECK(is(err, errc::checkpoint_failed));
  fs::remove(dir.path.string() + ".file");
}

TEST_CASE("restoring a checkpoint as the wrong type is an error",
          "[checkpoint]") {
  fixture f;
  auto store = make_memory_checkpoint_store();
  checkpoint cp{f.sys, store, "root/c", std::nullopt};
  CHECK(cp.restore_or(std::string{"none"}) == "none");
  REQUIRE(!cp.save(std::string{"text"}));
  auto bytes = store->load("root/c");
  REQUIRE(bytes);
  REQUIRE(*bytes);
  checkpoint next{f.sys, store, "root/c", **bytes};
  CHECK(next.restore_or(std::string{}) == "text");
  auto wrong = next.restore<std::vector<double>>();
  REQUIRE(!wrong);
  CHECK(is(wrong.error(), errc::corrupt_checkpoint));
  CHECK_THAT(f.render(wrong.error()), Catch::Contains("root/c"));
  CHECK(next.restore_or(std::vector<double>{1.5}) == std::vector<double>{1.5});
  checkpoint empty;
  CHECK(is(empty.save_bytes("x"), errc::not_supported));
}

TEST_CASE("an incarnation that was replaced can no longer save",
          "[checkpoint]") {
  fixture f;
  auto saved = std::make_shared<std::vector<checkpoint>>();
  auto mtx = std::make_shared<std::mutex>();
  auto sup = f.start(supervisor("root").child(
    worker("c", [saved, mtx](child_context& ctx) -> start_result {
      {
        std::lock_guard<std::mutex> guard{*mtx};
        saved->push_back(ctx.checkpoint());
      }
      return ctx.spawn([](caf::event_based_actor*) -> caf::behavior {
        return {[](crash_atom) -> int { throw std::runtime_error("boom"); }};
      });
    })));
  auto old = f.actor_of(sup, "c");
  f.crash(sup, "c");
  f.await_replaced(sup, "c", old);
  std::lock_guard<std::mutex> guard{*mtx};
  REQUIRE(saved->size() == 2);
  REQUIRE(!(*saved)[1].save(2));
  // The first incarnation, had it lingered (hung, say), cannot overwrite.
  auto err = (*saved)[0].save(1);
  CHECK(is(err, errc::checkpoint_failed));
  CHECK(f.render(err).find("superseded") != std::string::npos);
  stop_supervisor(f.sys, sup);
}

TEST_CASE("a checkpoint store that cannot be read fails the child's start",
          "[checkpoint]") {
  scratch_dir dir;
  auto store = make_file_checkpoint_store(dir.path.string());
  // A directory where the child's checkpoint file should be: it exists, and
  // reading it fails.
  fs::create_directories(dir.path / "root%2Fc.ckpt");
  fixture f;
  auto sup = start_supervisor(
    f.sys, supervisor("root").child(counter("c").checkpoint_store(store)));
  REQUIRE_FALSE(sup);
  CHECK(is(sup.error(), errc::failed_to_start_child));
  CHECK_THAT(f.render(sup.error()), Catch::Contains("checkpoint_failed"));
  // Nothing was renamed or overwritten: the evidence stays.
  CHECK(fs::is_directory(dir.path / "root%2Fc.ckpt"));
  CHECK_FALSE(fs::exists(dir.path / "root%2Fc.ckpt.corrupt"));
}

TEST_CASE("a failed save is returned, reported and published",
          "[checkpoint]") {
  // Reads fine, and every save fails as a full disk would.
  struct full_disk : checkpoint_store {
    caf::error save(const std::string& key, const std::string&) override {
      return make_error(errc::checkpoint_failed, key, "No space left on device");
    }
    caf::expected<std::optional<std::string>>
    load(const std::string&) override {
      return std::optional<std::string>{};
    }
    caf::error erase(const std::string&) override {
      return caf::none;
    }
  };
  auto store = std::make_shared<full_disk>();
  fixture f;
  log_capture logs;
  auto saves = std::make_shared<std::vector<caf::error>>();
  auto mtx = std::make_shared<std::mutex>();
  auto sup = f.start(supervisor("root").child(
    worker("c",
           [saves, mtx](child_context& ctx) -> start_result {
             auto cp = ctx.checkpoint();
             return ctx.spawn([cp, saves, mtx](caf::event_based_actor*)
                                -> caf::behavior {
               return {[=](add_atom, int x) {
                 std::lock_guard<std::mutex> guard{*mtx};
                 saves->push_back(cp.save(x));
                 return x;
               }};
             });
           })
      .checkpoint_store(store)));
  auto events = lifecycle_events(f.sys, sup);
  REQUIRE(events);
  f.probe->join(*events);
  CHECK(add(f, sup, "c", 1) == 1);
  {
    std::lock_guard<std::mutex> guard{*mtx};
    REQUIRE(saves->size() == 1);
    CHECK(is(saves->front(), errc::checkpoint_failed));
    CHECK_THAT(f.render(saves->front()),
               Catch::Contains("No space left on device"));
  }
  auto ev = await_event(f.probe, lifecycle_kind::checkpoint_failed, "root/c");
  CHECK(ev.id == "c");
  CHECK(is(ev.reason, errc::checkpoint_failed));
  auto reports = logs.reports("checkpoint_failed");
  REQUIRE(reports.size() == 1);
  CHECK_THAT(reports[0], Catch::Contains("child=c")
                          && Catch::Contains("No space left on device"));
  stop_supervisor(f.sys, sup);
}
