#include "trellis/detail/resume_limiter.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>
#include <caf/response_promise.hpp>

#include "trellis/child_spec.hpp"
#include "trellis/crash_handler.hpp"
#include "trellis/errc.hpp"

namespace trellis::detail {

resume_limiter::resume_limiter(const child_spec& spec,
                               caf::actor_addr supervisor)
  : spec_(std::make_shared<const child_spec>(spec)),
    supervisor_(std::move(supervisor)) {
  // nop
}

resume_limiter::~resume_limiter() = default;

bool resume_limiter::resume(caf::scheduled_actor* self,
                            caf::mailbox_element& x,
                            const std::exception_ptr& e) {
  auto reason = crash_reason(e);
  auto what = decision::escalate;
  try {
    what = spec_->decider()(reason);
  } catch (...) {
    // As on the supervisor's side: a decider that throws escalates.
  }
  uint64_t resumes = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (what != decision::resume || !admit(self->clock().now())) {
      last_ = verdict{self->address(), what};
      return false;
    }
    resumes = times_.size();
  }
  if (x.mid.is_request()) {
    // What CAF does for a request whose handler threw, minus the exit.
    self->current_mailbox_element(&x);
    self->make_response_promise().deliver(reason);
  }
  // Handed to the scheduler, as the start announcement is.
  if (auto sup = caf::actor_cast<caf::actor>(supervisor_))
    sup->eq_impl(caf::make_message_id(), self->ctrl(), nullptr,
                 resumed_atom::value, std::move(reason), resumes);
  return true;
}

std::optional<decision> resume_limiter::decided(const caf::actor_addr& who,
                                                const caf::error& reason) {
  std::optional<verdict> x;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    x.swap(last_);
  }
  if (!x || x->who != who || !is(reason, errc::unhandled_exception))
    return std::nullopt;
  return x->what;
}

bool resume_limiter::admit(time_point now) {
  auto limit = spec_->resume_limit();
  if (limit.resumes == 0)
    return false;
  // A resume at time t is within the period of `now` when t >= now - period,
  // as a restart is for the restart intensity.
  auto threshold = now - limit.period;
  times_.erase(times_.begin(),
               std::find_if(times_.begin(), times_.end(),
                            [&](time_point t) { return t >= threshold; }));
  if (times_.size() >= limit.resumes)
    return false;
  times_.push_back(now);
  return true;
}

} // namespace trellis::detail
