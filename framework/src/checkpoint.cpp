#include "trellis/checkpoint.hpp"

#include "tell.hpp"
#include "trellis/lifecycle_event.hpp"

namespace trellis {

namespace {

const std::optional<std::string> no_bytes;

const std::string no_key;

} // namespace

checkpoint::checkpoint(caf::actor_system& sys,
                       std::shared_ptr<checkpoint_store> store,
                       std::string key, std::optional<std::string> last) {
  auto core = std::make_shared<detail::checkpoint_core>();
  core->sys = &sys;
  core->store = std::move(store);
  core->key = std::move(key);
  core->last = std::move(last);
  core_ = std::move(core);
}

const std::string& checkpoint::key() const noexcept {
  return core_ ? core_->key : no_key;
}

const std::optional<std::string>& checkpoint::last_bytes() const noexcept {
  return core_ ? core_->last : no_bytes;
}

caf::error checkpoint::save_bytes(const std::string& bytes) const {
  if (!core_ || !core_->store)
    return make_error(errc::not_supported, "checkpoint",
                      "this checkpoint has no store");
  auto& c = *core_;
  if (c.latest && c.latest->load(std::memory_order_acquire) != c.incarnation)
    return make_error(errc::checkpoint_failed, c.key,
                      "superseded: a newer incarnation of the child runs");
  auto err = c.store->save(c.key, bytes);
  if (err && c.sys) {
    constexpr auto kind = lifecycle_kind::checkpoint_failed;
    detail::tell(*c.sys, detail::listened(c.feed.get()), kind, [&] {
      return lifecycle_event::about(kind, c.key, c.id).with_reason(err);
    });
  }
  return err;
}

caf::error checkpoint::clear() const {
  if (!core_ || !core_->store)
    return caf::none;
  return core_->store->erase(core_->key);
}

} // namespace trellis
