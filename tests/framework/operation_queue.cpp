#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "operation_queue.hpp"

using trellis::detail::operation_queue;

namespace {

/// A queue whose start (its first operation) is over.
struct idle_queue {
  operation_queue q;
  std::vector<std::string> log;

  idle_queue() {
    q.end(false);
  }

  auto note(std::string what) {
    return [this, what = std::move(what)] { log.push_back(what); };
  }
};

} // namespace

TEST_CASE("an operation queue is busy with the supervisor's start until it "
          "ends",
          "[operation_queue]") {
  operation_queue q;
  std::vector<int> ran;
  q.when_idle([&] { ran.push_back(1); });
  CHECK(ran.empty());
  q.end(false);
  CHECK(ran == std::vector<int>{1});
}

TEST_CASE("an operation queue runs one operation at a time, in arrival order",
          "[operation_queue]") {
  idle_queue x;
  x.q.begin(false);
  x.q.when_idle(x.note("a"));
  x.q.when_idle(x.note("b"), true); // Overlapping work waits for any other.
  CHECK(x.log.empty());
  x.q.end(false);
  CHECK(x.log == std::vector<std::string>{"a", "b"});
}

TEST_CASE("an operation that work starts holds up the work behind it",
          "[operation_queue]") {
  idle_queue x;
  x.q.begin(false);
  x.q.when_idle([&] {
    x.log.push_back("first");
    x.q.begin(false); // Runs on, as a stop or a start does.
  });
  x.q.when_idle(x.note("second"));
  x.q.end(false);
  CHECK(x.log == std::vector<std::string>{"first"});
  x.q.end(false);
  CHECK(x.log == std::vector<std::string>{"first", "second"});
}

TEST_CASE("overlapping operations run beside each other, not beside others, "
          "and never overtake waiting work",
          "[operation_queue]") {
  idle_queue x;
  x.q.begin(true);
  CHECK(x.q.may_run_now(true));
  CHECK_FALSE(x.q.may_run_now(false));
  x.q.when_idle(x.note("restart"), true);
  CHECK(x.log == std::vector<std::string>{"restart"});
  x.q.when_idle(x.note("group stop"));
  // Something waits: overlapping work queues behind it.
  CHECK_FALSE(x.q.may_run_now(true));
  x.q.when_idle(x.note("another restart"), true);
  CHECK(x.log.size() == 1);
  x.q.end(true);
  CHECK(x.log
        == std::vector<std::string>{"restart", "group stop",
                                    "another restart"});
}

TEST_CASE("the last overlapping operation to end frees the queue",
          "[operation_queue]") {
  idle_queue x;
  x.q.begin(true);
  x.q.begin(true);
  x.q.when_idle(x.note("plain"));
  x.q.end(true);
  CHECK(x.log.empty());
  x.q.end(true);
  CHECK(x.log == std::vector<std::string>{"plain"});
}

TEST_CASE("a queue drains thousands of operations that end at once without "
          "recursing",
          "[operation_queue]") {
  idle_queue x;
  x.q.begin(false);
  int done = 0;
  for (int i = 0; i < 100'000; ++i)
    x.q.when_idle([&] {
      x.q.begin(false);
      ++done;
      x.q.end(false);
    });
  x.q.end(false);
  CHECK(done == 100'000);
}

TEST_CASE("a closed queue runs what waits once, for it to refuse itself, "
          "and runs everything at once after",
          "[operation_queue]") {
  idle_queue x;
  x.q.begin(false);
  x.q.begin_reply(caf::response_promise{});
  x.q.when_idle([&] { x.log.push_back(x.q.closed() ? "refused" : "ran"); });
  CHECK(x.log.empty());
  x.q.close(caf::error{});
  CHECK(x.log == std::vector<std::string>{"refused"});
  CHECK(x.q.closed());
  CHECK(x.q.may_run_now(false));
  x.q.when_idle(x.note("late"));
  CHECK(x.log.back() == "late");
}

TEST_CASE("an answered operation ends once: its token, used again or after "
          "its slot went to another operation, ends nothing",
          "[operation_queue]") {
  idle_queue x;
  auto a = x.q.begin_reply(caf::response_promise{}, true);
  auto b = x.q.begin_reply(caf::response_promise{}, true);
  x.q.when_idle(x.note("after"));
  x.q.reply(a, caf::error{});
  x.q.reply(a, caf::error{});
  CHECK(x.log.empty()); // b still runs
  auto c = x.q.begin_reply(caf::response_promise{}, true);
  CHECK(c != a);
  x.q.reply(b, caf::error{});
  x.q.reply(a, caf::error{});
  CHECK(x.log.empty()); // c still runs, in a's slot
  x.q.reply(c, caf::error{});
  CHECK(x.log == std::vector<std::string>{"after"});
}
