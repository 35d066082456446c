#include "json.hpp"

#include <cmath>
#include <cstdio>

namespace trellis::detail {

void append_json_string(std::string& out, const std::string& x) {
  out += '"';
  for (auto ch : x) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_json_number(std::string& out, double x) {
  if (!std::isfinite(x)) {
    out += '0';
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", x);
  out += buf;
}

} // namespace trellis::detail
