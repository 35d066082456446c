// Captures a stack trace at the throw by interposing the C++ runtime's
// __cxa_throw: this definition, in the executable, is the one that every
// `throw` binds to, libstdc++'s and CAF's included, and it passes on to the
// runtime's own, found once through dlsym(RTLD_NEXT).

#include "throw_trace.hpp"

#include <dlfcn.h>
#include <unwind.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <ctime>
#include <typeinfo>

#include "trellis/detail/running_tree.hpp"

namespace trellis {

namespace {

std::atomic<bool> capture_on{true};

} // namespace

void capture_throw_traces(bool on) noexcept {
  capture_on.store(on, std::memory_order_relaxed);
}

bool capture_throw_traces() noexcept {
  return capture_on.load(std::memory_order_relaxed);
}

} // namespace trellis

namespace trellis::detail {

namespace {

// The thread's last few captures: a crash handler takes its trace right
// after the throw, but a child may catch and throw again before it crashes.
struct captured_throw {
  const void* object = nullptr;
  const std::type_info* type = nullptr;
  uint32_t size = 0;
  bool walked = false;
  std::array<uintptr_t, stack_trace::max_frames> frames;
};

constexpr size_t ring_size = 4;

struct throw_ring {
  std::array<captured_throw, ring_size> entries;
  size_t next = 0;
  /// The current second (of the coarse monotonic clock) and the walks in
  /// it (see `stack_trace::max_walks_per_second`).
  time_t second = 0;
  size_t walks = 0;
};

// Trivial, so that the thread-local needs no initialization guard.
thread_local throw_ring ring;

// The frames of the interposer (and of the unwinder) come before the
// thrower's: a few slots to skip them.
constexpr size_t skip_slack = 8;

struct walk_state {
  uintptr_t* frames;
  size_t size;
  size_t capacity;
  uintptr_t stop_at;
};

// Below an actor's consume run CAF's scheduler frames, the same for every
// child: the walk ends there, which halves its cost (a restart is a throw).
uintptr_t caf_consume() noexcept {
  static const auto fn = reinterpret_cast<uintptr_t>(dlsym(
    RTLD_DEFAULT, "_ZN3caf15scheduled_actor7consumeERNS_15mailbox_elementE"));
  return fn;
}

_Unwind_Reason_Code on_frame(_Unwind_Context* ctx, void* arg) {
  auto* st = static_cast<walk_state*>(arg);
  if (st->size == st->capacity)
    return _URC_END_OF_STACK;
  auto ip = _Unwind_GetIP(ctx);
  if (ip == 0)
    return _URC_END_OF_STACK;
  st->frames[st->size++] = ip;
  if (st->stop_at != 0 && _Unwind_GetRegionStart(ctx) == st->stop_at)
    return _URC_END_OF_STACK;
  return _URC_NO_REASON;
}

// No allocation and no lock: runs in every throw of a supervised child.
void note_throw(void* object, const std::type_info* type,
                uintptr_t thrower) noexcept {
  auto& r = ring;
  // An exception's memory is reused once it is gone: a capture of an older
  // exception at this address must not pass for this one's.
  for (auto& e : r.entries)
    if (e.object == object)
      e.object = nullptr;
  if (running_tree == nullptr
      || !capture_on.load(std::memory_order_relaxed))
    return;
  // A coarse clock costs a few nanoseconds; the walk, microseconds.
  timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  if (now.tv_sec != r.second) {
    r.second = now.tv_sec;
    r.walks = 0;
  }
  if (r.walks == stack_trace::max_walks_per_second) {
    auto& e = r.entries[r.next++ % ring_size];
    e.frames[0] = thrower;
    e.size = 1;
    e.walked = false;
    e.type = type;
    e.object = object;
    return;
  }
  ++r.walks;
  std::array<uintptr_t, stack_trace::max_frames + skip_slack> buf;
  walk_state st{buf.data(), 0, buf.size(), caf_consume()};
  _Unwind_Backtrace(on_frame, &st);
  // Frame 0 is the function that called __cxa_throw.
  auto first = std::find(buf.begin(), buf.begin() + std::min(st.size, skip_slack),
                         thrower);
  if (first == buf.begin() + std::min(st.size, skip_slack))
    first = buf.begin();
  auto n = std::min(static_cast<size_t>(buf.begin() + st.size - first),
                    stack_trace::max_frames);
  auto& e = r.entries[r.next++ % ring_size];
  std::copy(first, first + n, e.frames.begin());
  e.size = static_cast<uint32_t>(n);
  e.walked = true;
  e.type = type;
  e.object = object;
}

using cxa_throw_fn = void (*)(void*, std::type_info*, void (*)(void*));

cxa_throw_fn real_cxa_throw() noexcept {
  static const auto fn = reinterpret_cast<cxa_throw_fn>(
    dlsym(RTLD_NEXT, "__cxa_throw"));
  return fn;
}

} // namespace

std::optional<stack_trace> take_throw_trace(const std::exception_ptr& x) {
  // libstdc++'s exception_ptr is the thrown object's address, the pointer
  // that __cxa_throw received.
  static_assert(sizeof(std::exception_ptr) == sizeof(void*));
  if (!x)
    return std::nullopt;
  const void* object = nullptr;
  std::memcpy(&object, &x, sizeof(object));
  auto type = x.__cxa_exception_type();
  for (auto& e : ring.entries) {
    if (e.object == object && e.type == type) {
      e.object = nullptr;
      return stack_trace{e.frames.data(), e.size, e.walked};
    }
  }
  return std::nullopt;
}

} // namespace trellis::detail

namespace __cxxabiv1 {

// Interposes the runtime's throw. Exported from the executable because the
// shared libraries that throw (libstdc++, CAF) reference it.
extern "C" void __cxa_throw(void* object, std::type_info* type,
                            void (*destructor)(void*)) {
  trellis::detail::note_throw(
    object, type, reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  auto real = trellis::detail::real_cxa_throw();
  // Without the runtime's own throw there is no way to throw at all.
  if (real == nullptr)
    std::abort();
  real(object, type, destructor);
  __builtin_unreachable();
}

} // namespace __cxxabiv1
