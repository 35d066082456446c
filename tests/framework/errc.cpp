#include <catch2/catch.hpp>

#include <iterator>

#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include "test_support.hpp"
#include "trellis/errc.hpp"

using namespace trellis;

TEST_CASE("exit reasons and system errors compare without an error built",
          "[errc]") {
  caf::error kill{caf::exit_reason::kill};
  CHECK(is(kill, caf::exit_reason::kill));
  CHECK_FALSE(is(kill, caf::exit_reason::normal));
  CHECK_FALSE(is(kill, caf::sec::request_timeout));
  CHECK_FALSE(is(caf::error{}, caf::exit_reason::normal));
  CHECK_FALSE(is(caf::error{}, caf::sec::request_timeout));
  CHECK(is(caf::make_error(caf::sec::request_timeout),
           caf::sec::request_timeout));
  // Same code, another category.
  CHECK_FALSE(is(make_error(static_cast<errc>(
                   static_cast<uint8_t>(caf::exit_reason::kill))),
                 caf::exit_reason::kill));
  CHECK(is_normal_exit(caf::exit_reason::normal));
  CHECK(is_normal_exit(caf::exit_reason::user_shutdown));
  CHECK(is_normal_exit(caf::error{}));
  CHECK_FALSE(is_normal_exit(caf::exit_reason::kill));
}

TEST_CASE("Trellis errors render their code and every context element",
          "[errc]") {
  test::fixture f;
  // Written out, in code order, so that a wrong or shifted name fails here
  // rather than being compared with itself. Code 0 is no error at all;
  // code 18 (once `circuit_open`, now the actors' own) stays unused.
  const char* names[] = {"invalid_spec", "start_failed",
                         "failed_to_start_child", "unhandled_exception",
                         "reached_max_restart_intensity", "already_present",
                         "already_started", "running", "restarting",
                         "not_found", "not_supported", "shutting_down",
                         "abandoned", "max_children", "hung", "unhealthy",
                         "escalated", "unknown", "overloaded",
                         "corrupt_checkpoint", "checkpoint_failed",
                         "quarantined", "node_down", "invalid_tls_config",
                         "not_configured", "calling_self", "timeout",
                         "in_doubt"};
  REQUIRE(std::size(names) == static_cast<size_t>(errc::in_doubt));
  for (uint8_t code = 1; code <= std::size(names); ++code) {
    auto x = static_cast<errc>(code);
    INFO("code " << int{code});
    CHECK(std::string{name_of(x)} == names[code - 1]);
    CHECK(to_string(x) == names[code - 1]);
    CHECK(f.render(make_error(x))
          == std::string{"trellis::errc::"} + names[code - 1]);
  }
  CHECK(std::string{name_of(static_cast<errc>(0))} == "unknown");
  CHECK(f.render(make_error(errc::start_failed, "a", std::string(40, 'b')))
        == "trellis::errc::start_failed: a, " + std::string(40, 'b'));
  // Elements other than strings are rendered by CAF.
  CHECK(f.render(make_error(errc::not_found, int32_t{42}, "x"))
        == "trellis::errc::not_found: 42, x");
}
