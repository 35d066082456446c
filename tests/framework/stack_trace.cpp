#include "test_support.hpp"

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "throw_trace.hpp"
#include "trellis/detail/running_tree.hpp"
#include "trellis/stack_trace.hpp"

using namespace trellis;
using namespace trellis::test;

namespace trace_test {

// The line of the throw in parse_order, for the frame's line number.
constexpr unsigned parse_order_throw_line = __LINE__ + 5;

[[gnu::noinline]] int parse_order(int x) {
  asm volatile("");
  if (x < 0)
    throw std::invalid_argument("negative order");
  return x;
}

[[gnu::noinline]] int at_past_end(const std::vector<int>& xs) {
  auto result = xs.at(xs.size());
  asm volatile("");
  return result;
}

[[gnu::noinline]] void thrower_a() {
  asm volatile("");
  throw std::runtime_error("a");
}

[[gnu::noinline]] void thrower_b() {
  asm volatile("");
  throw std::runtime_error("b");
}

// Restores the process-wide switch whatever a test does to it.
struct capture_guard {
  bool was = capture_throw_traces();
  ~capture_guard() {
    capture_throw_traces(was);
  }
};

// Stands for a tree: what a supervised child's thread has set.
int fake_tree;

bool names(const std::vector<stack_frame>& frames, const std::string& fn) {
  for (auto& f : frames)
    if (f.function.find(fn) != std::string::npos)
      return true;
  return false;
}

// Catches what `f` throws and takes its trace, on this thread.
template <class F>
std::optional<stack_trace> trace_of(F f) {
  try {
    f();
  } catch (...) {
    return detail::take_throw_trace(std::current_exception());
  }
  FAIL("nothing was thrown");
  return std::nullopt;
}

} // namespace trace_test

using namespace trace_test;

TEST_CASE("a throw in a supervised child leaves a trace that names the "
          "throwing function",
          "[stack_trace]") {
  capture_guard guard;
  capture_throw_traces(true);
  fixture f;
  SECTION("caught inside the child") {
    auto fn = [](caf::event_based_actor*) -> caf::behavior {
      return {[](int x) -> std::string {
        auto t = trace_of([x] { parse_order(x); });
        return t ? to_string(*t) : std::string{"none"};
      }};
    };
    auto sup = f.start(supervisor("root").child(worker("parser", fn)));
    std::string rendered;
    f.probe->request(f.actor_of(sup, "parser"), patience, -1)
      .receive([&](std::string& x) { rendered = std::move(x); },
               [](caf::error& err) { FAIL(to_string(err)); });
    INFO(rendered);
    // Frame 0 is the function that threw, not the interposer.
    CHECK_THAT(rendered, Catch::StartsWith("#0 0x"));
    auto first_line = rendered.substr(0, rendered.find('\n'));
    CHECK_THAT(first_line, Catch::Contains("trace_test::parse_order(int)"));
#ifdef TRELLIS_TEST_DEBUG_INFO
    CHECK_THAT(first_line,
               Catch::Contains("stack_trace.cpp:"
                               + std::to_string(parse_order_throw_line)));
#endif
    CHECK_THAT(first_line, Catch::Contains("(framework_tests)"));
    stop_supervisor(f.sys, sup);
  }
  SECTION("seen by an exception handler set with set_exception_handler") {
    auto seen = std::make_shared<std::promise<std::optional<stack_trace>>>();
    auto fn = [seen](caf::event_based_actor* self) -> caf::behavior {
      self->set_exception_handler(
        [seen](caf::scheduled_actor*, std::exception_ptr& x) -> caf::error {
          seen->set_value(detail::take_throw_trace(x));
          return caf::exit_reason::user_shutdown;
        });
      return {[](int x) { parse_order(x); }};
    };
    auto sup = f.start(supervisor("root").intensity(5).child(
      worker("parser", fn).restart(restart::temporary)));
    auto result = seen->get_future();
    f.probe->send(f.actor_of(sup, "parser"), -1);
    REQUIRE(result.wait_for(patience) == std::future_status::ready);
    auto trace = result.get();
    REQUIRE(trace);
    auto frames = symbolize(*trace);
    REQUIRE(!frames.empty());
    CHECK_THAT(frames[0].function,
               Catch::Contains("trace_test::parse_order(int)"));
#ifdef TRELLIS_TEST_DEBUG_INFO
    CHECK_THAT(frames[0].file, Catch::EndsWith("stack_trace.cpp"));
    CHECK(frames[0].line == parse_order_throw_line);
#endif
    stop_supervisor(f.sys, sup);
  }
}

