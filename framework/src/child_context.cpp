#include "trellis/child_context.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include <caf/abstract_actor.hpp>
#include <caf/actor.hpp>
#include <caf/default_attachable.hpp>
#include <caf/message_id.hpp>

#include "distribution.hpp"
#include "tell.hpp"
#include "trellis/atoms.hpp"
#include "trellis/child_spec.hpp"
#include "trellis/lifecycle_event.hpp"

namespace trellis {

namespace detail {

void announce_started(caf::actor_addr& listener, caf::abstract_actor* self) {
  // Handed to the scheduler rather than to this worker's own queue, where
  // CAF would run the supervisor next, ahead of whatever the child's
  // initialization sent: a restart's replacement is at work sooner, and the
  // supervisor runs on another worker alongside it.
  if (auto dest = caf::actor_cast<caf::actor>(listener))
    dest->eq_impl(caf::make_message_id(), self->ctrl(), nullptr,
                  started_atom::value);
  listener = nullptr;
}

void monitored_by(const caf::actor_addr& listener, caf::abstract_actor* self) {
  if (listener)
    self->attach(
      caf::default_attachable::make_monitor(self->address(), listener));
}

} // namespace detail

const trellis::checkpoint& child_context::checkpoint() {
  if (checkpoint_)
    return *checkpoint_;
  auto core = std::make_shared<detail::checkpoint_core>();
  core->sys = sys_;
  core->store = start_.store;
  core->key = path_;
  if (!start_.latest)
    start_.latest = std::make_shared<std::atomic<uint64_t>>(start_.incarnation);
  core->latest = start_.latest;
  core->incarnation = start_.incarnation;
  core->feed = feed_;
  core->id = id_;
  if (start_.store && start_.fresh) {
    // A dynamic child's id may repeat what an earlier run left in a durable
    // store: a first start is a fresh start.
    start_.store->erase(path_);
  } else if (start_.store) {
    if (auto x = start_.store->load(path_)) {
      core->last = std::move(*x);
    } else if (is(x.error(), errc::corrupt_checkpoint)) {
      constexpr auto kind = lifecycle_kind::checkpoint_skipped;
      detail::tell(*sys_, detail::listened(feed_.get()), kind, [&] {
        return lifecycle_event::about(kind, path_, id_)
          .with_reason(x.error())
          .with_restart_count(restart_count_);
      });
    } else {
      recovery_error_ = x.error();
    }
  }
  checkpoint_.emplace(std::move(core));
  return *checkpoint_;
}

start_result child_context::spawn_remote(const std::string& type,
                                         caf::message args) {
  auto d = detail::installed_distribution();
  auto unreachable = d ? d->unreachable(*sys_)
                       : make_error(errc::not_configured, "distribution",
                                    "no config of this program went through "
                                    "trellis::configure_node "
                                    "(trellis::distribution)");
  if (unreachable)
    return make_error(errc::start_failed, path_,
                      "a remote child cannot reach other nodes: "
                        + sys_->render(unreachable));
  auto& nodes = start_.nodes;
  auto lost = [this](const std::string& x) {
    auto& xs = start_.lost;
    return std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  // Preference order, but nodes lost recently only as a last resort.
  std::vector<std::string> order;
  std::copy_if(nodes.begin(), nodes.end(), std::back_inserter(order),
               [&](const std::string& x) { return !lost(x); });
  std::copy_if(nodes.begin(), nodes.end(), std::back_inserter(order), lost);
  std::string why;
  for (auto& addr : order) {
    std::string failure;
    if (auto where = parse_node_address(addr)) {
      auto hdl = d->spawn_on(*sys_, where->first, where->second, supervisor_,
                             path_, type, args, failure);
      if (hdl) {
        node_ = addr;
        return hdl;
      }
    } else {
      failure = sys_->render(make_error(errc::invalid_spec, "nodes", addr));
    }
    why += why.empty() ? "" : "; ";
    why += addr + ": " + failure;
  }
  return make_error(errc::start_failed, path_,
                    "remote_type '" + type
                      + "' started on none of its nodes: " + why);
}

} // namespace trellis
