#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "basp_guard.hpp"
#include "raw_socket.hpp"

using trellis::detail::basp_guard;
using trellis::detail::basp_limits;
using trellis::detail::basp_refusal;

namespace {

std::string header(uint8_t op, uint32_t payload_len, uint64_t data = 0) {
  return trellis::test::basp_header(op, payload_len, data);
}

constexpr uint8_t server_handshake = 0;
constexpr uint8_t client_handshake = 1;
constexpr uint8_t direct_message = 2;
constexpr uint8_t heartbeat = 6;

basp_refusal first(bool accepted, const std::string& hdr) {
  basp_guard guard{accepted, basp_limits{}};
  return guard.on_header(hdr.data(), hdr.size());
}

} // namespace

TEST_CASE("a node's first header must be the handshake it waits for",
          "[basp_guard]") {
  struct row {
    bool accepted;
    std::string hdr;
    basp_refusal expected;
  };
  const row table[] = {
    // The 32 bytes that crashed a node: a client handshake without payload.
    {true, header(client_handshake, 0, 3), basp_refusal::missing_payload},
    {true, header(client_handshake, 100), basp_refusal::none},
    {true, header(server_handshake, 100), basp_refusal::handshake_expected},
    {true, header(heartbeat, 0), basp_refusal::handshake_expected},
    {true, header(direct_message, 10), basp_refusal::handshake_expected},
    {true, header(0x7f, 10), basp_refusal::unknown_operation},
    {true, header(client_handshake, 0xffffffffu),
     basp_refusal::payload_too_large},
    {true, header(client_handshake, (64u << 10) + 1),
     basp_refusal::payload_too_large},
    {false, header(server_handshake, 100), basp_refusal::none},
    {false, header(server_handshake, 0, 3), basp_refusal::missing_payload},
    {false, header(client_handshake, 100), basp_refusal::handshake_expected},
    {true, std::string(10, 'x'), basp_refusal::missing_payload},
  };
  for (auto& x : table) {
    CAPTURE(x.accepted, to_string(x.expected));
    CHECK(first(x.accepted, x.hdr) == x.expected);
  }
}

TEST_CASE("after the handshake, headers follow BASP's rules and the size "
          "limit",
          "[basp_guard]") {
  basp_limits limits;
  limits.max_payload = 1000;
  basp_guard guard{true, limits};
  auto hs = header(client_handshake, 50);
  REQUIRE(guard.on_header(hs.data(), hs.size()) == basp_refusal::none);
  CHECK(guard.expects_payload());
  CHECK_FALSE(guard.handshake_done());
  guard.on_payload();
  CHECK(guard.handshake_done());
  CHECK_FALSE(guard.expects_payload());
  auto check = [&](const std::string& hdr) {
    basp_guard copy = guard;
    return copy.on_header(hdr.data(), hdr.size());
  };
  CHECK(check(header(direct_message, 1000)) == basp_refusal::none);
  CHECK(check(header(direct_message, 1001)) == basp_refusal::payload_too_large);
  CHECK(check(header(direct_message, 0)) == basp_refusal::missing_payload);
  CHECK(check(header(heartbeat, 0)) == basp_refusal::none);
  CHECK(check(header(heartbeat, 8)) == basp_refusal::unexpected_payload);
  CHECK(check(header(client_handshake, 50)) == basp_refusal::none);
  CHECK(check(header(client_handshake, 0)) == basp_refusal::missing_payload);
  // Handshakes keep their own limit, above max_payload here.
  CHECK(check(header(server_handshake, 2000)) == basp_refusal::none);
  CHECK(check(header(server_handshake, (64u << 10) + 1))
        == basp_refusal::payload_too_large);
  CHECK(check(header(7, 0)) == basp_refusal::unknown_operation);
  auto msg = header(direct_message, 10);
  REQUIRE(guard.on_header(msg.data(), msg.size()) == basp_refusal::none);
  CHECK(guard.last_header() == "operation=2 payload_len=10");
}
