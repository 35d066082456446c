#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "chaos.hpp"
#include "resp.hpp"
#include "shard.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;

namespace {

struct fixture {
  trellis::test::test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::shared_ptr<trellis::checkpoint_store> store
    = trellis::make_memory_checkpoint_store();
  caf::actor root;

  caf::expected<caf::actor> start(size_t index, size_t count) {
    return trellis::start_supervisor(
      sys, trellis::supervisor("root").intensity(100).child(
             kvstore::shard_worker("shard-0", index, count, store)));
  }

  fixture() {
    trellis::set_log_level(trellis::log_level::off);
    root = *start(0, 1);
  }

  ~fixture() {
    trellis::stop_supervisor(sys, root);
  }

  caf::actor shard() {
    for (int i = 0; i < 2000; ++i) {
      if (auto hdl = trellis::lookup(sys, root, "root/shard-0"))
        return *hdl;
      std::this_thread::sleep_for(5ms);
    }
    FAIL("the shard did not come back");
    return {};
  }

  // Executes a batch and returns the encoded answers.
  std::vector<std::string> exec(kvstore::batch commands) {
    std::vector<std::string> result;
    self
      ->request(shard(), trellis::test::patience, kvstore::exec_atom::value,
                std::move(commands))
      .receive(
        [&](const std::vector<kvstore::resp::reply>& answers) {
          for (auto& x : answers)
            result.push_back(kvstore::resp::encode(x));
        },
        [&](caf::error& err) { FAIL(sys.render(err)); });
    return result;
  }

  std::string exec1(std::vector<std::string> args) {
    return exec({std::move(args)}).at(0);
  }

