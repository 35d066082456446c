#include "trellis/stable_handle_options.hpp"

namespace trellis {

std::string to_string(down_policy x) {
  switch (x) {
    case down_policy::buffer:
      return "buffer";
    case down_policy::fail_fast:
      return "fail_fast";
  }
  return "unknown";
}

} // namespace trellis
