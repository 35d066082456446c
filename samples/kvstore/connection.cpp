#include "connection.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>

#include <sys/socket.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "chaos.hpp"
#include "router.hpp"
#include "runtime.hpp"
#include "shard.hpp"
#include "trellis/crash_handler.hpp"
#include "trellis/errc.hpp"

namespace kvstore {

namespace {

// `(retry_atom, shard)`: time to send a lane's batch again.
using retry_atom = caf::atom_constant<caf::atom("kv_retry")>;

// `(stall_atom)`: time to check whether the client still reads nothing.
using stall_atom = caf::atom_constant<caf::atom("kv_stall")>;

// `(overdue_atom)`: time to check for batches past the shard timeout.
using overdue_atom = caf::atom_constant<caf::atom("kv_overdue")>;

// `(idle_atom)`: time to check whether a partial request still gets bytes.
using idle_atom = caf::atom_constant<caf::atom("kv_idle")>;

// A client may have this many commands under way; past it, the connection
// stops reading until half of them are answered.
constexpr size_t max_pipeline = 1024;

// Nor may its commands under way hold more than this many bytes of
// arguments, however few they are: 1,024 SETs of 16 MiB would hold 16 GiB.
// One command always goes, whatever its size (`resp::limits` bounds it).
constexpr uint64_t max_pipeline_bytes = 16u << 20;

// What an argument costs besides its bytes: an MGET of a million empty
// keys holds 32 MiB.
constexpr uint64_t argument_overhead = sizeof(std::string);

// How much a read takes from the socket: little while the client sends
// little, so that CAF, which refills its read buffer to this size before
// every read, clears a few KiB per read rather than 64 KiB (that memset was
// 4 % of a pipelined SET's CPU time); much once a read fills the buffer.
constexpr size_t small_read = 4 * 1024;
constexpr size_t large_read = 64 * 1024;

// Replies wait in the write buffer while a shard still owes answers, so
// that a pipeline's replies go out in one send rather than one per shard
// that answers; past this many bytes they go out at once.
constexpr size_t max_held_replies = 16 * 1024;

// A slot of the commands under way keeps a reply buffer up to this size for
// the next command, and an answered queue up to this many slots.
constexpr size_t max_kept_reply = 1024;
constexpr size_t max_idle_slots = 64;

// A batch that reached a shard incarnation that died before executing it is
// sent again (`runtime::shard_attempts` times), after 1, 2, 4, ... ms, at
// most 100 ms apart.
caf::timespan backoff(int attempt) {
  auto ms = attempt < 7 ? 1 << attempt : 100;
  return std::chrono::milliseconds(ms);
}

// Which part of which command an answer belongs to.
struct part_ref {
  uint64_t seq;
  uint32_t part;
};

// The commands on their way to one shard. At most one batch is under way
// per shard: if it must be sent again, nothing sent after it can overtake
// it, so a client's writes to a key happen in the order it sent them.
struct lane {
  batch queued;
  std::vector<part_ref> queued_refs;
  caf::message sent;
  std::vector<part_ref> sent_refs;
  bool busy = false;
  int attempts = 0;
  bool retrying = false; // waiting to be sent again, not for the shard
  // Which sending of a batch an answer belongs to: an answer to an earlier
  // one (it came after the shard timeout) is ignored.
  uint64_t sending = 0;
  std::chrono::steady_clock::time_point sent_at;
  // The shard's incarnation that answered last: batches go to it directly,
  // one hop less than through the stable handle, until it fails to answer.
  caf::actor direct;
};

// A command waiting for its reply; replies go out in command order.
struct pending {
  plan routed;
  std::vector<resp::reply> answers; // one per part
  size_t awaiting = 0;
  uint64_t queued = 0; // its arguments' bytes, while a shard owes its reply
  std::string out; // the encoded reply, once ready
  bool ready = false;
  bool close_after = false;

