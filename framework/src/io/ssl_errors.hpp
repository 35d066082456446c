#pragma once

// OpenSSL's per-thread error queue, as text for Trellis' errors and reports.

#include <string>

#include <openssl/err.h>

namespace trellis::detail {

/// Empties this thread's OpenSSL error queue and returns its entries, oldest
/// first, separated by "; " (empty when the queue was).
inline std::string take_ssl_errors() {
  std::string result;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!result.empty())
      result += "; ";
    result += buf;
  }
  return result;
}

} // namespace trellis::detail
