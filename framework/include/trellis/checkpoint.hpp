#pragma once

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

#include "trellis/checkpoint_store.hpp"
#include "trellis/errc.hpp"

namespace trellis {

/// A child's checkpoint: the state it last saved, handed to the factory of
/// its next incarnation (`child_context::checkpoint()`), so that a crash
/// loses at most the work since the last save. Capture it in the actor and
/// save after each change worth keeping:
///
/// ~~~
/// worker("counter", [](child_context& ctx) {
///   return ctx.spawn([cp = ctx.checkpoint()](event_based_actor* self) {
///     auto n = std::make_shared<int>(cp.restore_or(0));
///     return behavior{[=](add_atom, int x) {
///       *n += x;
///       cp.save(*n); // survives a crash from here on
///       return *n;
///     }};
///   });
/// });
/// ~~~
///
/// Saves are synchronous and thread-safe; a copy refers to the same
/// checkpoint. Where it is kept is the child spec's `checkpoint_store`: by
/// default the supervisor's memory store. The checkpoint is erased when the
/// child leaves its supervisor for good (`delete_child`, a temporary child's
/// end, a dynamic child's last exit); a dynamic child starts without one.
class checkpoint {
public:
  /// A checkpoint that holds nothing and cannot save.
  checkpoint() = default;

  checkpoint(caf::actor_system& sys, std::shared_ptr<checkpoint_store> store,
             std::string key, std::optional<std::string> last)
    : sys_(&sys),
      store_(std::move(store)),
      key_(std::move(key)),
      last_(std::move(last)) {
    // nop
  }

  /// Returns the key under which it is stored: the child's path.
  const std::string& key() const noexcept {
    return key_;
  }

  /// Returns the bytes this incarnation started with, if any.
  const std::optional<std::string>& last_bytes() const noexcept {
    return last_;
  }

  /// Saves raw bytes for the next incarnation.
  caf::error save_bytes(const std::string& bytes) const {
    if (!store_)
      return make_error(errc::not_supported, "checkpoint",
                        "this checkpoint has no store");
    return store_->save(key_, bytes);
  }

  /// Saves `x`, serialized by CAF's binary serializer (any type CAF can
  /// inspect), for the next incarnation.
  template <class T>
  caf::error save(const T& x) const {
    if (!sys_)
      return save_bytes({});
    std::vector<char> buf;
    caf::binary_serializer sink{*sys_, buf};
    if (auto err = sink(const_cast<T&>(x)))
      return err;
    return save_bytes(std::string{buf.begin(), buf.end()});
  }

  /// Returns what this incarnation started with as a `T`: none without a
  /// checkpoint, an error if the bytes are not a `T`.
  template <class T>
  caf::expected<std::optional<T>> restore() const {
    if (!last_ || !sys_)
      return std::optional<T>{};
    T x;
    caf::binary_deserializer source{*sys_, last_->data(), last_->size()};
    if (auto err = source(x))
      return err;
    if (source.remaining() != 0)
      return make_error(errc::corrupt_checkpoint, key_,
                        "trailing bytes after the restored value");
    return std::optional<T>{std::move(x)};
  }

  /// Returns what this incarnation started with as a `T`, or `fallback`
  /// without a checkpoint or if the bytes are not a `T`.
  template <class T>
  T restore_or(T fallback) const {
    auto x = restore<T>();
    return x && *x ? std::move(**x) : std::move(fallback);
  }

  /// Erases the stored checkpoint: the next incarnation starts fresh.
  caf::error clear() const {
    if (!store_)
      return caf::none;
    return store_->erase(key_);
  }

private:
  caf::actor_system* sys_ = nullptr;
  std::shared_ptr<checkpoint_store> store_;
  std::string key_;
  std::optional<std::string> last_;
};

} // namespace trellis
