#include "basp_guard.hpp"

#include <caf/io/basp/header.hpp>
#include <caf/io/basp/message_type.hpp>

namespace trellis::detail {

namespace {

using caf::io::basp::message_type;

uint32_t read_u32(const char* p) noexcept {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8)
         | uint32_t{b[3]};
}

// The operations CAF 0.17.6 knows; each but the heartbeat reads a payload
// without checking that one arrived.
bool known(uint8_t op) noexcept {
  return op <= static_cast<uint8_t>(message_type::heartbeat);
}

bool is_handshake(uint8_t op) noexcept {
  return op == static_cast<uint8_t>(message_type::server_handshake)
         || op == static_cast<uint8_t>(message_type::client_handshake);
}

} // namespace

const char* to_string(basp_refusal x) noexcept {
  switch (x) {
    case basp_refusal::none:
      return "none";
    case basp_refusal::unknown_operation:
      return "unknown_operation";
    case basp_refusal::handshake_expected:
      return "handshake_expected";
    case basp_refusal::missing_payload:
      return "missing_payload";
    case basp_refusal::unexpected_payload:
      return "unexpected_payload";
    case basp_refusal::payload_too_large:
      return "payload_too_large";
    case basp_refusal::handshake_timeout:
      return "handshake_timeout";
    case basp_refusal::nesting_too_deep:
      return "nesting_too_deep";
    case basp_refusal::unreadable_payload:
      return "unreadable_payload";
    case basp_refusal::arriving_payloads:
      return "arriving_payloads";
  }
  return "unknown";
}

basp_refusal basp_guard::on_header(const char* buf, size_t n) noexcept {
  if (n != caf::io::basp::header_size)
    return basp_refusal::missing_payload;
  operation_ = static_cast<uint8_t>(buf[0]);
  last_length_ = read_u32(buf + 4);
  if (!known(operation_))
    return basp_refusal::unknown_operation;
  auto expected = static_cast<uint8_t>(accepted_
                                         ? message_type::client_handshake
                                         : message_type::server_handshake);
  if (!started_ && operation_ != expected)
    return basp_refusal::handshake_expected;
  auto heartbeat = operation_ == static_cast<uint8_t>(message_type::heartbeat);
  if (heartbeat && last_length_ != 0)
    return basp_refusal::unexpected_payload;
  if (!heartbeat && last_length_ == 0)
    return basp_refusal::missing_payload;
  // CAF's connecting side sends its client handshake twice; a handshake is
  // held to the handshake's limit whenever it comes.
  auto limit = started_ && !is_handshake(operation_)
                 ? limits_.max_payload
                 : limits_.max_handshake_payload;
  if (last_length_ > limit)
    return basp_refusal::payload_too_large;
  started_ = true;
  payload_ = last_length_;
  return basp_refusal::none;
}

void basp_guard::on_payload() noexcept {
  payload_ = 0;
  done_ = started_;
}

std::string basp_guard::last_header() const {
  return "operation=" + std::to_string(operation_)
         + " payload_len=" + std::to_string(last_length_);
}

} // namespace trellis::detail
