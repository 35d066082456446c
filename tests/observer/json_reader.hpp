#pragma once

// A strict little JSON reader for the observer's tests: what the endpoints
// answer must parse as JSON (RFC 8259), and the tests then read its fields.

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace trellis::test {

/// A parsed JSON value.
struct json_value {
  enum kind_t { null, boolean, number, string, array, object };
  kind_t kind = null;
  bool flag = false;
  double num = 0;
  std::string str;
  std::vector<json_value> items;
  std::vector<std::pair<std::string, json_value>> members;

  bool is_null() const {
    return kind == null;
  }

  bool has(const std::string& key) const {
    for (auto& [k, v] : members)
      if (k == key)
        return true;
    return false;
  }

  /// The member `key`; throws if there is none.
  const json_value& operator[](const std::string& key) const {
    for (auto& [k, v] : members)
      if (k == key)
        return v;
    throw std::out_of_range("no member " + key);
  }

  const json_value& operator[](size_t i) const {
    return items.at(i);
  }

  size_t size() const {
    return kind == array ? items.size() : members.size();
  }
};

namespace detail {

class json_parser {
public:
  explicit json_parser(const std::string& text) : s_(text) {
    // nop
  }

  std::optional<json_value> parse() {
    json_value x;
    if (!value(x))
      return std::nullopt;
    ws();
    if (i_ != s_.size())
      return std::nullopt;
    return x;
  }

private:
  void ws() {
    while (i_ < s_.size()
           && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n'
               || s_[i_] == '\r'))
      ++i_;
  }

  bool literal(const char* word) {
    std::string w{word};
    if (s_.compare(i_, w.size(), w) != 0)
      return false;
    i_ += w.size();
    return true;
  }

  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(unsigned& cp) {
    if (i_ + 4 > s_.size())
      return false;
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      cp <<= 4;
      if (c >= '0' && c <= '9')
        cp |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        cp |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        cp |= static_cast<unsigned>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }

  bool string(std::string& out) {
    if (i_ >= s_.size() || s_[i_] != '"')
      return false;
    ++i_;
    while (i_ < s_.size()) {
      auto c = s_[i_++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size())
        return false;
      switch (s_[i_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(cp))
            return false;
          if (cp >= 0xD800 && cp < 0xDC00) {
            unsigned lo = 0;
            if (!literal("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF)
              return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          utf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  bool value(json_value& x) {
    ws();
    if (i_ >= s_.size())
      return false;
    auto c = s_[i_];
    if (c == '{') {
      ++i_;
      x.kind = json_value::object;
      ws();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return true;
      }
      for (;;) {
        ws();
        std::string key;
        if (!string(key))
          return false;
        ws();
        if (i_ >= s_.size() || s_[i_++] != ':')
          return false;
        json_value member;
        if (!value(member))
          return false;
        x.members.emplace_back(std::move(key), std::move(member));
        ws();
        if (i_ >= s_.size())
          return false;
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        return s_[i_++] == '}';
      }
    }
    if (c == '[') {
      ++i_;
      x.kind = json_value::array;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return true;
      }
      for (;;) {
        json_value item;
        if (!value(item))
          return false;
        x.items.push_back(std::move(item));
        ws();
        if (i_ >= s_.size())
          return false;
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        return s_[i_++] == ']';
      }
    }
    if (c == '"') {
      x.kind = json_value::string;
      return string(x.str);
    }
    if (literal("true")) {
      x.kind = json_value::boolean;
      x.flag = true;
      return true;
    }
    if (literal("false")) {
      x.kind = json_value::boolean;
      return true;
    }
    if (literal("null"))
      return true;
    auto start = i_;
    if (i_ < s_.size() && s_[i_] == '-')
      ++i_;
    auto digits = [&] {
      auto from = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
        ++i_;
      return i_ > from;
    };
    if (!digits())
      return false;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits())
        return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'))
        ++i_;
      if (!digits())
        return false;
    }
    x.kind = json_value::number;
    x.num = std::strtod(s_.substr(start, i_ - start).c_str(), nullptr);
    return true;
  }

  const std::string& s_;
  size_t i_ = 0;
};

} // namespace detail

/// Parses `text` as one JSON value; none if it is not valid JSON.
inline std::optional<json_value> parse_json(const std::string& text) {
  return detail::json_parser{text}.parse();
}

} // namespace trellis::test
