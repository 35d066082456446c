#pragma once

// RESP2, the Redis serialization protocol: replies and how they are encoded,
// and an incremental parser for requests, both multibulk
// (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline (`GET k\r\n`).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace kvstore::resp {

/// A reply, as RESP2 types it. Shards answer with these; connections merge
/// and encode them.
struct reply {
  /// The RESP2 types.
  enum kind_type : uint8_t { simple, error, integer, bulk, nil, array };

  /// One of `kind_type`.
  uint8_t kind = nil;
  /// The value of an integer reply.
  int64_t number = 0;
  /// The text of a simple string, an error or a bulk string.
  std::string text;
  /// The elements of an array.
  std::vector<reply> elements;

  bool is_error() const noexcept {
    return kind == error;
  }
};

/// `+OK`.
reply ok();

/// A simple string, such as `+PONG`.
reply simple_string(std::string x);

/// An error; `x` starts with its code, e.g. `ERR syntax error`.
reply error(std::string x);

/// An integer.
reply integer(int64_t x);

/// A bulk string.
reply bulk(std::string x);

/// The null bulk string (`$-1`), Redis' "no value".
reply null();

/// An array.
reply array(std::vector<reply> xs);

/// Appends the encoding of `x` to `out`.
void encode(const reply& x, std::string& out);

/// Returns the encoding of `x`.
std::string encode(const reply& x);

/// Returns the bytes that a reply element with `text_size` bytes of text
/// holds in memory. At least what its encoding takes: a reply of a million
/// empty elements holds 72 MiB, not the 5 MiB it takes on the wire.
constexpr size_t held_bytes(size_t text_size) noexcept {
  return sizeof(reply) + text_size;
}

/// Returns the bytes that `x` holds in memory, its elements included.
size_t held_bytes(const reply& x);

/// The largest reply, in `held_bytes`, unless told otherwise: the default
/// of `--client-output-limit`. A client holding more unsent replies than
/// that is disconnected anyway, so commands stop building a reply past it
/// and answer `too_large` instead.
constexpr size_t default_max_reply = 32u << 20;

/// `ERR reply too large: ...`, naming the limit of `max_reply` bytes.
reply too_large(size_t max_reply);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reply& x) {
  return f(caf::meta::type_name("kvstore::resp::reply"), x.kind, x.number,
           x.text, x.elements);
}

/// Bounds that keep a client from making the server buffer without end.
struct limits {
  /// The longest bulk string (Redis' `proto-max-bulk-len` is 512 MiB).
  size_t max_bulk = 16 * 1024 * 1024;
  /// The most arguments of one command (as in Redis).
  size_t max_args = 1024 * 1024;
  /// The longest inline command (as in Redis).
  size_t max_inline = 64 * 1024;
  /// The most bytes one command may take, all arguments together.
  size_t max_request = 64 * 1024 * 1024;
};

/// Splits a byte stream into commands. Feed it what arrives with `append`,
/// in pieces of any size, and take commands with `next` until it says
/// `incomplete`. Parsing is incremental: a command split over many reads is
/// never parsed twice. After an `error`, the stream is out of step and the
/// connection should be closed (as Redis does) after the error reply.
class request_parser {
public:
  /// What `next` found.
  enum class status {
    /// A whole command, stored in the argument.
    command,
    /// Not enough bytes yet.
    incomplete,
    /// A protocol error; `error()` says which, as a Redis error reply text.
    error,
  };

  explicit request_parser(limits lim = {});

  /// Adds bytes received from the client.
  void append(const char* data, size_t size);

  /// Takes the next command out of the buffered bytes into `args`.
  status next(std::vector<std::string>& args);

  /// Returns the protocol error, e.g. `ERR Protocol error: invalid bulk
  /// length`, once `next` returned `status::error`.
  const std::string& error() const noexcept {
    return error_;
  }

  /// Returns how many received bytes wait to be parsed.
  size_t buffered() const noexcept {
    return buf_.size() - pos_;
  }

  /// Returns whether a command has begun to arrive and is not yet whole (or
  /// whole commands wait to be taken).
  bool partial() const noexcept {
    return buffered() > 0 || remaining_ > 0;
  }

  /// Returns the bytes held for commands not yet taken: the buffer and the
  /// arguments read so far; 0 when none has begun to arrive. The buffer
  /// grows with what arrives, never to a declared length at once, and is
  /// given back once a large command is taken, so that this is about what
  /// the client sent.
  size_t held() const noexcept;

private:
  status fail(std::string what);
  status next_command(std::vector<std::string>& args);
  // Empties the buffer, giving back a large one.
  void release();
  status next_inline(std::vector<std::string>& args);
  status next_multibulk(std::vector<std::string>& args);

  limits limits_;
  std::string buf_;
  size_t pos_ = 0;
  // The multibulk command being parsed: arguments still expected (0: none
  // in progress), the length of the bulk string whose header was read (-1:
  // none), the arguments so far and their bytes.
  size_t remaining_ = 0;
  int64_t bulk_len_ = -1;
  size_t request_bytes_ = 0;
  std::vector<std::string> args_;
  size_t args_bytes_ = 0;
  std::string error_;
};

/// Splits an inline command into arguments as Redis does: by white space,
/// with "double quotes" (and escapes such as \n and \x41) and 'single
/// quotes'. Returns false for unbalanced quotes.
bool split_inline(const char* first, const char* last,
                  std::vector<std::string>& args);

/// Parses a whole decimal int64 (an optional '-' and digits, nothing else).
bool parse_int(std::string_view x, int64_t& out);

} // namespace kvstore::resp
