#pragma once

/// @file
/// `checkpoint`: the state a child saves for its next incarnation.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/group.hpp>

#include "trellis/checkpoint_store.hpp"
#include "trellis/detail/event_feed.hpp"
#include "trellis/errc.hpp"

namespace trellis {

namespace detail {

/// What all copies of one incarnation's checkpoint share.
struct checkpoint_core {
  caf::actor_system* sys = nullptr;
  std::shared_ptr<checkpoint_store> store;
  std::string key;
  std::optional<std::string> last;
  /// The child's latest incarnation, and this one: a superseded incarnation
  /// (one declared hung, say, and still running) must not overwrite what its
  /// replacement saved.
  std::shared_ptr<const std::atomic<uint64_t>> latest;
  uint64_t incarnation = 0;
  /// Where failed saves are told; `key` is the child's path, `id` its id.
  std::shared_ptr<event_feed> feed;
  std::string id;
};

} // namespace detail

/// A child's checkpoint: the state it last saved, handed to the factory of
/// its next incarnation (`child_context::checkpoint()`), so that a crash
/// loses at most the work since the last save. Capture it in the actor and
/// save after each change worth keeping:
///
/// ~~~
/// worker("counter", [](child_context& ctx) {
///   return ctx.spawn([cp = ctx.checkpoint()](event_based_actor* self) {
///     auto n = std::make_shared<int>(cp.restore_or(0));
///     return behavior{[=](add_atom, int x) -> result<int> {
///       *n += x;
///       if (auto err = cp.save(*n)) // reported and published as well
///         return err;
///       return *n;                  // survives a crash from here on
///     }};
///   });
/// });
/// ~~~
///
/// Saves are synchronous and thread-safe; copies share one checkpoint. A
/// failed save is reported (`checkpoint_failed`) and published as an event,
/// and returned. Saves of an incarnation its supervisor already replaced
/// fail with `errc::checkpoint_failed` and change nothing. Where it is kept
/// is the child spec's `checkpoint_store`: by default the supervisor's
/// memory store. It is erased when the child leaves its supervisor for good
/// (`delete_child`, a temporary child's end, a dynamic child's last exit); a
/// dynamic child starts without one.
class checkpoint {
public:
  /// A checkpoint that holds nothing and cannot save.
  checkpoint() = default;

  /// A checkpoint of `key` in `store` that starts with `last`.
  checkpoint(caf::actor_system& sys, std::shared_ptr<checkpoint_store> store,
             std::string key, std::optional<std::string> last);

  /// A checkpoint over shared state that the supervisor prepared (see
  /// `child_context::checkpoint()`); not for applications.
  explicit checkpoint(std::shared_ptr<const detail::checkpoint_core> core)
    : core_(std::move(core)) {
    // nop
  }

  /// Returns the key under which it is stored: the child's path.
  const std::string& key() const noexcept;

  /// Returns the bytes this incarnation started with, if any.
  const std::optional<std::string>& last_bytes() const noexcept;

  /// Saves raw bytes for the next incarnation.
  caf::error save_bytes(const std::string& bytes) const;

  /// Saves `x`, serialized by CAF's binary serializer (any type CAF can
  /// inspect), for the next incarnation.
  template <class T>
  caf::error save(const T& x) const {
    if (!core_ || !core_->sys)
      return save_bytes({});
    std::vector<char> buf;
    caf::binary_serializer sink{*core_->sys, buf};
    if (auto err = sink(const_cast<T&>(x)))
      return err;
    return save_bytes(std::string{buf.begin(), buf.end()});
  }

  /// Returns what this incarnation started with as a `T`: none without a
  /// checkpoint, `errc::corrupt_checkpoint` if the bytes are not a `T`.
  template <class T>
  caf::expected<std::optional<T>> restore() const {
    auto& last = last_bytes();
    if (!last || !core_->sys)
      return std::optional<T>{};
    T x;
    caf::binary_deserializer source{*core_->sys, last->data(), last->size()};
    if (auto err = source(x))
      return make_error(errc::corrupt_checkpoint, key(),
                        core_->sys->render(err));
    if (source.remaining() != 0)
      return make_error(errc::corrupt_checkpoint, key(),
                        "trailing bytes after the restored value");
    return std::optional<T>{std::move(x)};
  }

  /// Returns what this incarnation started with as a `T`, or `fallback`
  /// without a checkpoint or if the bytes are not a `T` (use `restore` to
  /// tell the two apart).
  template <class T>
  T restore_or(T fallback) const {
    auto x = restore<T>();
    return x && *x ? std::move(**x) : std::move(fallback);
  }

  /// Erases the stored checkpoint: the next incarnation starts fresh.
  caf::error clear() const;

private:
  std::shared_ptr<const detail::checkpoint_core> core_;
};

} // namespace trellis
