#include "trellis/sys.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "blocking_call.hpp"
#include "trellis/atoms.hpp"

namespace trellis {

namespace {

std::string short_duration(caf::timespan x) {
  using namespace std::chrono;
  auto ns = x.count();
  char buf[32];
  if (ns < 10'000)
    std::snprintf(buf, sizeof(buf), "%" PRId64 "ns", static_cast<int64_t>(ns));
  else if (ns < 10'000'000)
    std::snprintf(buf, sizeof(buf), "%" PRId64 "us",
                  static_cast<int64_t>(ns / 1000));
  else if (ns < 10'000'000'000)
    std::snprintf(buf, sizeof(buf), "%" PRId64 "ms",
                  static_cast<int64_t>(ns / 1'000'000));
  else
    std::snprintf(buf, sizeof(buf), "%" PRId64 "s",
                  static_cast<int64_t>(ns / 1'000'000'000));
  return buf;
}

} // namespace

// -- the value types ----------------------------------------------------------

std::string to_string(const child_statistics& x) {
  auto result = x.path + ": ";
  if (!x.enabled)
    return result + "statistics off";
  if (!x.collecting)
    return result
           + "statistics on, not collecting yet (busy since before the "
             "switch, or not woken yet)";
  result += std::to_string(x.messages_handled) + " handled, p50 "
            + short_duration(x.handler_p50) + ", p90 "
            + short_duration(x.handler_p90) + ", p99 "
            + short_duration(x.handler_p99) + ", max "
            + short_duration(x.handler_max) + ", ";
  result += x.handling ? "handling for " + short_duration(x.current_handler)
                       : std::string{"idle"};
  result += ", " + std::to_string(x.mailbox_depth) + " waiting";
  if (x.suspended)
    result += ", suspended";
  return result;
}

std::string to_string(trace_outcome x) {
  switch (x) {
    case trace_outcome::handled:
      return "handled";
    case trace_outcome::resumed:
      return "resumed";
    case trace_outcome::crashed:
      return "crashed";
    case trace_outcome::quarantined:
      return "quarantined";
  }
  return "unknown";
}

std::string to_string(const traced_message& x) {
  return caf::deep_to_string(x.at) + " +" + short_duration(x.took) + " "
         + to_string(x.outcome) + " " + to_string(x.message);
}

// -- the runtime API ----------------------------------------------------------

caf::error set_statistics(caf::actor_system& sys, const caf::actor& sup,
                          const std::string& id, bool on,
                          caf::timespan timeout) {
  return detail::call_for_ok(sys, detail::call_timeout(timeout), sup,
                             sys_statistics_atom::value, id, on);
}

caf::expected<child_statistics>
get_statistics(caf::actor_system& sys, const caf::actor& sup,
               const std::string& id, caf::timespan timeout) {
  return detail::call_within<child_statistics>(sys, detail::call_timeout(timeout),
                                               sup, sys_statistics_atom::value,
                                               id);
}

caf::error set_trace(caf::actor_system& sys, const caf::actor& sup,
                     const std::string& id, size_t n, caf::timespan timeout) {
  return detail::call_for_ok(sys, detail::call_timeout(timeout), sup,
                             sys_trace_atom::value, id,
                             static_cast<uint64_t>(n));
}

caf::expected<std::vector<traced_message>>
get_trace(caf::actor_system& sys, const caf::actor& sup, const std::string& id,
          caf::timespan timeout) {
  return detail::call_within<std::vector<traced_message>>(
    sys, detail::call_timeout(timeout), sup, sys_trace_atom::value, id);
}

caf::error suspend_child(caf::actor_system& sys, const caf::actor& sup,
                         const std::string& id, caf::timespan timeout) {
  return detail::call_for_ok(sys, detail::call_timeout(timeout), sup,
                             sys_suspend_atom::value, id);
}

caf::error resume_child(caf::actor_system& sys, const caf::actor& sup,
                        const std::string& id, caf::timespan timeout) {
  return detail::call_for_ok(sys, detail::call_timeout(timeout), sup,
                             sys_resume_atom::value, id);
}

caf::expected<std::string> get_state(caf::actor_system& sys,
                                     const caf::actor& sup,
                                     const std::string& id,
                                     caf::timespan timeout) {
  // The supervisor answers with the reason before the caller gives up.
  auto within = timeout - timeout / 4;
  return detail::call_within<std::string>(sys, detail::call_timeout(timeout), sup,
                                          sys_get_state_atom::value, id,
                                          caf::timespan{within});
}

} // namespace trellis
