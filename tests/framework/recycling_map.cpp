#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include "trellis/detail/recycling_map.hpp"
#include "trellis/errc.hpp"

using namespace trellis;

TEST_CASE("a recycling map behaves as a map across reused nodes",
          "[recycling_map]") {
  detail::recycling_map<int, std::string> m;
  // More rounds than spare nodes: entries come from spares and from new
  // nodes alike.
  auto rounds = static_cast<int>(decltype(m)::max_spare_nodes) * 3;
  for (int round = 0; round < rounds; ++round) {
    CHECK(m.emplace(round, std::to_string(round)).second);
    CHECK(m.emplace(round + 1, "next").second);
    auto dup = m.emplace(round, "dup");
    CHECK_FALSE(dup.second);
    CHECK(dup.first->second == std::to_string(round));
    CHECK(m.size() == 2);
    CHECK(m.count(round) == 1);
    CHECK(m.erase(round) == 1);
    CHECK(m.erase(round) == 0);
    CHECK(m.find(round) == m.end());
    REQUIRE(m.find(round + 1) != m.end());
    CHECK(m.find(round + 1)->second == "next");
    m.erase(m.find(round + 1));
    CHECK(m.empty());
  }
  m.emplace(1, "a");
  m.emplace(2, "b");
  m.clear();
  CHECK(m.empty());
  CHECK(m.emplace(1, "c").second);
  CHECK(m.find(1)->second == "c");
}

TEST_CASE("a recycling map's spare nodes hold on to nothing",
          "[recycling_map]") {
  detail::recycling_map<std::shared_ptr<int>, std::shared_ptr<int>> m;
  auto key = std::make_shared<int>(1);
  auto value = std::make_shared<int>(2);
  m.emplace(key, value);
  CHECK(key.use_count() == 2);
  CHECK(value.use_count() == 2);
  m.erase(key);
  CHECK(key.use_count() == 1);
  CHECK(value.use_count() == 1);
  // A duplicate insertion from a spare node gives the node back emptied.
  auto other = std::make_shared<int>(3);
  m.emplace(key, value);
  m.erase(m.find(key));
  m.emplace(other, value);
  CHECK_FALSE(m.emplace(other, key).second);
  CHECK(key.use_count() == 1);
  CHECK(other.use_count() == 2);
}

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
