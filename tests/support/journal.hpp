#pragma once

// A child whose incarnations write down what they handle, for the tests of
// kept mailboxes and stable handles: which incarnation handled which
// request, in order, and what each request got.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace trellis::test {

using hold_atom = caf::atom_constant<caf::atom("hold")>;

/// Shared by a child's incarnations: which incarnation handled which int,
/// in order; whether the first may go on (it holds until released, so that
/// requests queue behind it); whether incarnation `gen` throws on `x`; and
/// whether a restart waits (the supervisor with it) until `started` opens.
struct journal {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::pair<int, int>> handled; // (incarnation, x)
  std::atomic<int> incarnations{0};
  std::atomic<bool> released{false};
  std::function<bool(int gen, int x)> crashes;
  bool hold_starts = false;
  bool started = false;

  /// What incarnation `gen` handled, in order.
  std::vector<int> of(int gen) {
    std::lock_guard<std::mutex> guard{mtx};
    std::vector<int> result;
    for (auto& [g, x] : handled)
      if (g == gen)
        result.push_back(x);
    return result;
  }

  /// How many times any incarnation handled `x`.
  size_t count(int x) {
    std::lock_guard<std::mutex> guard{mtx};
    return static_cast<size_t>(
      std::count_if(handled.begin(), handled.end(),
                    [x](auto& p) { return p.second == x; }));
  }

  /// Lets a held restart go on.
  void let_start() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      started = true;
    }
    cv.notify_all();
  }
};

/// Answers an int `x` with `gen * 1000 + x`, `gen` counting incarnations; a
/// negative `x` with an error of its own; a string with itself and " back".
inline caf::behavior keeper(caf::event_based_actor*,
                            std::shared_ptr<journal> j) {
  int gen = ++j->incarnations;
  return {
    [j](hold_atom) {
      // Bounded: a test that never releases fails on its own waits.
      for (int i = 0; i < 20'000 && !j->released.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    },
    [j, gen](int x) -> caf::result<int> {
      {
        std::lock_guard<std::mutex> guard{j->mtx};
        j->handled.emplace_back(gen, x);
      }
      if (j->crashes && j->crashes(gen, x))
        throw std::runtime_error("boom on " + std::to_string(x));
      if (x < 0)
        return make_error(errc::not_supported, "negative");
      return gen * 1000 + x;
    },
    [](const std::string& x) { return x + " back"; },
  };
}

/// The child `w` running `keeper`; with `j->hold_starts`, its restarts wait
/// in the factory, which runs in the supervisor, until `let_start`.
inline child_spec journaled(std::shared_ptr<journal> j) {
  return worker("w", [j](child_context& ctx) -> start_result {
    if (j->incarnations > 0 && j->hold_starts) {
      // Bounded: a test that never lets it start fails on its own waits.
      std::unique_lock<std::mutex> guard{j->mtx};
      j->cv.wait_for(guard, std::chrono::minutes(1),
                     [&] { return j->started; });
    }
    return ctx.spawn(keeper, j);
  });
}

using call = decltype(std::declval<caf::scoped_actor&>()->request(
  std::declval<caf::actor>(), patience, 1));

/// Sends the requests `from`..`to` to `dest`.
inline std::vector<call> send_requests(fixture& f, const caf::actor& dest,
                                       int from, int to) {
  std::vector<call> result;
  for (int i = from; i <= to; ++i)
    result.push_back(f.probe->request(dest, patience, i));
  return result;
}

/// An answer: the value or the error.
struct answer {
  int value = -1;
  caf::error err;
};

/// Waits for each answer, in order.
inline std::vector<answer> answers(std::vector<call>& calls) {
  std::vector<answer> result;
  for (auto& c : calls) {
    answer a;
    c.receive([&](int x) { a.value = x; },
              [&](caf::error& e) { a.err = std::move(e); });
    if (a.err == caf::sec::request_timeout)
      FAIL("a request got no answer in time");
    result.push_back(std::move(a));
  }
  return result;
}

/// The ints `from`..`to`.
inline std::vector<int> range(int from, int to) {
  std::vector<int> result;
  for (int i = from; i <= to; ++i)
    result.push_back(i);
  return result;
}

} // namespace trellis::test
