#include "trellis/actors/alarm.hpp"

#include <cmath>
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
    case metric::restart_rate:
      return "restart_rate";
  }
  return "unknown";
}

bool per_actor(metric x) {
  return x == metric::mailbox_depth || x == metric::probe_rtt_ms
         || x == metric::restart_rate;
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
  if (!std::isfinite(raise_at_) || !std::isfinite(clear_at_))
    return make_error(errc::invalid_spec, "threshold",
                      "'" + name_ + "' needs finite levels");
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
  auto invalid = [this](const std::string& what) {
    return make_error(errc::invalid_spec, "threshold",
                      "'" + name_ + "' " + what);
  };
  if (horizon_) {
    if (*horizon_ <= caf::timespan{0})
      return invalid("needs a positive forecast horizon");
    auto fraction = [](double x) { return x > 0 && x <= 1; };
    if (!fraction(trend_.level_smoothing) || !fraction(trend_.slope_smoothing))
      return invalid("needs its trend's smoothing factors in (0, 1]");
    if (anomaly_)
      return invalid("has a band of its own, not a level to forecast");
  }
  if (anomaly_) {
    auto& x = *anomaly_;
    if (x.window <= caf::timespan{0} || x.memory <= caf::timespan{0})
      return invalid("needs a positive window and memory");
    if (!(x.false_alarm > 0 && x.false_alarm < x.clear_at && x.clear_at <= 1))
      return invalid("needs 0 < false_alarm < clear_at <= 1");
    if (!(x.floor_per_hour > 0) || !std::isfinite(x.floor_per_hour))
      return invalid("needs a positive, finite floor");
  }
  return caf::none;
}

} // namespace trellis
