// A trellis_node for the orphan guard's test. It hosts `reporter`, a worker
// that prints "reporter exited" when it ends, and, when ORPHAN_TARGET names
// a node, `parent`: a supervisor whose child `w` is a reporter on that node.
// Killing the node that runs `parent` leaves `w` an orphan on the other.

#include <cstdlib>
#include <iostream>
#include <string>

#include <caf/all.hpp>

#include "trellis/io/all.hpp"

namespace {

caf::behavior reporter(caf::event_based_actor* self) {
  self->attach_functor([] { std::cout << "reporter exited" << std::endl; });
  return {[](int x) { return x; }};
}

} // namespace

int main(int argc, char** argv) {
  return trellis::run_node(argc, argv, [](caf::actor_system_config& cfg) {
    trellis::add_remote_type(cfg, "reporter", reporter);
    if (auto target = std::getenv("ORPHAN_TARGET"))
      trellis::add_remote_supervisor(
        cfg, "parent",
        trellis::supervisor("parent").child(
          trellis::remote_worker("w", "reporter").nodes({target})));
  });
}