TEST_CASE("a trace is captured only in a tree and while capturing is on",
          "[stack_trace]") {
  capture_guard guard;
  capture_throw_traces(true);
  SECTION("in a tree, taken once") {
    detail::running_in_tree in_tree{&fake_tree};
    std::exception_ptr x;
    try {
      parse_order(-1);
    } catch (...) {
      x = std::current_exception();
    }
    auto t = detail::take_throw_trace(x);
    REQUIRE(t);
    CHECK(names(symbolize(*t), "trace_test::parse_order"));
    CHECK(!detail::take_throw_trace(x));
  }
  SECTION("capturing off") {
    capture_throw_traces(false);
    CHECK(!capture_throw_traces());
    detail::running_in_tree in_tree{&fake_tree};
    CHECK(!trace_of([] { parse_order(-1); }));
  }
  SECTION("outside any tree") {
    CHECK(!trace_of([] { parse_order(-1); }));
  }
  SECTION("rethrown in a tree, thrown outside") {
    std::exception_ptr outside;
    try {
      parse_order(-1);
    } catch (...) {
      outside = std::current_exception();
    }
    detail::running_in_tree in_tree{&fake_tree};
    CHECK(!trace_of([&] { std::rethrow_exception(outside); }));
  }
  SECTION("a throw inside libstdc++ (std::vector::at)") {
    detail::running_in_tree in_tree{&fake_tree};
    std::vector<int> xs{1, 2, 3};
    auto t = trace_of([&] { at_past_end(xs); });
    REQUIRE(t);
    auto frames = symbolize(*t);
    INFO(to_string(*t));
    REQUIRE(!frames.empty());
    CHECK_THAT(frames[0].module, Catch::StartsWith("libstdc++"));
    CHECK(names(frames, "trace_test::at_past_end"));
  }
  SECTION("an exception from make_exception_ptr, never thrown") {
    detail::running_in_tree in_tree{&fake_tree};
    CHECK(!detail::take_throw_trace(
      std::make_exception_ptr(std::runtime_error("never thrown"))));
    CHECK(!detail::take_throw_trace(std::exception_ptr{}));
  }
}

TEST_CASE("threads that throw at once each get their own trace",
          "[stack_trace]") {
  capture_guard guard;
  capture_throw_traces(true);
  std::mutex mtx;
  std::condition_variable cv;
  int ready = 0;
  // Both threads throw, then wait until both have thrown before taking.
  auto run = [&](void (*fn)(), std::exception_ptr& x,
                 std::optional<stack_trace>& t) {
    detail::running_in_tree in_tree{&fake_tree};
    try {
      fn();
    } catch (...) {
      x = std::current_exception();
    }
    std::unique_lock<std::mutex> lock{mtx};
    ++ready;
    cv.notify_all();
    cv.wait_for(lock, patience, [&] { return ready == 2; });
    lock.unlock();
    t = detail::take_throw_trace(x);
  };
  std::exception_ptr xa, xb;
  std::optional<stack_trace> ta, tb;
  std::thread a{[&] { run(thrower_a, xa, ta); }};
  std::thread b{[&] { run(thrower_b, xb, tb); }};
  a.join();
  b.join();
  REQUIRE(ta);
  REQUIRE(tb);
  auto fa = symbolize(*ta);
  auto fb = symbolize(*tb);
  CHECK(names(fa, "trace_test::thrower_a"));
  CHECK(!names(fa, "trace_test::thrower_b"));
  CHECK(names(fb, "trace_test::thrower_b"));
  CHECK(!names(fb, "trace_test::thrower_a"));
  // Another thread's exception has no trace here.
  detail::running_in_tree in_tree{&fake_tree};
  CHECK(!detail::take_throw_trace(xa));
}

TEST_CASE("symbolizing odd addresses renders them as unknown",
          "[stack_trace]") {
  auto heap = std::make_unique<int>(7);
  std::vector<uintptr_t> odd{0,
                             1,
                             0xdeadbeef,
                             UINTPTR_MAX,
                             UINTPTR_MAX / 2,
                             reinterpret_cast<uintptr_t>(heap.get())};
  stack_trace t{odd.data(), odd.size()};
  auto frames = symbolize(t);
  REQUIRE(frames.size() == odd.size());
  for (size_t i = 0; i < odd.size(); ++i) {
    CHECK(frames[i].address == odd[i]);
    CHECK(frames[i].function.empty());
  }
  auto text = to_string(t);
  CHECK_THAT(text, Catch::StartsWith("#0 0x0 ??\n#1 0x1 ??\n#2 0xdeadbeef ??\n"));
  CHECK(std::count(text.begin(), text.end(), '\n') == 6);
  CHECK(to_string(stack_trace{}).empty());
  SECTION("from many threads at once") {
    std::vector<std::thread> threads;
    std::vector<std::string> texts(4);
    for (size_t i = 0; i < texts.size(); ++i)
      threads.emplace_back([&, i] { texts[i] = to_string(t); });
    for (auto& th : threads)
      th.join();
    for (auto& x : texts)
      CHECK(x == text);
  }
}

TEST_CASE("past its budget a thread keeps only the throw site",
          "[stack_trace]") {
  static int fake_tree;
  detail::running_in_tree in_tree{&fake_tree};
  // However the seconds fall, 10,000 throws in a row exceed 100 in one.
  size_t walked = 0;
  std::optional<stack_trace> site;
  for (int i = 0; i < 10'000 && !site; ++i) {
    std::exception_ptr x;
    try {
      trace_test::parse_order(-1);
    } catch (...) {
      x = std::current_exception();
    }
    auto t = detail::take_throw_trace(x);
    REQUIRE(t);
    if (t->walked()) {
      CHECK(t->size() > 1);
      ++walked;
    } else {
      site = std::move(t);
    }
  }
  REQUIRE(site);
  CHECK(walked >= stack_trace::max_walks_per_second);
  REQUIRE(site->size() == 1);
  auto frames = symbolize(*site);
  CHECK_THAT(frames[0].function, Catch::Contains("trace_test::parse_order"));
  CHECK_THAT(to_string(*site), Catch::Contains("only the throw site"));
}
