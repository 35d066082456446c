#pragma once

/// @file
/// Fault injection: kill, crash, hang or slow down a tree's children on
/// purpose, one by one or from a chaos monkey, to test recovery.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace trellis {

/// What a fault does to a child of a tree.
enum class fault_kind : uint8_t {
  /// Kills the child's actor (`caf::exit_reason::kill`).
  kill,
  /// Makes the child's actor throw `injected_fault` inside a handler.
  exception,
  /// Makes the child's actor block its thread in a handler for the fault's
  /// duration: a hung actor, as its health check sees it.
  hang,
  /// Makes the child's next start take the fault's duration longer: its
  /// supervisor blocks before calling the factory, as OTP's supervisor
  /// blocks on a slow `init/1`.
  slow_start,
  /// Makes the child's next start fail with `errc::start_failed` instead of
  /// calling its factory.
  start_failure,
};

/// Returns the enumerator's name.
std::string to_string(fault_kind x);

/// One fault, aimed at a child by its path.
struct fault {
  /// What the fault does.
  fault_kind kind = fault_kind::kill;
  /// The child's path, e.g. `root/db/writer`.
  std::string path;
  /// How long a `hang` or `slow_start` lasts.
  caf::timespan duration{0};
};

/// Renders a fault, e.g. `exception root/db/writer`.
std::string to_string(const fault& x);

/// Lets CAF print a `fault` (`caf::deep_to_string`) and serialize it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fault& x) {
  return f(caf::meta::type_name("trellis::fault"), x.kind, x.path,
           x.duration);
}

/// What a child throws when a fault of kind `exception` reaches it; its
/// crash reason names this type.
class injected_fault : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// `(fault_atom, fault_kind, caf::timespan)` makes any actor Trellis spawned
/// throw (`exception`) or block (`hang`) in its default handler, which only
/// sees messages no behavior matched. `(fault_atom, fault_kind, std::string
/// id, caf::timespan)` arms a supervisor's next start of child `id` with a
/// `slow_start` or `start_failure`; it answers `caf::ok_atom` or
/// `errc::not_found`.
using fault_atom = caf::atom_constant<caf::atom("tr_fault")>;

/// `(caf::get_atom, faults_atom)` asks a chaos monkey for the faults it
/// injected so far, as `std::vector<fault>`.
using faults_atom = caf::atom_constant<caf::atom("tr_faults")>;

/// Injects `f` into the tree under `root` and returns once it is delivered
/// (not once it took effect): the child's actor is killed, or receives the
/// fault message, or its supervisor is armed. Fails with `errc::not_found`
/// for an unknown path or a child without an actor (for faults that need
/// one). Blocks the caller; from an actor, send the messages above instead.
caf::error inject(caf::actor_system& sys, const caf::actor& root,
                  const fault& f);

/// What a chaos monkey injects, and how often.
struct chaos_config {
  /// Seeds the monkey's choices: the same seed on the same tree under CAF's
  /// test scheduler gives the same faults in the same order.
  uint64_t seed = 0;
  /// The time between two faults (on the actor clock, so a test clock
  /// drives it).
  caf::timespan interval = std::chrono::milliseconds(100);
  /// The kinds to pick from, uniformly.
  std::vector<fault_kind> kinds{fault_kind::exception};
  /// Only children whose path starts with this prefix; empty for all.
  std::string under;
  /// Whether supervisors may be targets, too (workers always are).
  bool supervisors = false;
  /// The duration of `hang` and `slow_start` faults.
  caf::timespan duration = std::chrono::milliseconds(50);
  /// Stops after this many faults; 0 for no limit.
  size_t max_faults = 0;
};

/// Spawns a chaos monkey: every `interval` it takes a snapshot of the tree
/// under `root`, picks a running child (sorted by path, so the choice only
/// depends on the seed and the tree) and a kind, and injects the fault.
/// Faults that need an actor only target running children. It stops when
/// `root` goes, after `max_faults`, or when told to exit; ask it for what it
/// did with `(caf::get_atom, faults_atom)`.
caf::actor spawn_chaos_monkey(caf::actor_system& sys, const caf::actor& root,
                              chaos_config cfg);

namespace detail {

/// Makes `self` answer `(fault_atom, kind, duration)` messages.
void install_fault_hooks(caf::scheduled_actor* self);

} // namespace detail

} // namespace trellis
