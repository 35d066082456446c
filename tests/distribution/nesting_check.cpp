// The check that reads a peer's message before CAF does, counting how deep
// its values nest: payloads made by CAF's own serializer, as a peer sends
// them.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "nesting_check.hpp"
#include "test_support.hpp"

using trellis::detail::check_nesting;
using trellis::detail::make_error;
using trellis::detail::carries_values;
using trellis::detail::nesting_error;

namespace {

constexpr uint8_t direct_message = 2;
constexpr uint8_t routed_message = 3;
constexpr uint8_t monitor_message = 4;
constexpr uint8_t down_message = 5;

constexpr uint32_t limit = 64;

template <class... Ts>
std::vector<char> serialized(caf::actor_system& sys, Ts&&... xs) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(xs...))
    FAIL("cannot serialize: " << sys.render(err));
  return buf;
}

// A message within `levels - 1` others: `levels` levels deep. (Not with
// make_message, which returns a lone message argument as it is.)
caf::message nested(uint32_t levels) {
  auto result = caf::make_message(int32_t{42});
  for (uint32_t i = 1; i < levels; ++i) {
    caf::message_builder outer;
    outer.append(result);
    result = outer.to_message();
  }
  return result;
}

// A direct message's payload: its stages (none) and its content.
std::vector<char> direct(caf::actor_system& sys, caf::message msg) {
  return serialized(sys, std::vector<caf::strong_actor_ptr>{}, msg);
}

caf::error check(caf::actor_system& sys, uint8_t op,
                 const std::vector<char>& buf) {
  return check_nesting(sys, op, buf.data(), buf.size(), limit);
}

caf::node_id other_node() {
  auto x = caf::make_node_id(4242, "0123456789abcdef0123456789abcdef01234567");
  REQUIRE(x);
  return *x;
}

} // namespace

TEST_CASE("a message nested deeper than the limit fails the check, one at "
          "the limit passes",
          "[nesting_check]") {
  trellis::test::test_config cfg;
  caf::actor_system sys{cfg};
  const auto too_deep = make_error(nesting_error::too_deep);
  SECTION("direct messages") {
    CHECK(check(sys, direct_message, direct(sys, nested(3))) == caf::none);
    CHECK(check(sys, direct_message, direct(sys, nested(limit)))
          == caf::none);
    CHECK(check(sys, direct_message, direct(sys, nested(limit + 1)))
          == too_deep);
    CHECK(check(sys, direct_message, direct(sys, nested(1000))) == too_deep);
  }
  SECTION("routed messages: two node ids first") {
    auto node = other_node();
    auto stages = std::vector<caf::strong_actor_ptr>{};
    auto ok = serialized(sys, node, sys.node(), stages, nested(limit));
    auto deep = serialized(sys, node, sys.node(), stages, nested(limit + 1));
    CHECK(check(sys, routed_message, ok) == caf::none);
    CHECK(check(sys, routed_message, deep) == too_deep);
  }
  SECTION("down messages: two node ids and an error, whose context is a "
          "message") {
    auto node = other_node();
    caf::error ok{1, caf::atom("test"), nested(limit)};
    caf::error deep{1, caf::atom("test"), nested(limit + 1)};
    CHECK(check(sys, down_message, serialized(sys, node, sys.node(), ok))
          == caf::none);
    CHECK(check(sys, down_message, serialized(sys, node, sys.node(), deep))
          == too_deep);
  }
}

TEST_CASE("lists count as levels: a config_value of nested lists fails the "
          "check",
          "[nesting_check]") {
  trellis::test::test_config cfg;
  caf::actor_system sys{cfg};
  // CAF reads each list recursively with no message in between: 20,000 of
  // them (40 KB) overflowed the I/O thread's stack.
  caf::config_value x{int64_t{1}};
  for (uint32_t i = 0; i < limit; ++i)
    x = caf::config_value{caf::config_value::list{std::move(x)}};
  CHECK(check(sys, direct_message, direct(sys, caf::make_message(x)))
        == make_error(nesting_error::too_deep));
  caf::config_value flat{caf::config_value::list(1000, caf::config_value{1})};
  CHECK(check(sys, direct_message, direct(sys, caf::make_message(flat)))
        == caf::none);
}

TEST_CASE("many messages side by side are one level each", "[nesting_check]") {
  trellis::test::test_config cfg;
  caf::actor_system sys{cfg};
  caf::message_builder siblings;
  for (int i = 0; i < 1000; ++i)
    siblings.append(caf::make_message(int32_t{i}, std::string{"x"}));
  auto buf = direct(sys, siblings.to_message());
  CHECK(check(sys, direct_message, buf) == caf::none);
}

TEST_CASE("what the check cannot read is left to CAF, and actors of other "
          "nodes are read without proxies",
          "[nesting_check]") {
  trellis::test::test_config cfg;
  caf::actor_system sys{cfg};
  SECTION("garbage and a truncated message are no error") {
    std::vector<char> garbage(500, '\x7f');
    CHECK(check(sys, direct_message, garbage) == caf::none);
    auto buf = direct(sys, nested(limit + 1));
    buf.resize(buf.size() / 3);
    CHECK(check(sys, direct_message, buf) == caf::none);
  }
  SECTION("a value whose reading throws is unreadable, not left to CAF") {
    // CAF throws for a config_value of an unknown type tag, and on the
    // thread that reads a remote message that ends the process.
    // No stages, type number 0, the type names, the tag, eight bytes.
    std::string tname = "@<>+@config_value";
    auto bytes = std::string(3, '\0') + static_cast<char>(tname.size())
                 + tname + '\x1e' + std::string(8, '\0');
    std::vector<char> buf(bytes.begin(), bytes.end());
    CHECK(check(sys, direct_message, buf)
          == make_error(nesting_error::unreadable));
  }
  SECTION("an actor of another node among the stages") {
    // A strong_actor_ptr is written as its id and its node.
    std::vector<std::pair<caf::actor_id, caf::node_id>> stages{
      {7, other_node()}};
    auto buf = serialized(sys, stages, nested(3));
    CHECK(check(sys, direct_message, buf) == caf::none);
    auto deep = serialized(sys, stages, nested(limit + 1));
    CHECK(check(sys, direct_message, deep)
          == make_error(nesting_error::too_deep));
  }
}

TEST_CASE("every payload that carries values is checked, whatever its "
          "length",
          "[nesting_check]") {
  CHECK(carries_values(direct_message));
  CHECK(carries_values(routed_message));
  CHECK(carries_values(down_message));
  // Node ids only.
  CHECK_FALSE(carries_values(monitor_message));
}
