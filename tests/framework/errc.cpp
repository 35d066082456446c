#include <catch2/catch.hpp>

#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

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