  // Empties it for the next command, keeping its buffers' capacity unless
  // a large reply took it: that would stay with the slot for as long as the
  // connection lives.
  void clear() {
    routed = plan{};
    answers.clear();
    awaiting = 0;
    if (out.capacity() > max_kept_reply)
      std::string{}.swap(out); // a move assignment would keep the buffer
    else
      out.clear();
    ready = false;
    close_after = false;
  }
};

// The commands under way, oldest first: a ring whose slots keep their
// buffers for the commands after them (a std::deque allocated a block every
// two commands and freed it again).
class pending_queue {
public:
  bool empty() const noexcept {
    return size_ == 0;
  }

  size_t size() const noexcept {
    return size_;
  }

  pending& operator[](size_t i) {
    return slots_[(head_ + i) & (slots_.size() - 1)];
  }

  pending& front() {
    return (*this)[0];
  }

  pending& back() {
    return (*this)[size_ - 1];
  }

  pending& emplace_back() {
    if (size_ == slots_.size())
      grow();
    ++size_;
    return back();
  }

  void pop_front() {
    front().clear();
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
    // A deep pipeline's slots go once it is answered, so that an idle
    // connection holds few.
    if (size_ == 0 && slots_.size() > max_idle_slots) {
      slots_ = std::vector<pending>{};
      head_ = 0;
    }
  }

private:
  void grow() {
    std::vector<pending> larger(std::max<size_t>(4, slots_.size() * 2));
    for (size_t i = 0; i < size_; ++i)
      larger[i] = std::move((*this)[i]);
    slots_ = std::move(larger);
    head_ = 0;
  }

