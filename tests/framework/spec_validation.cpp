#include "test_support.hpp"

using namespace trellis;
using namespace trellis::test;

namespace {

child_spec ok(const std::string& id) {
  return worker(id, [](child_context&) -> start_result { return ignore; });
}

} // namespace

TEST_CASE("invalid specs are refused before anything starts, naming the field",
          "[spec]") {
  fixture f;
  auto refused = [&](const supervisor_spec& spec, const std::string& field) {
    auto res = start_supervisor(f.sys, spec);
    REQUIRE_FALSE(res);
    CHECK(is(res.error(), errc::invalid_spec));
    auto text = f.render(res.error());
    CHECK_THAT(text, Catch::Contains("invalid_spec: " + field));
  };
  SECTION("empty supervisor id") {
    refused(supervisor(""), "id");
  }
  SECTION("negative intensity") {
    refused(supervisor("root").intensity(-1), "intensity");
  }
  SECTION("zero period") {
    refused(supervisor("root").period(std::chrono::seconds(0)), "period");
  }
  SECTION("negative kill timeout") {
    refused(supervisor("root").kill_timeout(std::chrono::seconds(-1)),
            "kill_timeout");
  }
  SECTION("empty child id") {
    refused(supervisor("root").child(ok("")), "id");
  }
  SECTION("child id with a slash") {
    refused(supervisor("root").child(ok("a/b")), "id");
  }
  SECTION("duplicate child ids") {
    refused(supervisor("root").child(ok("a")).child(ok("a")), "id");
  }
  SECTION("missing factory") {
    refused(supervisor("root").child(child_spec{"a", nullptr}), "start");
  }
  SECTION("negative shutdown timeout") {
    refused(supervisor("root").child(
              ok("a").shutdown(shutdown::timeout(std::chrono::seconds(-1)))),
            "shutdown");
  }
  SECTION("a resume limit without a period") {
    refused(supervisor("root").child(
              ok("a").resume_limit(3, std::chrono::seconds(0))),
            "resume_limit");
  }
  SECTION("a resume limit over more than a year") {
    refused(supervisor("root").child(
              ok("a").resume_limit(3, std::chrono::hours(24 * 366))),
            "resume_limit");
  }
  SECTION("an invalid nested supervisor") {
    refused(supervisor("root").child(supervisor("db").intensity(-5)),
            "intensity");
  }
}

TEST_CASE("child specs have OTP's defaults", "[spec]") {
  auto w = ok("w");
  CHECK(w.restart() == restart::permanent);
  CHECK(w.type() == child_type::worker);
  CHECK(w.shutdown() == shutdown::timeout(std::chrono::seconds(5)));
  CHECK(w.resume_limit().resumes == 3);
  CHECK(w.resume_limit().period == std::chrono::seconds(5));
  auto s = supervisor("s").as_child();
  CHECK(s.type() == child_type::supervisor);
  CHECK(s.shutdown() == shutdown::infinity());
  CHECK(s.nested() != nullptr);
  auto flags = supervisor("root");
  CHECK(flags.strategy() == strategy::one_for_one);
  CHECK(flags.intensity() == 1);
  CHECK(flags.period() == std::chrono::seconds(5));
  CHECK(to_string(shutdown::timeout(std::chrono::seconds(2))) == "timeout(2000ms)");
  CHECK(to_string(strategy::rest_for_one) == "rest_for_one");
  CHECK(to_string(restart::transient) == "transient");
}

TEST_CASE("copies of a child spec are independent values", "[spec]") {
  // Copies share their data until one changes (copy on write).
  auto original = ok("a").restart(restart::transient).quarantine_after(2);
  auto copy = original;
  copy.id("b").restart(restart::temporary).nodes({"127.0.0.1:4000"});
  CHECK(original.id() == "a");
  CHECK(original.restart() == restart::transient);
  CHECK(original.nodes().empty());
  CHECK(copy.id() == "b");
  CHECK(copy.restart() == restart::temporary);
  CHECK(copy.quarantine_after() == 2);
  CHECK(copy.nodes() == std::vector<std::string>{"127.0.0.1:4000"});
  // A moved-from spec still answers.
  auto moved = std::move(copy);
  CHECK(moved.restart() == restart::temporary);
  CHECK(copy.restart() == restart::temporary); // NOLINT(bugprone-use-after-move)
}
