#pragma once

#include <caf/actor.hpp>

namespace trellis::detail {

/// Internal, for tests: whether the stable handle `handle` hands its
/// senders' messages to the child on their own threads now (see
/// `stable_proxy` in stable_handle.cpp); false for any other actor.
bool forwards_directly(const caf::actor& handle);

} // namespace trellis::detail
