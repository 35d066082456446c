#pragma once

// What the scripted scenarios share: sending lines to the service, looking
// children up, waiting (bounded) for the tree to act, and keeping score.

#include <functional>
#include <string>
#include <vector>

#include <caf/all.hpp>

namespace tutorial {

class harness {
public:
  harness(caf::actor_system& system, caf::actor tree);

  /// Sends `line` to root/ingest, prints it and the answer (or the error)
  /// and returns the answer, or "error: <reason>".
  std::string send(const std::string& line);

  /// Asks root/writer for the value of `key`.
  std::string value_of(const std::string& key);

  /// Returns the current actor at `path`, or an invalid handle (a child
  /// between incarnations has none).
  caf::actor at(const std::string& path);

  /// Returns how many children of the supervisor at `path` run.
  size_t running_children(const std::string& path);

  /// Waits until `done` holds, looking every 10 ms, at most 20 s; prints
  /// and counts a failure naming `what` if it never does.
  bool await(const std::string& what, const std::function<bool()>& done);

  /// Counts a failure naming `what` unless `cond`.
  void expect(bool cond, const std::string& what);

  /// Prints the tree's snapshot.
  void print_tree();

  /// Prints the lifecycle events that arrived since the last call, but
  /// child_started (one per start: noise here).
  void print_events();

  /// Returns the paths of the child_exited events that arrived, in order,
  /// up to the one of `last`, waiting at most 5 s for each; prints them.
  std::vector<std::string> exits(const std::string& last);

  /// Whether every expectation held.
  bool ok() const noexcept {
    return ok_;
  }

  caf::actor_system& sys;
  caf::actor root;
  caf::scoped_actor self;

private:
  bool ok_ = true;
};

} // namespace tutorial
