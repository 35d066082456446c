#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/weak_intrusive_ptr.hpp>

namespace trellis::detail {

/// What a `kept_mailbox` bounced or dropped: requests (answered with an
/// error) and plain messages.
struct lost_messages {
  size_t requests = 0;
  size_t messages = 0;

  /// Returns whether nothing was lost.
  bool empty() const noexcept {
    return requests == 0 && messages == 0;
  }
};

/// One child's mailbox between two incarnations (see
/// `child_spec::keep_mailbox`), shared by its supervisor and its
/// incarnations. An ending incarnation moves what is still queued here (on
/// its own thread, in its cleanup), and so does every message that reaches
/// it afterwards; the next incarnation claims it all in its initialization,
/// ahead of anything newer, and from then on receives what still reaches an
/// older incarnation. When no restart follows, the supervisor bounces it.
///
/// Only messages an incarnation may handle move (see
/// `quarantine::eligible`); responses and system messages addressed to the
/// ended incarnation do not. At most `capacity` messages wait: a request past
/// it is answered with `errc::overloaded`, a plain message past it is lost
/// (and counted).
class kept_mailbox {
public:
  /// At most this many messages wait for the next incarnation.
  static constexpr size_t capacity = 100'000;

  /// Makes the box of the child at `path`.
  explicit kept_mailbox(std::string path) : path_(std::move(path)) {
    // nop
  }

  kept_mailbox(const kept_mailbox&) = delete;
  kept_mailbox& operator=(const kept_mailbox&) = delete;

  /// Bounces whatever still waits.
  ~kept_mailbox();

  // -- an incarnation's side --------------------------------------------------

  /// Called by incarnation `self` when it begins its initialization: from
  /// now on it is the child's current incarnation. Returns what the previous
  /// one left, oldest first.
  std::vector<caf::mailbox_element_ptr> claim(caf::actor_control_block* self);

  /// Called by incarnation `self` as it ends, before it drains its mailbox;
  /// `answer` is what a request gets if no restart follows. Returns whether
  /// what it drains is kept (`self` is the current incarnation and the
  /// supervisor still keeps the box); if not, `keep` and `late` bounce.
  bool begin_drain(caf::actor_control_block* self, caf::error answer);

  /// Called by the ending incarnation with what it drained, oldest first,
  /// after `begin_drain` returned true.
  void end_drain(std::vector<caf::mailbox_element_ptr> xs);

  /// Takes `x`, which reached an incarnation after it began to end: kept,
  /// handed on to the current incarnation, or bounced.
  void late(caf::mailbox_element_ptr x);

  /// Bounces `x` with `answer` and counts it as lost: what an ending
  /// incarnation could not hand over (see `begin_drain`), or what did not
  /// fit. Called without the lock held.
  void lose(const caf::mailbox_element& x, const caf::error& answer);

  // -- the supervisor's side --------------------------------------------------

  /// Returns how many messages wait for the next incarnation.
  size_t held() const;

  /// Returns what was lost since the last call (past the capacity, or
  /// bounced by an incarnation that could not hand it over), keeping what
  /// waits: for a restart, which hands the rest on.
  lost_messages take_lost();

  /// Bounces everything that waits (no restart follows, for now) and returns
  /// what was lost since the last call, including what ended incarnations
  /// could not hand over. `retire` also tells that no incarnation follows
  /// ever (the child is gone, or its supervisor is): what reaches the box
  /// later bounces right away.
  lost_messages discard(bool retire);

  /// Returns the child's path.
  const std::string& path() const noexcept {
    return path_;
  }

private:
  enum class state {
    /// An incarnation runs (or none started yet).
    running,
    /// The current incarnation drains its mailbox.
    draining,
    /// Messages wait for the next incarnation.
    holding,
    /// Nothing waits and nothing is kept, until an incarnation claims it.
    closed,
  };

  mutable std::mutex mtx_;
  std::string path_;
  state state_ = state::running;
  bool retired_ = false;
  std::vector<caf::mailbox_element_ptr> items_;
  /// What reaches the box while the current incarnation drains.
  std::vector<caf::mailbox_element_ptr> late_;
  /// Weak: an incarnation holds the box.
  caf::weak_actor_ptr current_;
  caf::error answer_;
  lost_messages lost_;
};

} // namespace trellis::detail
