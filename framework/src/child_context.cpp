#include "trellis/child_context.hpp"

#include <caf/send.hpp>

#include "report.hpp"
#include "trellis/lifecycle_event.hpp"

namespace trellis {

const trellis::checkpoint& child_context::checkpoint() {
  if (checkpoint_)
    return *checkpoint_;
  std::optional<std::string> last;
  if (store_ && fresh_) {
    // A dynamic child's id may repeat what an earlier run left in a durable
    // store: a first start is a fresh start.
    store_->erase(path_);
  } else if (store_) {
    if (auto x = store_->load(path_)) {
      last = std::move(*x);
    } else {
      auto sup = path_.substr(0, path_.size() - id_.size() - 1);
      detail::report::checkpoint_skipped(*sys_, sup, id_, x.error(),
                                         restart_count_);
      if (events_)
        caf::anon_send(events_,
                       lifecycle_event{lifecycle_kind::checkpoint_skipped,
                                       path_, id_, x.error(), restart_count_,
                                       std::string{}, caf::make_timestamp()});
    }
  }
  checkpoint_.emplace(*sys_, store_, path_, std::move(last));
  return *checkpoint_;
}

} // namespace trellis
