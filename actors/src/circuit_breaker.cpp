#include "trellis/actors/circuit_breaker.hpp"

#include <caf/all.hpp>

#include "trellis/atoms.hpp"
#include "trellis/dependency.hpp"
#include "trellis/errc.hpp"
#include "trellis/lifecycle_event.hpp"
#include "trellis/log.hpp"
#include "tree_seat.hpp"

namespace trellis {

namespace {

using half_open_atom = caf::atom_constant<caf::atom("tr_bhalf")>;

/// Matches no answer a target gives, so that every answer reaches the
/// error handler (see `forward`).
using never_answered_atom = caf::atom_constant<caf::atom("tr_bnever")>;

struct breaker {
  circuit_breaker_config config;
  detail::tree_seat seat;
  breaker_state state = breaker_state::closed;
  uint32_t failures = 0;
  /// Incremented on every opening, so that a stale reset timer is ignored.
  uint64_t opened = 0;
  /// Incremented on every change of state: the outcome of a call sent in an
  /// earlier state reaches its caller but counts for nothing.
  uint64_t epoch = 0;
  /// Whether the half-open trial call is on its way.
  bool trial_pending = false;
  /// The target's current actor, looked up again after it failed.
  caf::actor target;
  static inline const char* name = "trellis.circuit_breaker";
};

using breaker_actor = caf::stateful_actor<breaker>;

void change_state(breaker_actor* self, breaker_state to) {
  auto& st = self->state;
  if (st.state == to)
    return;
  st.state = to;
  ++st.epoch;
  auto detail = "state=" + to_string(to) + " failures="
                + std::to_string(st.failures);
  st.seat.tell(self->system(), breaker_state_changed,
               to == breaker_state::open ? log_level::warn : log_level::info,
               st.seat.path, st.config.target(), std::move(detail));
  // Half open, it needs a caller for its trial, and the children that
  // depend on it are paused: it takes its word back, and canaries call.
  if (auto& dep = st.config.dependency(); !dep.empty()) {
    auto status = to == breaker_state::open     ? dependency_status::down
                  : to == breaker_state::closed ? dependency_status::up
                                                : dependency_status::withdrawn;
    report_dependency(self->system(), dep, status, st.seat.path,
                      to == breaker_state::open
                        ? std::to_string(st.failures) + " calls to "
                            + st.config.target() + " failed"
                        : std::string{},
                      st.seat.events);
  }
  if (to == breaker_state::open) {
    st.trial_pending = false;
    self->delayed_send(self, st.config.reset_timeout(),
                       half_open_atom::value, ++st.opened);
  }
}

void on_success(breaker_actor* self, uint64_t epoch) {
  if (epoch != self->state.epoch)
    return;
  self->state.failures = 0;
  self->state.trial_pending = false;
  change_state(self, breaker_state::closed);
}

void on_failure(breaker_actor* self, uint64_t epoch) {
  auto& st = self->state;
  if (epoch != st.epoch)
    return;
  ++st.failures;
  if (st.state == breaker_state::half_open
      || st.failures >= st.config.failure_threshold())
    change_state(self, breaker_state::open);
}

/// Forwards `msg` to the target and relays the answer through `rp`.
void forward(breaker_actor* self, caf::message msg, caf::response_promise rp) {
  auto& st = self->state;
  auto timeout = st.config.call_timeout();
  auto epoch = st.epoch;
  auto failed = [self, rp, epoch](caf::error& err) mutable {
    if (err == caf::sec::request_receiver_down
        || err == caf::sec::request_timeout)
      self->state.target = nullptr; // Look it up again next time.
    on_failure(self, epoch);
    rp.deliver(std::move(err));
  };
  auto call = [self, msg, rp, timeout, failed,
               epoch](caf::actor target) mutable {
    // Answers of any type: CAF 0.17 hands a response that no handler
    // matches to the error handler as `unexpected_response`, with the
    // answer as the error's context. That is the only catch-all for
    // responses an event-based actor has.
    self->request(target, timeout, std::move(msg))
      .then([](never_answered_atom) {},
            [self, rp, failed, epoch](caf::error& err) mutable {
              if (err == caf::sec::unexpected_response) {
                on_success(self, epoch);
                rp.deliver(err.context());
              } else {
                failed(err);
              }
            });
  };
  if (st.target) {
    call(st.target);
    return;
  }
  self->request(st.seat.supervisor, timeout, lookup_atom::value, st.config.target())
    .then(
      [self, call](caf::actor& target) mutable {
        self->state.target = target;
        call(std::move(target));
      },
      failed);
}

caf::behavior run_breaker(breaker_actor* self, circuit_breaker_config config,
                          detail::tree_seat seat) {
  auto& st = self->state;
  st.config = std::move(config);
  st.seat = std::move(seat);
  if (auto& dep = st.config.dependency(); !dep.empty()) {
    // A breaker that stops takes back what it said: its next incarnation
    // starts closed, and an incident must not wait for a report that never
    // comes.
    auto withdraw = [&sys = self->system(), dep, path = st.seat.path] {
      report_dependency(sys, dep, dependency_status::withdrawn, path);
    };
    withdraw();
    self->attach_functor(withdraw);
  }
  // Every message the behavior does not match is a call to forward.
  self->set_default_handler(
    [self](caf::scheduled_actor*,
           caf::message_view& x) -> caf::result<caf::message> {
      auto& bs = self->state;
      if (bs.state == breaker_state::open
          || (bs.state == breaker_state::half_open && bs.trial_pending))
        return make_error(breaker_errc::circuit_open, bs.seat.path,
                          bs.config.target() + " is " + to_string(bs.state)
                            + " after " + std::to_string(bs.failures)
                            + " failures");
      if (bs.state == breaker_state::half_open)
        bs.trial_pending = true;
      auto rp = self->make_response_promise();
      forward(self, x.move_content_to_message(), rp);
      return rp;
    });
  return {
    [self](caf::get_atom, breaker_state_atom) { return self->state.state; },
    [self](half_open_atom, uint64_t opened) {
      if (self->state.state == breaker_state::open
          && self->state.opened == opened)
        change_state(self, breaker_state::half_open);
    },
  };
}

} // namespace

const char* name_of(breaker_errc x) noexcept {
  switch (x) {
    case breaker_errc::circuit_open:
      return "circuit_open";
  }
  return "unknown";
}

std::string to_string(breaker_errc x) {
  return name_of(x);
}

bool is(const caf::error& x, breaker_errc code) {
  return x.category() == breaker_errc_category
         && x.code() == static_cast<uint8_t>(code);
}

std::string to_string(breaker_state x) {
  switch (x) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
  }
  return "unknown";
}

caf::error circuit_breaker_config::validate() const {
  if (target_.empty())
    return make_error(errc::invalid_spec, "target",
                      "a circuit breaker needs a target path");
  if (failure_threshold_ == 0)
    return make_error(errc::invalid_spec, "failure_threshold",
                      "a circuit breaker needs a threshold of at least 1");
  if (call_timeout_ <= caf::timespan{0} || reset_timeout_ <= caf::timespan{0})
    return make_error(errc::invalid_spec, "timeout",
                      "a circuit breaker needs positive timeouts");
  return caf::none;
}

child_spec circuit_breaker(std::string id, circuit_breaker_config config) {
  return worker(std::move(id), [config](child_context& ctx) -> start_result {
    if (auto err = config.validate())
      return err;
    if (config.target() == ctx.path())
      return make_error(errc::invalid_spec, "target",
                        "circuit breaker '" + ctx.path()
                          + "' cannot protect itself");
    return ctx.spawn(run_breaker, config, detail::tree_seat::of(ctx));
  });
}

} // namespace trellis
