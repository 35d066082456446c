#include "trellis/dead_letter.hpp"

namespace trellis {

std::string to_string(const dead_letter& x) {
  return "dead_letter path=" + x.path + " content=" + caf::to_string(x.content)
         + " crashes=" + std::to_string(x.crashes)
         + " diverted=" + std::to_string(x.diverted)
         + " reason=" + caf::to_string(x.reason);
}

} // namespace trellis
