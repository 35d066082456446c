#pragma once

// Step 6: the observer, the tree served over HTTP: a page for a browser, a
// JSON API, metrics, and operator controls.

#include <cstdint>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "trellis/observer/observer.hpp"

namespace tutorial {

/// The bearer token of the observer's control endpoints.
inline constexpr const char* operator_token = "tutorial-token";

/// Serves the tree under `root` on 127.0.0.1:`port` (0 picks one).
caf::expected<trellis::observer>
observe(caf::actor_system& sys, const caf::actor& root, uint16_t port);

/// An HTTP answer: its status (0 if there was none) and body.
struct http_answer {
  int status = 0;
  std::string body;
};

/// GETs `path` from the observer on 127.0.0.1:`port`.
http_answer http_get(uint16_t port, const std::string& path);

/// POSTs to `path` with the operator's token.
http_answer http_post(uint16_t port, const std::string& path);

} // namespace tutorial
