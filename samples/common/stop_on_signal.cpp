#include "stop_on_signal.hpp"

#include <chrono>
#include <cstring>
#include <iostream>

#include <caf/all.hpp>

#include "trellis/all.hpp"

namespace samples {

void linger(int argc, char** argv, const std::string& name,
            trellis::stop_signal& stop) {
  bool wanted = false;
  for (int i = 1; i < argc; ++i)
    wanted = wanted || std::strcmp(argv[i], "--linger") == 0;
  if (!wanted || stop.requested())
    return;
  std::cout << name << ": lingering until a signal" << std::endl;
  if (!stop.wait_for(std::chrono::seconds{60}))
    std::cout << name << ": no signal within 60 s, ending" << std::endl;
}

int stopped_by_signal(const std::string& name, caf::actor_system& sys,
                      const caf::actor& root,
                      const trellis::stop_signal& stop) {
  // None once the tree is gone; await_exit then tells why it exited.
  auto reason = trellis::stop_supervisor(sys, root);
  if (!reason)
    reason = trellis::await_exit(sys, root);
  std::cout << name << ": signal " << stop.signal_number()
            << ", tree stopped: " << sys.render(reason) << std::endl;
  return 0;
}

} // namespace samples
