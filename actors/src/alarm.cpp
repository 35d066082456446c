#include "trellis/actors/alarm.hpp"

#include <cstdio>

#include "trellis/errc.hpp"

namespace trellis {

std::string to_string(metric x) {
  switch (x) {
    case metric::cpu_percent:
      return "cpu_percent";
    case metric::resident_bytes:
      return "resident_bytes";
    case metric::threads:
      return "threads";
    case metric::open_fds:
      return "open_fds";
    case metric::mailbox_depth:
      return "mailbox_depth";
    case metric::probe_rtt_ms:
      return "probe_rtt_ms";
  }
  return "unknown";
}

bool per_actor(metric x) {
  return x == metric::mailbox_depth || x == metric::probe_rtt_ms;
}

std::string describe(const alarm& x) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "metric=%s value=%g raise_at=%g clear_at=%g",
                to_string(x.what).c_str(), x.value, x.raise_at, x.clear_at);
  std::string result = buf;
  if (!x.target.empty())
    result += " target=" + x.target;
  return result;
}

caf::error threshold::validate() const {
  if (name_.empty())
    return make_error(errc::invalid_spec, "threshold",
                      "a threshold needs a name");
  if (clear_at_ >= raise_at_)
    return make_error(errc::invalid_spec, "threshold",
                      "'" + name_
                        + "' must clear below the level it raises at");
  if (per_actor(what_) && target_.empty())
    return make_error(errc::invalid_spec, "threshold",
                      "'" + name_ + "' watches " + to_string(what_)
                        + " and needs a target path");
  if (!per_actor(what_) && !target_.empty())
    return make_error(errc::invalid_spec, "threshold",
                      "'" + name_ + "' watches the process, not a target");
  if (restart_target_ && target_.empty())
    return make_error(errc::invalid_spec, "threshold",
                      "'" + name_ + "' has no target to restart");
  return caf::none;
}

} // namespace trellis
