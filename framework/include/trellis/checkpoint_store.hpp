#pragma once

/// @file
/// `checkpoint_store`, where checkpoints live between incarnations, and the
/// memory and file stores that come with Trellis.

#include <memory>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace trellis {

/// Where children's checkpoints live between incarnations: bytes by key, the
/// key being the child's path (`root/db/writer`). Implementations must be
/// thread-safe: children save from their own threads, supervisors load and
/// erase from theirs.
///
/// OTP has no equivalent: a restarted process starts from its init
/// arguments, and state that must survive lives in ETS or on disk, by hand.
class checkpoint_store {
public:
  /// Destroys the store; a durable store keeps what it saved.
  virtual ~checkpoint_store();

  /// Replaces the checkpoint under `key`. When it returns without error the
  /// checkpoint survives the child's crash (and, for a durable store, the
  /// process's).
  virtual caf::error save(const std::string& key, const std::string& bytes)
    = 0;

  /// Returns the checkpoint under `key`, none if there is none, or
  /// `errc::corrupt_checkpoint` if what is stored fails its checksum.
  virtual caf::expected<std::optional<std::string>>
  load(const std::string& key) = 0;

  /// Removes the checkpoint under `key`, if any.
  virtual caf::error erase(const std::string& key) = 0;
};

/// A store in memory. Each supervisor holds one (its children's default), so
/// checkpoints survive the children's restarts and die with the supervisor.
std::shared_ptr<checkpoint_store> make_memory_checkpoint_store();

/// A store of one file per key under `directory` (created if missing), for
/// checkpoints that must survive the process. A save writes a temporary
/// file, fsyncs it, renames it over the old one and fsyncs the directory, so
/// a crash leaves either the old checkpoint or the new one. Each file holds
/// a header with the payload's length and CRC-32: a torn or corrupt file
/// fails `load` with `errc::corrupt_checkpoint` and is renamed to
/// `<file>.corrupt` for inspection, so it is reported once. Temporary files
/// that a crash left behind are removed when the store is made.
///
/// A save waits for two fsyncs on the saving actor's thread: give children
/// that save often to a file store `.detached(true)`, so that they do not
/// hold CAF's shared scheduler threads while the disk catches up.
std::shared_ptr<checkpoint_store>
make_file_checkpoint_store(std::string directory);

} // namespace trellis
