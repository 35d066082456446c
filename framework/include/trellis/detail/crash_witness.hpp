#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "trellis/crash_report.hpp"

namespace trellis::detail {

/// What a crashing incarnation leaves for its supervisor, written on its own
/// thread while the exception is being handled.
struct crash_record {
  std::optional<logged_message> message;
  std::vector<logged_message> last_messages;
  std::optional<stack_trace> trace;
  std::string state;
  std::string state_error;
};

/// Renders the state of a crashing child (see `child_spec::on_crash_dump`).
using crash_dump = std::function<std::string(caf::local_actor*)>;

/// What a child's spec asks its incarnations to record, for a crash report
/// and for looking inside (trellis/sys.hpp); shared by the spec's copies,
/// null when it asks for nothing.
struct forensics_spec {
  /// How many handled messages each incarnation keeps (0: none).
  size_t last_messages = 0;
  /// Renders the child's state, if set (`child_spec::format_state`).
  crash_dump dump;
  /// Whether each incarnation starts with its statistics on.
  bool statistics = false;
  /// How many handled messages each incarnation traces (0: none).
  size_t trace = 0;

  /// Returns the name of the first option it asks for, or null: what a
  /// refusal names.
  const char* first_option() const noexcept {
    if (last_messages > 0)
      return "keep_last_messages";
    if (dump)
      return "format_state";
    if (statistics)
      return "statistics";
    return trace > 0 ? "trace" : nullptr;
  }

  /// Returns whether it asks for nothing.
  bool empty() const noexcept {
    return last_messages == 0 && !dump && !statistics && trace == 0;
  }
};

/// Adds what `self` knows to its crash record `x`, on its own thread:
/// Trellis' event-based children know their last messages and their
/// state's hook.
using crash_testimony = void (*)(caf::local_actor* self,
                                 crash_record& x) noexcept;

/// Records the crash of `self` on `x`: the throw's stack, the message being
/// handled and what `testify` (if any) adds, kept until its supervisor
/// takes it. On the crashing actor's thread.
void note_crash(caf::local_actor* self, const std::exception_ptr& x,
                crash_testimony testify = nullptr) noexcept;

/// Takes the record the incarnation `who` left, if any.
std::optional<crash_record> take_crash_record(caf::actor_id who);

/// Describes a sender for a report: its path in a tree, or `actor #<id>`
/// (`@<node>` if remote); empty for none.
std::string describe_sender(const caf::strong_actor_ptr& x);

/// Runs `dump` on `self`, which crashes, into `x`; an exception from it
/// becomes `x.state_error`.
void run_crash_dump(const crash_dump& dump, caf::local_actor* self,
                    crash_record& x) noexcept;

/// Renders the state of `self` (the child at `path`) with `dump` for
/// `get_state`: a message with the state as `std::string`, or with an
/// error: `errc::not_supported` without a hook, `errc::unhealthy` naming
/// what the hook threw.
caf::message render_state(const crash_dump& dump, caf::local_actor* self,
                          const std::string& path) noexcept;

/// The last messages an incarnation handled, in a ring of fixed capacity.
class message_ring {
public:
  explicit message_ring(size_t capacity) : entries_(capacity) {
    // nop
  }

  /// Records `x` before it is handled.
  void push(const caf::mailbox_element& x);

  /// Forgets the last push: its message was skipped, not handled.
  void unpush() noexcept;

  /// Returns the messages, oldest first, with their senders described.
  std::vector<logged_message> snapshot() const;

private:
  struct entry {
    caf::message content;
    caf::actor_addr sender;
    bool request = false;
  };

  std::vector<entry> entries_;
  /// The next slot to write.
  size_t next_ = 0;
  /// How many slots hold a message.
  size_t size_ = 0;
};

} // namespace trellis::detail