  // Crashes the shard as the chaos worker does and waits for the next one.
  void crash() {
    auto old = shard();
    self->send(old, kvstore::chaos_atom::value);
    for (int i = 0; i < 2000; ++i) {
      auto now = trellis::lookup(sys, root, "root/shard-0");
      if (now && *now != old)
        return;
      std::this_thread::sleep_for(5ms);
    }
    FAIL("no restart");
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "a shard comes back with every write it answered",
                 "[kvstore][shard]") {
  // Enough writes for several snapshots, and a journal after the last one,
  // of sealed segments and a tail.
  auto journal_of = [this](int n) {
    return *store->load("root/shard-0.journal-" + std::to_string(n));
  };
  auto batches = 0;
  for (; batches < 50 || !journal_of(1); ++batches) {
    REQUIRE(batches < 1000);
    kvstore::batch batch;
    for (int i = 0; i < 40; ++i)
      batch.push_back({"SET", "k" + std::to_string(batches * 40 + i),
                       std::string(50, 'v')});
    batch.push_back({"INCR", "n"});
    exec(std::move(batch));
  }
  exec1({"DEL", "k0"});
  CHECK(store->load("root/shard-0.snapshot")->has_value());
  auto keys = ":" + std::to_string(batches * 40) + "\r\n"; // k0 gone, n
  auto last = "k" + std::to_string(batches * 40 - 1);
  for (int round = 0; round < 3; ++round) {
    crash();
    CHECK(exec1({"DBSIZE"}) == keys);
    CHECK(exec1({"GET", "n"})
          == kvstore::resp::encode(kvstore::resp::bulk(std::to_string(batches))));
    CHECK(exec1({"GET", last}) == "$50\r\n" + std::string(50, 'v') + "\r\n");
    CHECK(exec1({"EXISTS", "k0"}) == ":0\r\n");
  }
  CHECK(exec1({"INFO"}) == "*3\r\n" + keys + ":0\r\n:3\r\n");
}

TEST_CASE_METHOD(fixture, "a journal older than its snapshot is ignored",
                 "[kvstore][shard]") {
  exec1({"SET", "a", "1"});
  auto old_journal = **store->load("root/shard-0");
  exec1({"DEL", "a"});
  // One batch that outgrows the journal: it ends with a new snapshot and an
  // empty journal.
  kvstore::batch batch;
  for (int i = 0; i < 200; ++i)
    batch.push_back({"SET", "key" + std::to_string(i), std::string(400, 'v')});
  exec(std::move(batch));
  // As if the process had stopped between the two saves.
  REQUIRE(!store->save("root/shard-0", old_journal));
  crash();
  CHECK(exec1({"EXISTS", "a"}) == ":0\r\n");
  CHECK(exec1({"DBSIZE"}) == ":200\r\n");
}

TEST_CASE_METHOD(fixture, "a segment sealed just before a crash is read once "
                          "more, and older segments are skipped",
                 "[kvstore][shard]") {
  // Fill the tail up to just below a segment, keep it, then seal it.
  exec1({"SET", "x", "old"});
  exec1({"SET", "x", "new"});
  kvstore::batch batch;
  for (int i = 0; i < 120; ++i)
    batch.push_back({"SET", "f" + std::to_string(i), std::string(40, 'v')});
  exec(std::move(batch));
  auto tail = **store->load("root/shard-0");
  kvstore::batch more;
  for (int i = 0; i < 20; ++i)
    more.push_back({"SET", "g" + std::to_string(i), std::string(40, 'v')});
  exec(std::move(more));
  REQUIRE(store->load("root/shard-0.journal-0")->has_value());
  // As if the process had stopped between the segment and the empty tail.
  REQUIRE(!store->save("root/shard-0", tail));
  // And a segment of an older generation after it.
  auto stale = **store->load("root/shard-0.journal-0");
  stale[4] = static_cast<char>(stale[4] + 1); // another generation
  REQUIRE(!store->save("root/shard-0.journal-1", stale));
  crash();
  CHECK(exec1({"GET", "x"}) == "$3\r\nnew\r\n");
  CHECK(exec1({"DBSIZE"}) == ":141\r\n");
}

TEST_CASE_METHOD(fixture, "a shard refuses data written with another shard "
                          "count",
                 "[kvstore][shard]") {
  exec1({"SET", "a", "1"});
  trellis::stop_supervisor(sys, root);
  auto other = start(0, 2);
  REQUIRE(!other);
  CHECK_THAT(sys.render(other.error()),
             Catch::Contains("written by shard 0 of 1; start with --shards 1"));
  root = *start(0, 1);
  CHECK(exec1({"GET", "a"}) == "$1\r\n1\r\n");
}

TEST_CASE_METHOD(fixture, "a shard answers writes once saved, and a crash "
                          "before the save loses them and says so",
                 "[kvstore][shard]") {
  // A large batch keeps the shard busy while two more batches and a crash
  // order queue behind it: the three form one group, whose save was to
  // follow the crash. Each batch is either answered and kept, or answered
  // request_receiver_down and absent (so that sending it again is safe).
  auto unsaved = 0;
  for (int trial = 0; trial < 20 && unsaved == 0; ++trial) {
    auto prefix = "t" + std::to_string(trial) + ":";
    kvstore::batch big;
    for (int i = 0; i < 20000; ++i)
      big.push_back({"SET", prefix + "big" + std::to_string(i), "v"});
    auto old = shard();
    auto ask = [&](kvstore::batch commands) {
      return self->request(old, trellis::test::patience,
                           kvstore::exec_atom::value, std::move(commands));
    };
    auto h0 = ask(std::move(big));
    auto h1 = ask({{"SET", prefix + "a", "1"}});
    auto h2 = ask({{"INCR", prefix + "n"}});
    self->send(old, kvstore::chaos_atom::value);
    std::vector<std::optional<caf::error>> answers;
    for (auto* h : {&h0, &h1, &h2})
      h->receive(
        [&](const std::vector<kvstore::resp::reply>&) {
          answers.emplace_back();
        },
        [&](caf::error& err) { answers.emplace_back(std::move(err)); });
    for (int i = 0; i < 2000 && shard() == old; ++i)
      std::this_thread::sleep_for(5ms);
    std::vector<std::string> keys{prefix + "big19999", prefix + "a",
                                  prefix + "n"};
    for (size_t i = 0; i < 3; ++i) {
      auto present = exec1({"EXISTS", keys[i]}) == ":1\r\n";
      if (auto& err = answers.at(i)) {
        CHECK(*err == caf::sec::request_receiver_down);
        CHECK_FALSE(present);
        if (sys.render(*err).find("before saving") != std::string::npos)
          ++unsaved;
      } else {
        CHECK(present);
      }
    }
  }
  CHECK(unsaved > 0);
}
