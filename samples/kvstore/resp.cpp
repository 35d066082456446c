#include "resp.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace kvstore::resp {

// -- replies ------------------------------------------------------------------

namespace {

reply with_text(uint8_t kind, std::string x) {
  reply r;
  r.kind = kind;
  r.text = std::move(x);
  return r;
}

} // namespace

reply ok() {
  return simple_string("OK");
}

reply simple_string(std::string x) {
  return with_text(reply::simple, std::move(x));
}

reply error(std::string x) {
  return with_text(reply::error, std::move(x));
}

reply integer(int64_t x) {
  reply r;
  r.kind = reply::integer;
  r.number = x;
  return r;
}

reply bulk(std::string x) {
  return with_text(reply::bulk, std::move(x));
}

reply null() {
  return reply{};
}

reply array(std::vector<reply> xs) {
  reply r;
  r.kind = reply::array;
  r.elements = std::move(xs);
  return r;
}

namespace {

void line(char prefix, const std::string& x, std::string& out) {
  out += prefix;
  // Simple strings and errors cannot hold line breaks.
  for (auto ch : x)
    out += (ch == '\r' || ch == '\n') ? ' ' : ch;
  out += "\r\n";
}

void header(char prefix, int64_t n, std::string& out) {
  out += prefix;
  out += std::to_string(n);
  out += "\r\n";
}

} // namespace

void encode(const reply& x, std::string& out) {
  switch (x.kind) {
    case reply::simple:
      line('+', x.text, out);
      break;
    case reply::error:
      line('-', x.text, out);
      break;
    case reply::integer:
      header(':', x.number, out);
      break;
    case reply::bulk:
      header('$', static_cast<int64_t>(x.text.size()), out);
      out += x.text;
      out += "\r\n";
      break;
    case reply::array:
      header('*', static_cast<int64_t>(x.elements.size()), out);
      for (auto& y : x.elements)
        encode(y, out);
      break;
    default:
      out += "$-1\r\n";
  }
}

std::string encode(const reply& x) {
  std::string out;
  encode(x, out);
  return out;
}

size_t held_bytes(const reply& x) {
  auto result = held_bytes(x.text.size());
  for (auto& y : x.elements)
    result += held_bytes(y);
  return result;
}

reply too_large(size_t max_reply) {
  return error("ERR reply too large: it would hold more than "
               + std::to_string(max_reply)
               + " bytes, the client output limit (--client-output-limit)");
}

// -- parsing ------------------------------------------------------------------

namespace {

bool parse_int(const char* first, const char* last, int64_t& out) {
  auto neg = first != last && *first == '-';
  if (neg)
    ++first;
  if (first == last || last - first > 19)
    return false;
  int64_t x = 0;
  for (; first != last; ++first) {
    if (*first < '0' || *first > '9')
      return false;
    if (__builtin_mul_overflow(x, 10, &x)
        || __builtin_add_overflow(x, *first - '0', &x))
      return false;
  }
  out = neg ? -x : x;
  return true;
}

// Header lines (`*3`, `$5`) longer than this cannot be valid.
constexpr size_t max_header = 32;

// A buffer up to this size is kept for the next commands once empty; a
// larger one (a large command's) is given back, so that an idle connection
// holds little.
constexpr size_t max_kept_buffer = 64 * 1024;

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// Shows a byte of junk in an error message.
std::string printable(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isprint(u))
    return std::string(1, c);
  static constexpr char hex[] = "0123456789abcdef";
  return std::string{"\\x"} + hex[u >> 4] + hex[u & 15];
}

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

} // namespace

bool parse_int(std::string_view x, int64_t& out) {
  return parse_int(x.data(), x.data() + x.size(), out);
}

bool split_inline(const char* p, const char* last,
                  std::vector<std::string>& args) {
  for (;;) {
    while (p != last && is_space(*p))
      ++p;
    if (p == last)
      return true;
    std::string arg;
    bool in_double = false;
    bool in_single = false;
    for (bool done = false; !done;) {
      if (in_double) {
        if (p == last)
          return false;
        if (*p == '\\' && last - p >= 4 && p[1] == 'x'
            && hex_digit(p[2]) >= 0 && hex_digit(p[3]) >= 0) {
          arg += static_cast<char>(hex_digit(p[2]) * 16 + hex_digit(p[3]));
          p += 3;
        } else if (*p == '\\' && last - p >= 2) {
          ++p;
          switch (*p) {
            case 'n': arg += '\n'; break;
            case 'r': arg += '\r'; break;
            case 't': arg += '\t'; break;
            case 'b': arg += '\b'; break;
            case 'a': arg += '\a'; break;
            default: arg += *p;
          }
        } else if (*p == '"') {
          // A closing quote must end the argument.
          if (p + 1 != last && !is_space(p[1]))
            return false;
          done = true;
        } else {
          arg += *p;
        }
      } else if (in_single) {
        if (p == last)
          return false;
        if (*p == '\\' && last - p >= 2 && p[1] == '\'') {
          ++p;
          arg += '\'';
        } else if (*p == '\'') {
          if (p + 1 != last && !is_space(p[1]))
            return false;
          done = true;
        } else {
          arg += *p;
        }
      } else if (p == last || is_space(*p)) {
        done = true;
        continue; // leave `p` on the separator
      } else if (*p == '"') {
        in_double = true;
      } else if (*p == '\'') {
        in_single = true;
      } else {
        arg += *p;
      }
      if (p != last)
        ++p;
    }
    args.emplace_back(std::move(arg));
  }
}

