#include "nesting_check.hpp"

#include <algorithm>
#include <vector>

#include <caf/actor_control_block.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/execution_unit.hpp>
#include <caf/io/basp/message_type.hpp>
#include <caf/message.hpp>
#include <caf/node_id.hpp>
#include <caf/proxy_registry.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace trellis::detail {

namespace {

using caf::io::basp::message_type;

bool is(uint8_t operation, message_type x) noexcept {
  return operation == static_cast<uint8_t>(x);
}

// Reading an actor handle of another node asks the context's proxy registry
// for a proxy; the check's registry makes none, so that reading twice
// creates nothing (CAF's own read makes the proxies).
class no_proxies : public caf::proxy_registry::backend {
public:
  caf::strong_actor_ptr make_proxy(caf::node_id, caf::actor_id) override {
    return nullptr;
  }

  void set_last_hop(caf::node_id*) override {
    // nop
  }
};

class check_unit : public caf::execution_unit {
public:
  check_unit(caf::actor_system& sys, caf::proxy_registry& proxies)
    : execution_unit(&sys) {
    proxy_registry_ptr(&proxies);
  }

  // Reading values schedules nothing; should it ever, the scheduler runs it.
  void exec_later(caf::resumable* ptr) override {
    system().scheduler().enqueue(ptr);
  }
};

} // namespace

caf::error make_error(nesting_error x) {
  return caf::error{static_cast<uint8_t>(x), caf::atom("nesting")};
}

nesting_deserializer::nesting_deserializer(caf::execution_unit* ctx,
                                           const char* buf, size_t n,
                                           uint32_t max_depth)
  : deserializer(ctx), inner_(ctx, buf, n), max_depth_(max_depth) {
  // nop
}

caf::error nesting_deserializer::enter() {
  if (too_deep_ || depth_ == max_depth_) {
    too_deep_ = true;
    return make_error(nesting_error::too_deep);
  }
  ++depth_;
  deepest_ = std::max(deepest_, depth_);
  return caf::none;
}

caf::error nesting_deserializer::begin_object(uint16_t& typenr,
                                              std::string& name) {
  if (auto err = enter())
    return err;
  return inner_.begin_object(typenr, name);
}

caf::error nesting_deserializer::end_object() {
  if (too_deep_)
    return make_error(nesting_error::too_deep);
  --depth_;
  return inner_.end_object();
}

caf::error nesting_deserializer::begin_sequence(size_t& list_size) {
  if (auto err = enter())
    return err;
  return inner_.begin_sequence(list_size);
}

caf::error nesting_deserializer::end_sequence() {
  if (too_deep_)
    return make_error(nesting_error::too_deep);
  --depth_;
  return inner_.end_sequence();
}

caf::error nesting_deserializer::apply_raw(size_t num_bytes, void* data) {
  if (too_deep_)
    return make_error(nesting_error::too_deep);
  return inner_.apply_raw(num_bytes, data);
}

#define TRELLIS_FORWARD(type)                                                  \
  caf::error nesting_deserializer::apply_impl(type& x) {                       \
    if (too_deep_)                                                             \
      return make_error(nesting_error::too_deep);                              \
    return inner_.apply(x);                                                    \
  }

TRELLIS_FORWARD(int8_t)
TRELLIS_FORWARD(uint8_t)
TRELLIS_FORWARD(int16_t)
TRELLIS_FORWARD(uint16_t)
TRELLIS_FORWARD(int32_t)
TRELLIS_FORWARD(uint32_t)
TRELLIS_FORWARD(int64_t)
TRELLIS_FORWARD(uint64_t)
TRELLIS_FORWARD(float)
TRELLIS_FORWARD(double)
TRELLIS_FORWARD(long double)
TRELLIS_FORWARD(std::string)
TRELLIS_FORWARD(std::u16string)
TRELLIS_FORWARD(std::u32string)

#undef TRELLIS_FORWARD

bool carries_values(uint8_t operation) noexcept {
  return is(operation, message_type::direct_message)
         || is(operation, message_type::routed_message)
         || is(operation, message_type::down_message);
}

caf::error check_nesting(caf::actor_system& sys, uint8_t operation,
                         const char* buf, size_t n, uint32_t max_depth) {
  no_proxies backend;
  caf::proxy_registry proxies{sys, backend};
  check_unit unit{sys, proxies};
  nesting_deserializer source{&unit, buf, n, max_depth};
  // The order of caf::io::basp::instance::handle and remote_message_handler.
  auto read = [&]() -> caf::error {
    caf::node_id src_node;
    caf::node_id dst_node;
    if (is(operation, message_type::down_message)) {
      caf::error reason;
      return source(src_node, dst_node, reason);
    }
    if (is(operation, message_type::routed_message))
      if (auto err = source(src_node, dst_node))
        return err;
    std::vector<caf::strong_actor_ptr> stages;
    caf::message msg;
    return source(stages, msg);
  };
  // Any other failure, CAF meets too and drops the payload. And CAF's
  // message reader drops the error of a message within it (reading it as
  // empty), so the depth is asked of the deserializer, not of the result.
  try {
    read();
  } catch (...) {
    return make_error(nesting_error::unreadable);
  }
  if (source.too_deep())
    return make_error(nesting_error::too_deep);
  return caf::none;
}

} // namespace trellis::detail
