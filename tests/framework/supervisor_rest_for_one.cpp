#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

TEST_CASE("rest_for_one restarts the crashed child and those started after it",
          "[supervisor][rest_for_one]") {
  fixture f;
  auto sup = f.start(supervisor("root")
                       .strategy(strategy::rest_for_one)
                       .intensity(5)
                       .child(f.probed("a"))
                       .child(f.probed("b"))
                       .child(f.probed("c"))
                       .child(f.probed("d")));
  f.next_events(4);
  auto a = f.actor_of(sup, "a");
  f.crash(sup, "b");
  CHECK(f.next_events(6)
        == std::vector<std::string>{"stopped:b", "stopped:d", "stopped:c",
                                    "started:b", "started:c", "started:d"});
  CHECK(f.actor_of(sup, "a") == a);
  CHECK(f.child(sup, "a").restart_count == 0);
  CHECK(f.child(sup, "d").restart_count == 1);
  SECTION("a crash of the last child restarts only it") {
    f.crash(sup, "d");
    CHECK(f.next_events(2)
          == std::vector<std::string>{"stopped:d", "started:d"});
    CHECK(f.child(sup, "c").restart_count == 1);
  }
  stop_supervisor(f.sys, sup);
}