request_parser::request_parser(limits lim) : limits_(lim) {
  // nop
}

size_t request_parser::held() const noexcept {
  if (!partial())
    return 0;
  return buf_.capacity() + args_.capacity() * sizeof(std::string)
         + args_bytes_;
}

void request_parser::release() {
  if (buf_.capacity() > max_kept_buffer)
    std::string{}.swap(buf_); // clear() would keep the capacity
  else
    buf_.clear();
  pos_ = 0;
}

void request_parser::append(const char* data, size_t size) {
  // Drop what was parsed before growing the buffer, once it is worth it.
  if (pos_ == buf_.size()) {
    release();
  } else if (pos_ > 4096 && pos_ > buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  auto needed = buf_.size() + size;
  if (bulk_len_ >= 0 && needed > buf_.capacity()) {
    // A big value arrives in many reads: room as its bytes come, doubling,
    // but never past its declared end. Room for the declared length at once
    // let a client that sends `$16777215` and nothing more hold 16 MiB. A
    // new string, since `reserve` would at least double.
    auto bulk_end = pos_ + static_cast<size_t>(bulk_len_) + 2;
    std::string larger;
    larger.reserve(std::max(needed, std::min(bulk_end, 2 * buf_.capacity())));
    larger.append(buf_);
    buf_.swap(larger);
  }
  buf_.append(data, size);
}

request_parser::status request_parser::fail(std::string what) {
  error_ = "ERR Protocol error: " + std::move(what);
  // Nothing after an error can be trusted.
  release();
  args_ = std::vector<std::string>{};
  args_bytes_ = 0;
  remaining_ = 0;
  return status::error;
}

request_parser::status request_parser::next(std::vector<std::string>& args) {
  if (!error_.empty())
    return status::error;
  auto result = next_command(args);
  if (pos_ == buf_.size() && result != status::error)
    release();
  return result;
}

request_parser::status
request_parser::next_command(std::vector<std::string>& args) {
  for (;;) {
    if (remaining_ > 0)
      return next_multibulk(args);
    if (pos_ == buf_.size())
      return status::incomplete;
    if (buf_[pos_] != '*') {
      auto st = next_inline(args);
      // An empty line is no command (Redis skips it too).
      if (st == status::command && args.empty())
        continue;
      return st;
    }
    auto eol = buf_.find("\r\n", pos_);
    if (eol == std::string::npos)
      return buffered() > max_header ? fail("invalid multibulk length")
                                     : status::incomplete;
    int64_t n = 0;
    if (!parse_int(buf_.data() + pos_ + 1, buf_.data() + eol, n)
        || n > static_cast<int64_t>(limits_.max_args))
      return fail("invalid multibulk length");
    request_bytes_ = eol + 2 - pos_;
    pos_ = eol + 2;
    if (n <= 0)
      continue; // `*0` and `*-1` are no commands, as in Redis
    remaining_ = static_cast<size_t>(n);
    bulk_len_ = -1;
    args_.clear();
    args_.reserve(std::min<size_t>(remaining_, 1024));
  }
}

request_parser::status
request_parser::next_multibulk(std::vector<std::string>& args) {
  while (remaining_ > 0) {
    if (bulk_len_ < 0) {
      if (pos_ == buf_.size())
        return status::incomplete;
      if (buf_[pos_] != '$')
        return fail("expected '$', got '" + printable(buf_[pos_]) + "'");
      auto eol = buf_.find("\r\n", pos_);
      if (eol == std::string::npos)
        return buffered() > max_header ? fail("invalid bulk length")
                                       : status::incomplete;
      int64_t len = 0;
      if (!parse_int(buf_.data() + pos_ + 1, buf_.data() + eol, len) || len < 0
          || static_cast<uint64_t>(len) > limits_.max_bulk)
        return fail("invalid bulk length");
      request_bytes_ += eol + 2 - pos_ + static_cast<size_t>(len);
      if (request_bytes_ > limits_.max_request)
        return fail("request too large");
      pos_ = eol + 2;
      bulk_len_ = len;
    }
    auto len = static_cast<size_t>(bulk_len_);
    if (buffered() < len + 2)
      return status::incomplete;
    if (buf_[pos_ + len] != '\r' || buf_[pos_ + len + 1] != '\n')
      return fail("expected CRLF after a bulk string");
    args_.emplace_back(buf_, pos_, len);
    args_bytes_ += len;
    pos_ += len + 2;
    bulk_len_ = -1;
    --remaining_;
  }
  args = std::move(args_);
  args_.clear();
  args_bytes_ = 0;
  return status::command;
}

request_parser::status
request_parser::next_inline(std::vector<std::string>& args) {
  auto eol = buf_.find('\n', pos_);
  if (eol == std::string::npos)
    return buffered() > limits_.max_inline ? fail("too big inline request")
                                           : status::incomplete;
  if (eol - pos_ > limits_.max_inline)
    return fail("too big inline request");
  auto last = eol;
  if (last > pos_ && buf_[last - 1] == '\r')
    --last;
  args.clear();
  auto balanced = split_inline(buf_.data() + pos_, buf_.data() + last, args);
  pos_ = eol + 1;
  if (!balanced)
    return fail("unbalanced quotes in request");
  return status::command;
}

} // namespace kvstore::resp
