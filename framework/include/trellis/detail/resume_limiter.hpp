#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/scheduled_actor.hpp>

#include "trellis/decision.hpp"

namespace trellis {

class child_spec;

} // namespace trellis

namespace trellis::detail {

/// A child that resumed tells its supervisor:
/// `(resumed_atom, caf::error reason, uint64_t resumes)`.
using resumed_atom = caf::atom_constant<caf::atom("tr_resumed")>;

/// One child's decider on the child's side, and its resumes (see
/// `decision::resume`), shared by the supervisor and the child's
/// incarnations. When a handler of an incarnation throws, the incarnation
/// asks the decider here, on its own thread, with the reason the crash
/// would have. A `resume` within the spec's `resume_limit` keeps the
/// incarnation running; any other answer (a `resume` past the limit
/// included) is noted for the supervisor, which takes it for the crash
/// that follows instead of asking the decider again. Until a handler
/// throws, this costs nothing.
class resume_limiter {
public:
  using time_point = caf::actor_clock::time_point;

  /// For the child whose spec is `spec` (a copy, sharing its decider),
  /// supervised by `supervisor`.
  resume_limiter(const child_spec& spec, caf::actor_addr supervisor);

  ~resume_limiter();

  resume_limiter(const resume_limiter&) = delete;
  resume_limiter& operator=(const resume_limiter&) = delete;

  // -- the child's side -------------------------------------------------------

  /// Decides about `e`, which a handler of `self` threw on `x`, on `self`'s
  /// thread. Returns true if `self` resumes: then a request `x` has its
  /// answer (the crash reason) and the supervisor is told. Returns false if
  /// the exception is to take its course, its decision noted for the
  /// supervisor.
  bool resume(caf::scheduled_actor* self, caf::mailbox_element& x,
              const std::exception_ptr& e);

  // -- the supervisor's side --------------------------------------------------

  /// Returns the decision that incarnation `who` took for the exception it
  /// exited on with `reason` (a crash reason), and forgets it; none if `who`
  /// decided nothing for this exit.
  std::optional<decision> decided(const caf::actor_addr& who,
                                  const caf::error& reason);

private:
  struct verdict {
    caf::actor_addr who;
    decision what;
  };

  /// Counts a resume at `now` if the limit allows one.
  bool admit(time_point now);

  std::shared_ptr<const child_spec> spec_;
  /// A weak handle: a child must not keep its supervisor alive.
  caf::actor_addr supervisor_;
  std::mutex mtx_;
  /// The resumes within the last period, oldest first.
  std::vector<time_point> times_;
  /// The last crash's decision, taken by the incarnation that crashed.
  std::optional<verdict> last_;
};

} // namespace trellis::detail