  std::vector<pending> slots_; // a power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

struct connection_state {
  caf::io::connection_handle hdl;
  std::shared_ptr<runtime> rt;
  std::optional<client_place> place;
  resp::request_parser parser;
  std::vector<caf::actor> shards;
  std::vector<lane> lanes;
  pending_queue queue;
  uint64_t first_seq = 0;
  bool closing = false; // QUIT or a protocol error: read no more commands
  bool halted = false;  // not reading: too many commands under way
  bool draining = false; // the service stops: answer what came, then close
  bool parser_idle = true; // no complete command left in the parser
  uint64_t out_pending = 0; // reply bytes written and not yet sent
  bool stalled = false;     // out_pending above the pause, since:
  std::chrono::steady_clock::time_point stalled_since;
  bool overdue_check = false; // an overdue_atom is on its way
  size_t read_size = small_read;
  uint64_t in_held = 0; // the parser's bytes, as counted in the total
  uint64_t queued = 0;  // the argument bytes of commands under way
  bool idle_check = false; // an idle_atom is on its way
  std::chrono::steady_clock::time_point input_since; // the last bytes
  // What this client's unsent replies and partial requests held goes with
  // it.
  ~connection_state() {
    if (rt) {
      rt->stats.output_bytes -= out_pending;
      rt->stats.input_bytes -= in_held;
      rt->stats.queued_bytes -= queued;
    }
  }
  static inline const char* name = "kvstore.connection";
};

using connection_actor
  = caf::stateful_actor<connection_state, caf::io::broker>;

void serve(connection_actor* self);

// The sections of INFO that the connection knows; the shards add theirs.
std::string server_info(const runtime& rt) {
  using namespace std::chrono;
  auto& s = rt.stats;
  auto up = duration_cast<seconds>(steady_clock::now() - rt.started);
  std::ostringstream out;
  out << "# Server\r\nserver:trellis-kvstore\r\ntcp_port:" << rt.port
      << "\r\nuptime_in_seconds:" << up.count() << "\r\nshards:" << rt.shards
      << "\r\n\r\n# Clients\r\nconnected_clients:" << s.connected_clients
      << "\r\n\r\n# Memory\r\nmem_allocator:" << rt.mem_allocator
      << "\r\n\r\n# Stats\r\ntotal_connections_received:"
      << s.connections_received
      << "\r\nrejected_connections:" << s.rejected_connections
      << "\r\nclient_output_limit_disconnections:"
      << s.output_limit_disconnects
      << "\r\nclient_output_bytes:" << s.output_bytes
      << "\r\nclient_input_limit_disconnections:"
      << s.input_limit_disconnects
      << "\r\nclient_input_bytes:" << s.input_bytes
      << "\r\nclient_queued_bytes:" << s.queued_bytes
      << "\r\ntotal_commands_processed:" << s.commands_processed
      << "\r\nshard_retries:" << s.shard_retries
      << "\r\n\r\n# Chaos\r\nchaos_rate:" << rt.chaos_rate
      << "\r\nchaos_crashed_connections:" << s.chaos_connections
      << "\r\nchaos_crashed_shards:" << s.chaos_shards << "\r\n\r\n";
  return out.str();
}

void ready(connection_actor* self, pending& pd, const resp::reply& r) {
  resp::encode(r, pd.out);
  pd.ready = true;
  if (pd.queued > 0) {
    self->state.queued -= pd.queued;
    self->state.rt->stats.queued_bytes -= pd.queued;
    pd.queued = 0;
  }
  if (pd.close_after)
    self->state.closing = true;
}

void deliver(connection_actor* self, part_ref ref, resp::reply answer) {
  auto& st = self->state;
  auto& pd = st.queue[ref.seq - st.first_seq];
  // A single-key command's answer is its reply: no combining.
  if (pd.routed.cmd->route == route::one_key) {
    pd.awaiting = 0;
    ready(self, pd, answer);
    return;
  }
  pd.answers[ref.part] = std::move(answer);
  if (--pd.awaiting > 0)
    return;
  auto r = combine(pd.routed, std::move(pd.answers),
                   st.rt->output.per_client);
  if (std::strcmp(pd.routed.cmd->name, "info") == 0 && !r.is_error())
    r = resp::bulk(server_info(*st.rt) + r.text);
  ready(self, pd, r);
}

// Routes a command whose arguments hold `bytes` bytes.
void dispatch(connection_actor* self, plan p, uint64_t bytes) {
  auto& st = self->state;
  auto seq = st.first_seq + st.queue.size();
  auto& pd = st.queue.emplace_back();
  pd.close_after = p.close_after;
  if (p.answer) {
    ready(self, pd, *p.answer);
    return;
  }
  if (st.shards.empty()) {
    st.shards = st.rt->shard_handles();
    st.lanes.resize(st.shards.size());
  }
  if (st.shards.empty()) {
    ready(self, pd, resp::error("LOADING kvstore is starting"));
    return;
  }
  pd.awaiting = p.parts.size();
  pd.queued = bytes;
  st.queued += bytes;
  st.rt->stats.queued_bytes += bytes;
  if (p.cmd->route != route::one_key)
    pd.answers.resize(p.parts.size());
  for (size_t i = 0; i < p.parts.size(); ++i) {
    auto& ln = st.lanes[p.parts[i].shard];
    ln.queued.emplace_back(std::move(p.parts[i].args));
    ln.queued_refs.push_back(part_ref{seq, static_cast<uint32_t>(i)});
  }
  pd.routed = std::move(p);
}

// Reads as much at a time as the last read suggests (see `small_read`).
void adapt_reads(connection_actor* self, size_t got) {
  auto& st = self->state;
  auto size = got >= st.read_size ? large_read
              : got < small_read  ? small_read
                                  : st.read_size;
  if (size == st.read_size)
    return;
  st.read_size = size;
  self->configure_read(st.hdl, caf::io::receive_policy::at_most(size));
}

// One line on stderr for each client the server drops, with the reason.
void report_disconnect(connection_actor* self, const std::string& why) {
  auto& st = self->state;
  std::cerr << "kvstore: client " << self->remote_addr(st.hdl) << ':'
            << self->remote_port(st.hdl) << " disconnected: " << why << '\n';
}

// Brings the total of all clients' partial requests up to date with what
// this client's parser holds; false, and nothing counted, if this client's
// growth would take the total past the limit.
bool count_input(connection_state& st) {
  uint64_t held = st.parser.held();
  auto& total = st.rt->stats.input_bytes;
  if (held > st.in_held && total + (held - st.in_held) > st.rt->input.total)
    return false;
  total += held - st.in_held; // modulo 2^64: a decrease too
  st.in_held = held;
  return true;
}

// A client whose requests cost too much: its partial request is dropped at
// once, and it gets `text` after the replies before it, then is closed, as
// after a protocol error.
void refuse(connection_actor* self, std::string text, const std::string& why) {
  auto& st = self->state;
  ++st.rt->stats.input_limit_disconnects;
  report_disconnect(self, why + " (" + std::to_string(st.parser.held())
                            + " bytes held)");
  st.parser = resp::request_parser{st.rt->limits};
  st.queue.emplace_back().close_after = true;
  ready(self, st.queue.back(), resp::error(std::move(text)));
}

// Keeps a timer while the client holds a partial request (`idle_atom`).
void watch_input(connection_actor* self) {
  auto& st = self->state;
  auto timeout = st.rt->input.timeout;
  if (st.idle_check || st.closing || timeout.count() == 0
      || !st.parser.partial())
    return;
  st.idle_check = true;
  self->delayed_send(self, timeout, idle_atom::value);
}

// Whether this client waits for room among all clients' commands under
// way: only while some of its own are, whose answers wake it, so that a
// client with nothing under way always gets a command in.
bool queued_too_much(const connection_state& st) {
  return st.queued > 0 && st.rt->stats.queued_bytes > st.rt->input.total;
}

// Parses and routes what the client sent, as far as the pipeline allows.
void read_commands(connection_actor* self) {
  auto& st = self->state;
  std::vector<std::string> args;
  auto paused = [&] {
    return st.queue.size() >= max_pipeline || st.queued > max_pipeline_bytes
           || st.out_pending > st.rt->output.pause || queued_too_much(st);
  };
  st.parser_idle = false;
  while (!st.closing && !paused()) {
    auto status = st.parser.next(args);
    if (status == resp::request_parser::status::incomplete) {
      st.parser_idle = true;
      break;
    }
    if (status == resp::request_parser::status::error) {
      // Answer, then close: the stream is out of step (Redis does the same).
      st.queue.emplace_back().close_after = true;
      ready(self, st.queue.back(), resp::error(st.parser.error()));
      break;
    }
    ++st.rt->stats.commands_processed;
    uint64_t bytes = 0;
    for (auto& x : args)
      bytes += x.size() + argument_overhead;
    dispatch(self,
             route_command(std::move(args), st.rt->shards,
                           st.rt->output.per_client),
             bytes);
  }
  if (st.closing)
    st.parser = resp::request_parser{st.rt->limits}; // parsed no further
  else if (!count_input(st))
    refuse(self,
           "ERR max input of all clients reached: their partial requests "
           "would hold more than "
             + std::to_string(st.rt->input.total)
             + " bytes (--total-input-limit)",
           "its partial request passed the total input limit");
  count_input(st);
  watch_input(self);
  if (!st.halted && paused()) {
    self->halt(st.hdl);
    st.halted = true;
  } else if (st.halted && st.queue.size() < max_pipeline / 2
             && st.queued <= max_pipeline_bytes / 2
             && st.out_pending <= st.rt->output.pause / 2
             && !queued_too_much(st)) {
    self->trigger(st.hdl);
    st.halted = false;
  }
}

// Ends the lane's batch under way; returns whom its answers are for.
std::vector<part_ref> finish_batch(lane& ln) {
  auto refs = std::move(ln.sent_refs);
  ln.sent_refs.clear();
  ln.sent = caf::message{};
  ln.busy = false;
  ++ln.sending;
  return refs;
}

void on_answers(connection_actor* self, size_t s,
                std::vector<resp::reply>& answers) {
  auto& ln = self->state.lanes[s];
  // A shard that stopped early (large replies) left the rest unexecuted:
  // it goes first when the lane sends again.
  batch rest;
  if (answers.size() < ln.sent_refs.size()) {
    auto& sent = ln.sent.get_as<batch>(1);
    rest.assign(sent.begin() + static_cast<ptrdiff_t>(answers.size()),
                sent.end());
  }
  auto refs = finish_batch(ln);
  for (size_t i = 0; i < answers.size() && i < refs.size(); ++i)
    deliver(self, refs[i], std::move(answers[i]));
  if (!rest.empty()) {
    ln.queued.insert(ln.queued.begin(), std::make_move_iterator(rest.begin()),
                     std::make_move_iterator(rest.end()));
    ln.queued_refs.insert(ln.queued_refs.begin(),
                          refs.begin() + static_cast<ptrdiff_t>(answers.size()),
                          refs.end());
  }
  serve(self);
}

void on_failure(connection_actor* self, size_t s, const caf::error& err) {
  auto& st = self->state;
  auto& ln = st.lanes[s];
  // Back to the stable handle, which finds the shard's next incarnation.
  ln.direct = caf::actor{};
  // The shard's incarnation died with the batch in its mailbox, or before
  // it saved the batch's group (or its handle buffers too much): nothing of
  // it took effect, so it is safe to send again, to the next incarnation.
  auto again = err == caf::sec::request_receiver_down
               || trellis::is(err, trellis::errc::overloaded);
  if (again && ln.attempts < st.rt->shard_attempts) {
    ++st.rt->stats.shard_retries;
    ln.retrying = true;
    self->delayed_send(self, backoff(ln.attempts++), retry_atom::value,
                       static_cast<uint64_t>(s));
    // The replies held for this batch's answers go out now.
    serve(self);
    return;
  }
  auto text = "ERR shard " + std::to_string(s)
              + " unavailable: " + self->system().render(err);
  for (auto ref : finish_batch(ln))
    deliver(self, ref, resp::error(text));
  serve(self);
}

// Fails the batches that waited for their shard past the shard timeout.
// One timer per connection rather than a timeout per request: CAF keeps
// each request's timeout in its clock thread, a lock and a wakeup per batch.
void check_overdue(connection_actor* self) {
  auto& st = self->state;
  auto timeout = st.rt->shard_timeout;
  auto now = std::chrono::steady_clock::now();
  for (size_t s = 0; s < st.lanes.size(); ++s) {
    auto& ln = st.lanes[s];
    if (ln.busy && !ln.retrying && ln.sent_at + timeout <= now)
      on_failure(self, s, caf::make_error(caf::sec::request_timeout));
  }
  // Again for the batches still under way, the earliest first.
  st.overdue_check = false;
  auto next = now + timeout;
  for (auto& ln : st.lanes)
    if (ln.busy && !ln.retrying) {
      next = std::min(next, ln.sent_at + timeout);
      st.overdue_check = true;
    }
  if (st.overdue_check)
    self->delayed_send(self, next - now, overdue_atom::value);
}

void transmit(connection_actor* self, size_t s) {
  auto& st = self->state;
  auto& ln = st.lanes[s];
  ln.sent_at = std::chrono::steady_clock::now();
  auto sending = ++ln.sending;
  if (!st.overdue_check) {
    st.overdue_check = true;
    self->delayed_send(self, st.rt->shard_timeout, overdue_atom::value);
  }
  auto& dest = ln.direct ? ln.direct : st.shards[s];
  self->request(dest, caf::infinite, ln.sent)
    .then(
      [self, s, sending](std::vector<resp::reply>& answers) {
        auto& answered = self->state.lanes[s];
        if (answered.sending != sending)
          return;
        answered.direct
          = caf::actor_cast<caf::actor>(self->current_sender());
        on_answers(self, s, answers);
      },
      [self, s, sending](caf::error& err) {
        if (self->state.lanes[s].sending == sending)
          on_failure(self, s, err);
      });
}

// Sends each idle lane's queued commands as one batch, unless the client
// has too many replies left to read.
void send_batches(connection_actor* self) {
  auto& st = self->state;
  if (st.out_pending > st.rt->output.pause)
    return;
  for (size_t s = 0; s < st.lanes.size(); ++s) {
    auto& ln = st.lanes[s];
    if (ln.busy || ln.queued.empty())
      continue;
    ln.busy = true;
    ln.attempts = 0;
    ln.sent = caf::make_message(exec_atom::value, std::move(ln.queued));
    ln.sent_refs = std::move(ln.queued_refs);
    ln.queued.clear();
    ln.queued_refs.clear();
    transmit(self, s);
  }
}

// Counts reply bytes written for the client (`n` > 0) or sent (`n` < 0).
void account(connection_state& st, int64_t n) {
  st.out_pending += static_cast<uint64_t>(n);
  st.rt->stats.output_bytes += static_cast<uint64_t>(n);
}

// Returns why the client's unread replies are too much, or null.
const char* over_limit(const connection_state& st) {
  auto& lim = st.rt->output;
  if (st.out_pending > lim.per_client)
    return "its replies passed the per-client limit";
  if (st.rt->stats.output_bytes > lim.total
      && st.out_pending > lim.per_client / 8)
    return "all clients' replies passed the total limit";
  return nullptr;
}

// A client that does not read its replies costs its connection, not the
// server's memory (Redis' client-output-buffer-limit).
void disconnect(connection_actor* self, const char* why) {
  auto& st = self->state;
  ++st.rt->stats.output_limit_disconnects;
  report_disconnect(self, why + (" (" + std::to_string(st.out_pending)
                                 + " bytes unread)"));
  // Dropped, not sent: CAF's close would go on writing what is buffered to
  // a client that does not read, and keep the socket for as long, and the
  // kernel would still deliver its send queue. A reset drops both. The
  // handle is the socket with CAF's default multiplexer.
  self->wr_buf(st.hdl).clear();
  auto fd = static_cast<int>(st.hdl.id());
  linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  ::shutdown(fd, SHUT_RDWR);
  self->close(st.hdl);
  self->quit();
}

// Whether a batch is under way to a shard. One that waits to be sent again
// (its shard died) may wait long: the replies ready before it go out.
bool shards_owe(const connection_state& st) {
  return std::any_of(st.lanes.begin(), st.lanes.end(), [](const lane& ln) {
    return ln.busy && !ln.retrying;
  });
}

// Writes the replies that are ready, in order, and sends them once no shard
// owes more (see `max_held_replies`); returns false once the connection
// ends.
bool write_replies(connection_actor* self) {
  auto& st = self->state;
  auto& buf = self->wr_buf(st.hdl);
  auto done = false;
  while (!done && !st.queue.empty() && st.queue.front().ready) {
    auto& pd = st.queue.front();
    buf.insert(buf.end(), pd.out.begin(), pd.out.end());
    account(st, static_cast<int64_t>(pd.out.size()));
    done = pd.close_after;
    st.queue.pop_front();
    ++st.first_seq;
  }
  if (auto why = over_limit(st)) {
    disconnect(self, why);
    return false;
  }
  if (!st.stalled && st.out_pending > st.rt->output.pause) {
    st.stalled = true;
    st.stalled_since = std::chrono::steady_clock::now();
    self->delayed_send(self, st.rt->output.stall_timeout, stall_atom::value);
  }
  if (!buf.empty()
      && (done || buf.size() >= max_held_replies || !shards_owe(st)))
    self->flush(st.hdl);
  if (done)
    self->quit(); // a normal end: the client asked, or broke the protocol
  return !done;
}

void serve(connection_actor* self) {
  auto& st = self->state;
  for (;;) {
    // Replies first: they make room in the pipeline for more commands.
    if (!write_replies(self))
      return;
    read_commands(self);
    send_batches(self);
    if (!write_replies(self))
      return;
    // Draining: done once every command read before the drain is answered
    // and its reply on the way.
    if (!st.draining || !st.queue.empty()
        || st.out_pending > st.rt->output.pause)
      return;
    if (st.parser_idle || st.closing) {
      self->flush(st.hdl);
      self->quit();
      return;
    }
    // The pipeline's bound stopped the parser, and all it parsed was
    // answered at once: parse on.
  }
}

} // namespace

client_place::client_place(std::shared_ptr<runtime> rt) : rt_(std::move(rt)) {
  ++rt_->stats.connected_clients;
}

client_place::~client_place() {
  if (rt_)
    --rt_->stats.connected_clients;
}

namespace {

caf::behavior connection(connection_actor* self, connection_handoff handoff,
                         std::shared_ptr<runtime> rt) {
  // Spawned by hand (a broker runs in the middleman), so install the crash
  // handler here: a crash then ends this actor with a reason that tells.
  trellis::install_crash_handler(self);
  auto client = handoff.take();
  if (!client.scribe) {
    self->quit();
    return {};
  }
  auto scribe = std::move(client.scribe);
  auto& st = self->state;
  st.place.emplace(std::move(client.place));
  st.hdl = scribe->hdl();
  st.rt = rt;
  st.parser = resp::request_parser{rt->limits};
  self->move_scribe(std::move(scribe));
  self->configure_read(st.hdl, caf::io::receive_policy::at_most(small_read));
  // Each write tells how much went out: replies held are counted.
  self->ack_writes(st.hdl, true);
  return {
    [self](caf::io::new_data_msg& msg) {
      // Draining or closing: what comes now is read (a close with unread
      // input would reset the connection, replies and all) but not served.
      auto& cs = self->state;
      if (cs.draining || cs.closing)
        return;
      adapt_reads(self, msg.buf.size());
      cs.parser.append(msg.buf.data(), msg.buf.size());
      cs.input_since = std::chrono::steady_clock::now();
      serve(self);
    },
    [self](const caf::io::connection_closed_msg&) { self->quit(); },
    [self](const caf::io::data_transferred_msg& msg) {
      auto& cs = self->state;
      account(cs, -static_cast<int64_t>(msg.written));
      if (cs.out_pending <= cs.rt->output.pause)
        cs.stalled = false;
      serve(self);
    },
    [self](stall_atom) {
      auto& cs = self->state;
      if (!cs.stalled)
        return;
      auto timeout = cs.rt->output.stall_timeout;
      auto waited = std::chrono::steady_clock::now() - cs.stalled_since;
      if (waited >= timeout)
        disconnect(self, "its replies stayed unread past the stall timeout");
      else
        self->delayed_send(self,
                           std::chrono::duration_cast<
                             std::chrono::milliseconds>(timeout - waited),
                           stall_atom::value);
    },
    [self](retry_atom, uint64_t s) {
      auto& ln = self->state.lanes[static_cast<size_t>(s)];
      ln.retrying = false;
      transmit(self, static_cast<size_t>(s));
    },
    [self](overdue_atom) { check_overdue(self); },

    [self](idle_atom) {
      auto& cs = self->state;
      cs.idle_check = false;
      if (cs.closing || cs.draining || !cs.parser.partial())
        return;
      auto now = std::chrono::steady_clock::now();
      // Paused, the connection does not read: the client is not idle.
      if (cs.halted)
        cs.input_since = now;
      auto timeout = cs.rt->input.timeout;
      if (now - cs.input_since < timeout) {
        cs.idle_check = true;
        self->delayed_send(self, cs.input_since + timeout - now,
                           idle_atom::value);
        return;
      }
      refuse(self,
             "ERR client input timeout: a partial request got no more "
             "bytes for "
               + std::to_string(timeout.count())
               + " s (--client-input-timeout)",
             "its partial request got no bytes past the input timeout");
      serve(self);
    },
    [self](drain_atom) {
      auto& cs = self->state;
      if (cs.draining)
        return;
      cs.draining = true;
      serve(self);
    },
    [](chaos_atom) {
      throw chaos_crash("chaos: a connection crashes on purpose");
    },
  };
}

} // namespace

trellis::child_spec connection_worker(std::string id,
                                      std::shared_ptr<runtime> rt) {
  return trellis::worker(std::move(id),
                         [rt](trellis::child_context& ctx,
                              const connection_handoff& handoff)
                           -> trellis::start_result {
                           // Its socket died with the crashed broker.
                           if (ctx.restart_count() > 0)
                             return trellis::ignore;
                           return ctx.system().middleman().spawn_broker(
                             connection, handoff, rt);
                         })
    .restart(trellis::restart::transient);
}

} // namespace kvstore
