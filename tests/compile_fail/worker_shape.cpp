// Must not compile: the actor function takes an int that worker() was not
// given. The test checks that the one error the user reads is Trellis' own.
#include "trellis/child_spec.hpp"

caf::behavior needs_an_int(caf::event_based_actor*, int) {
  return {[](int x) { return x; }};
}

#ifdef TRELLIS_WRONG_CLASS
class not_an_actor {};
#endif

int main() {
#ifdef TRELLIS_WRONG_CLASS
  auto spec = trellis::worker<not_an_actor>("b");
#else
  auto spec = trellis::worker("a", needs_an_int);
#endif
  return spec.id().empty() ? 1 : 0;
}
