#include "shard.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <caf/all.hpp>

#include "chaos.hpp"
#include "keyspace.hpp"
#include "resp.hpp"
#include "trellis/checkpoint.hpp"
#include "trellis/health_check.hpp"

namespace kvstore {

namespace {

// Checkpoint headers: a magic, the generation, and which shard of how many
// wrote it.
constexpr char journal_magic[] = "KVJ1";
constexpr char segment_magic[] = "KVG1";
constexpr char snapshot_magic[] = "KVS1";
constexpr size_t magic_size = 4;
constexpr size_t header_size = magic_size + 3 * 8;

// The journal's records go to its tail, the child checkpoint, saved whole
// after each group of batches; at 8 KiB the tail is sealed into a segment
// of its own and starts empty. A save then copies at most 8 KiB, not the
// whole journal, whatever the batches: with one write per save (no
// pipelining) a write costs about 4 KiB of copying.
constexpr size_t segment_size = 8 * 1024;

// When to fold the journal (segments and tail) into a new snapshot: once it
// is as large as the snapshot, S. A snapshot walks the map, about 40 times
// the cost of copying as many bytes, so a record of e bytes costs 40 * e
// bytes of copying for the next snapshot, whatever S. At least 64 KiB, so
// that small maps are not rewritten for every few writes.
size_t journal_limit(size_t snapshot_size) {
  return std::max<size_t>(64 * 1024, snapshot_size);
}

// The reply bytes after which a batch stops, and after which a group of
// batches is saved and answered without waiting for more; see `execute`.
constexpr size_t max_batch_reply = 4u << 20;

// `(flush_atom)`: the shard sends it to itself behind the batches in its
// mailbox; it saves and answers the group they form.
using flush_atom = caf::atom_constant<caf::atom("kv_flush")>;

// A batch executed and not yet answered: its changes wait for the group's
// save.
struct unsaved {
  caf::response_promise promise;
  std::vector<resp::reply> answers;
};

struct shard_state {
  size_t index = 0;
  size_t count = 0;
  uint64_t restarts = 0;
  keyspace data;
  // The journal (header and records since the snapshot) and the snapshot.
  trellis::checkpoint journal;
  trellis::checkpoint snapshot;
  std::string journal_bytes;
  size_t snapshot_size = 0;
  uint64_t generation = 0;
  // The sealed segments of this generation, `<path>.journal-K` for K below
  // `segments`, and the bytes of their records.
  std::shared_ptr<trellis::checkpoint_store> store;
  uint64_t segments = 0;
  size_t sealed_bytes = 0;
  // Group commit: the batches executed since the last save, their reply
  // bytes, the journal's size at that save, and whether a flush is queued.
  std::vector<unsaved> group;
  size_t group_bytes = 0;
  size_t saved_size = 0;
  bool flush_queued = false;
  // A shard that dies with a group unsaved (chaos, a failed save) lost the
  // group's changes with its map: its next incarnation starts from the last
  // save. None of it took effect, so the senders may send it again, as they
  // do for batches that a dead shard left in its mailbox.
  ~shard_state() {
    for (auto& x : group)
      x.promise.deliver(caf::make_error(caf::sec::request_receiver_down,
                                        "the shard ended before saving"));
  }
  static inline const char* name = "kvstore.shard";
};

using shard_actor = caf::stateful_actor<shard_state>;

std::string header(const shard_state& st, const char* magic,
                   uint64_t generation) {
  std::string out{magic, magic_size};
  put_u64(out, generation);
  put_u64(out, st.index);
  put_u64(out, st.count);
  return out;
}

// Checks a checkpoint's header and reads its generation; `pos` ends after
// the header.
caf::error read_header(const shard_state& st, const std::string& bytes,
                       const char* magic, uint64_t& generation,
                       const char*& pos) {
  pos = bytes.data();
  auto last = bytes.data() + bytes.size();
  uint64_t index = 0;
  uint64_t count = 0;
  if (bytes.size() < magic_size || std::memcmp(pos, magic, magic_size) != 0
      || !get_u64(pos += magic_size, last, generation)
      || !get_u64(pos, last, index) || !get_u64(pos, last, count))
    return trellis::make_error(trellis::errc::corrupt_checkpoint,
                               st.journal.key(), "bad header");
  if (index != st.index || count != st.count)
    return trellis::make_error(
      trellis::errc::start_failed, st.journal.key(),
      "the data was written by shard " + std::to_string(index) + " of "
        + std::to_string(count) + "; start with --shards "
        + std::to_string(count));
  return caf::none;
}

std::string segment_key(const shard_state& st, uint64_t k) {
  return st.journal.key() + ".journal-" + std::to_string(k);
}

// Replays the segments of the snapshot's generation, in order, up to the
// first missing one or one of another generation: those are older, and
// restarts write segments in order from 0. A segment sealed just before a
// crash may still be in the tail too; replaying records twice does no harm.
caf::error replay_segments(shard_state& st, millis now) {
  for (uint64_t k = 0;; ++k) {
    auto bytes = st.store->load(segment_key(st, k));
    if (!bytes)
      return bytes.error();
    if (!*bytes)
      return caf::none;
    uint64_t generation = 0;
    const char* pos = nullptr;
    if (auto err = read_header(st, **bytes, segment_magic, generation, pos))
      return err;
    if (generation != st.generation)
      return caf::none;
    if (!st.data.replay(pos, (*bytes)->data() + (*bytes)->size(), now))
      return trellis::make_error(trellis::errc::corrupt_checkpoint,
                                 segment_key(st, k), "bad record");
    st.segments = k + 1;
    st.sealed_bytes += (*bytes)->size() - header_size;
  }
}

// Restores the map from the snapshot, then the journal written after it:
// its segments, then its tail.
caf::error restore(shard_state& st) {
  auto now = now_ms();
  auto bad_record = trellis::make_error(trellis::errc::corrupt_checkpoint,
                                        st.journal.key(), "bad record");
  const char* pos = nullptr;
  if (auto& bytes = st.snapshot.last_bytes()) {
    if (auto err = read_header(st, *bytes, snapshot_magic, st.generation, pos))
      return err;
    if (!st.data.replay(pos, bytes->data() + bytes->size(), now))
      return bad_record;
    st.snapshot_size = bytes->size();
  }
  st.journal_bytes = header(st, journal_magic, st.generation);
  if (auto& bytes = st.journal.last_bytes()) {
    uint64_t generation = 0;
    if (auto err = read_header(st, *bytes, journal_magic, generation, pos))
      return err;
    // An older journal is already in the snapshot: the process stopped
    // between saving the snapshot and the empty journal after it.
    if (generation == st.generation) {
      if (auto err = replay_segments(st, now))
        return err;
      if (!st.data.replay(pos, bytes->data() + bytes->size(), now))
        return bad_record;
      st.journal_bytes = *bytes;
    }
  }
  return caf::none;
}

// Writes a snapshot of the map and starts an empty journal of the next
// generation.
caf::error write_snapshot(shard_actor* self) {
  auto& st = self->state;
  auto snap = header(st, snapshot_magic, st.generation + 1);
  snap.reserve(st.snapshot_size + st.sealed_bytes + st.journal_bytes.size());
  st.data.dump(snap, now_ms());
  // Snapshot first: a journal of the new generation must never be found
  // next to an older snapshot.
  if (auto err = st.snapshot.save_bytes(snap))
    return err;
  ++st.generation;
  st.snapshot_size = snap.size();
  st.journal_bytes = header(st, journal_magic, st.generation);
  if (auto err = st.journal.save_bytes(st.journal_bytes))
    return err;
  // The older generation's segments are in the snapshot now. One left
  // behind (a failed erase) is of an older generation: restarts skip it.
  for (uint64_t k = 0; k < st.segments; ++k)
    st.store->erase(segment_key(st, k));
  st.segments = 0;
  st.sealed_bytes = 0;
  return caf::none;
}

// Saves what the last group changed: the tail of the journal; or, once the
// tail reaches `segment_size`, a new segment and an empty tail; or, once the
// journal outgrew the snapshot, a new snapshot and an empty journal.
caf::error persist(shard_actor* self) {
  auto& st = self->state;
  auto records = st.journal_bytes.size() - header_size;
  if (st.sealed_bytes + records >= journal_limit(st.snapshot_size))
    return write_snapshot(self);
  if (records < segment_size)
    return st.journal.save_bytes(st.journal_bytes);
  // The segment first: until the empty tail is saved, the tail still holds
  // the records, and a restart finds them in both.
  auto segment = header(st, segment_magic, st.generation);
  segment.append(st.journal_bytes, header_size, std::string::npos);
  trellis::checkpoint sealed{self->system(), st.store,
                             segment_key(st, st.segments), std::nullopt};
  if (auto err = sealed.save_bytes(segment))
    return err;
  ++st.segments;
  st.sealed_bytes += records;
  st.journal_bytes.resize(header_size);
  return st.journal.save_bytes(st.journal_bytes);
}

// Saves the group's changes with one checkpoint save, then answers its
// batches (group commit).
void flush(shard_actor* self) {
  auto& st = self->state;
  auto group = std::move(st.group);
  st.group.clear();
  st.group_bytes = 0;
  auto changed = st.journal_bytes.size() != st.saved_size;
  if (auto err = changed ? persist(self) : caf::error{}) {
    // The map holds changes that are not saved: answer with the error
    // and start again from the last checkpoint.
    auto text = "ERR checkpoint failed: " + self->system().render(err);
    for (auto& x : group)
      x.promise.deliver(std::vector<resp::reply>(x.answers.size(),
                                                 resp::error(text)));
    self->quit(std::move(err));
    return;
  }
  st.saved_size = st.journal_bytes.size();
  for (auto& x : group)
    x.promise.deliver(std::move(x.answers));
}

// Executes a batch; it is answered once its changes are saved. The save
// waits for the batches already in the mailbox, so that one save covers
// them all: a flush message queued behind them ends the group.
void execute(shard_actor* self, const batch& commands) {
  auto& st = self->state;
  auto now = now_ms();
  st.data.prefetch(commands);
  std::vector<resp::reply> answers;
  answers.reserve(commands.size());
  size_t reply_bytes = 0;
  for (auto& args : commands) {
    // Replies are held until the client reads them: the rest of a batch
    // whose replies are large waits, unexecuted, for the client to catch up
    // (the connection sends it again).
    if (reply_bytes > max_batch_reply)
      break;
    answers.emplace_back(st.data.execute(args, now, &st.journal_bytes));
    reply_bytes += resp::held_bytes(answers.back());
    if (args.front() == "INFO")
      answers.back().elements.emplace_back(
        resp::integer(static_cast<int64_t>(st.restarts)));
  }
  auto rp = self->make_response_promise();
  // Nothing unsaved, neither from this batch nor read by it: answer now.
  if (st.group.empty() && st.journal_bytes.size() == st.saved_size) {
    rp.deliver(std::move(answers));
    return;
  }
  // Acknowledge nothing that is not saved.
  st.group.push_back(unsaved{std::move(rp), std::move(answers)});
  st.group_bytes += reply_bytes;
  if (st.group_bytes > max_batch_reply) {
    // Replies held for the group stay bounded.
    flush(self);
  } else if (!st.flush_queued) {
    st.flush_queued = true;
    self->send(self, flush_atom::value);
  }
}

caf::behavior shard(shard_actor* self, size_t index, size_t count,
                    size_t max_reply, uint64_t restarts,
                    trellis::checkpoint journal, trellis::checkpoint snapshot,
                    std::shared_ptr<trellis::checkpoint_store> store) {
  auto& st = self->state;
  st.data.max_reply(max_reply);
  st.store = std::move(store);
  st.index = index;
  st.count = count;
  st.restarts = restarts;
  st.journal = std::move(journal);
  st.snapshot = std::move(snapshot);
  if (auto err = restore(st)) {
    self->quit(std::move(err));
    return {};
  }
  st.saved_size = st.journal_bytes.size();
  return {
    [self](exec_atom, const batch& commands) { execute(self, commands); },
    [self](flush_atom) {
      self->state.flush_queued = false;
      flush(self);
    },
    [](chaos_atom) {
      throw chaos_crash("chaos: a shard crashes on purpose");
    },
  };
}

} // namespace

trellis::child_spec shard_worker(std::string id, size_t index, size_t count,
                                 std::shared_ptr<trellis::checkpoint_store>
                                   store,
                                 size_t max_reply) {
  return trellis::worker(
           std::move(id),
           [index, count, store, max_reply](trellis::child_context& ctx)
             -> trellis::start_result {
             // The snapshot lives next to the child's own checkpoint.
             auto key = ctx.path() + ".snapshot";
             auto last = store->load(key);
             if (!last)
               return last.error();
             trellis::checkpoint snapshot{ctx.system(), store, key, *last};
             return ctx.spawn(shard, index, count, max_reply,
                              static_cast<uint64_t>(ctx.restart_count()),
                              ctx.checkpoint(), std::move(snapshot), store);
           })
    .checkpoint_store(std::move(store))
    // A shard that stops taking messages (a command that runs away) misses
    // three probes in a row and is replaced; its clients' batches go to the
    // next incarnation, which starts from the checkpoints.
    .health_check(trellis::health_check{std::chrono::seconds(1),
                                        std::chrono::seconds(2), 3});
}

} // namespace kvstore
