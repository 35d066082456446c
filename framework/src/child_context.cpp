#include "trellis/child_context.hpp"

#include <caf/send.hpp>

#include "report.hpp"
#include "trellis/lifecycle_event.hpp"

namespace trellis {

const trellis::checkpoint& child_context::checkpoint() {
  if (checkpoint_)
    return *checkpoint_;
  auto core = std::make_shared<detail::checkpoint_core>();
  core->sys = sys_;
  core->store = store_;
  core->key = path_;
  if (latest_) {
    if (!*latest_)
      *latest_ = std::make_shared<std::atomic<uint64_t>>(incarnation_);
    core->latest = *latest_;
  }
  core->incarnation = incarnation_;
  core->feed = feed_;
  core->supervisor = path_.substr(0, path_.size() - id_.size() - 1);
  core->id = id_;
  if (store_ && fresh_) {
    // A dynamic child's id may repeat what an earlier run left in a durable
    // store: a first start is a fresh start.
    store_->erase(path_);
  } else if (store_) {
    if (auto x = store_->load(path_)) {
      core->last = std::move(*x);
    } else if (is(x.error(), errc::corrupt_checkpoint)) {
      detail::report::checkpoint_skipped(*sys_, core->supervisor, id_,
                                         x.error(), restart_count_);
      if (feed_ && feed_->live())
        caf::anon_send(feed_->group(),
                       lifecycle_event{lifecycle_kind::checkpoint_skipped,
                                       path_, id_, x.error(), restart_count_,
                                       std::string{}, caf::make_timestamp(),
                                       std::string{}});
    } else {
      recovery_error_ = x.error();
    }
  }
  checkpoint_.emplace(std::move(core));
  return *checkpoint_;
}

} // namespace trellis
