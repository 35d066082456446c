#include "trellis/lifecycle_event.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <string_view>
#include <utility>

namespace trellis {

namespace {

constexpr size_t library_kinds = 256 - first_library_kind;

// Written while the program initializes, read by any thread: lock-free.
std::array<std::atomic<const lifecycle_kind_info*>, library_kinds>&
library_kind_infos() {
  static std::array<std::atomic<const lifecycle_kind_info*>, library_kinds>
    instance{};
  return instance;
}

} // namespace

bool register_kind(lifecycle_kind kind, const lifecycle_kind_info& info) {
  auto i = static_cast<uint8_t>(kind);
  if (i < first_library_kind)
    return false;
  const lifecycle_kind_info* held = nullptr;
  if (library_kind_infos()[i - first_library_kind].compare_exchange_strong(
        held, &info))
    return true;
  return held == &info || std::string_view{held->name} == info.name;
}

const lifecycle_kind_info* info_of(lifecycle_kind kind) noexcept {
  auto i = static_cast<uint8_t>(kind);
  if (i < first_library_kind)
    return nullptr;
  return library_kind_infos()[i - first_library_kind].load();
}

std::string to_string(lifecycle_kind x) {
  switch (x) {
    case lifecycle_kind::child_started:
      return "child_started";
    case lifecycle_kind::child_exited:
      return "child_exited";
    case lifecycle_kind::child_restarted:
      return "child_restarted";
    case lifecycle_kind::restart_given_up:
      return "restart_given_up";
    case lifecycle_kind::child_unhealthy:
      return "child_unhealthy";
    case lifecycle_kind::checkpoint_skipped:
      return "checkpoint_skipped";
    case lifecycle_kind::checkpoint_failed:
      return "checkpoint_failed";
    case lifecycle_kind::message_quarantined:
      return "message_quarantined";
    case lifecycle_kind::message_dropped:
      return "message_dropped";
    case lifecycle_kind::messages_kept:
      return "messages_kept";
    case lifecycle_kind::messages_lost:
      return "messages_lost";
    case lifecycle_kind::child_resumed:
      return "child_resumed";
    case lifecycle_kind::incident_opened:
      return "incident_opened";
    case lifecycle_kind::incident_closed:
      return "incident_closed";
  }
  if (auto info = info_of(x))
    return info->name;
  return "kind_" + std::to_string(static_cast<int>(x));
}

lifecycle_event lifecycle_event::about(lifecycle_kind kind, std::string path,
                                       std::string id) {
  lifecycle_event result;
  result.kind = kind;
  result.path = std::move(path);
  result.id = std::move(id);
  result.time = caf::make_timestamp();
  return result;
}

std::string to_string(const lifecycle_event& x) {
  auto result = to_string(x.kind) + " path=" + x.path + " id=" + x.id
                + " restart_count=" + std::to_string(x.restart_count);
  if (!x.node.empty())
    result += " node=" + x.node;
  if (x.reason)
    result += " reason=" + caf::to_string(x.reason);
  if (!x.detail.empty())
    result += " " + x.detail;
  return result;
}

} // namespace trellis
