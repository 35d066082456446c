#include "observer_hub.hpp"

#include <chrono>
#include <map>

#include "json.hpp"

namespace trellis::detail {

void observer_hub::publish(const lifecycle_event& ev, const std::string& reason,
                           const std::string& reason_code) {
  auto kind = to_string(ev.kind);
  auto json = event_json(ev, reason, !reason_code.empty());
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& c = counters_;
    ++c.events[kind];
    auto path = per_child_series_ ? ev.path : series_path(ev.path);
    auto key = std::make_pair(path, ev.id);
    // Which child's alarm: two children of one template raise and clear
    // theirs apart.
    auto own = std::make_pair(ev.path, ev.id);
    switch (ev.kind) {
      case lifecycle_kind::child_restarted:
        ++c.restarts[path];
        break;
      case lifecycle_kind::child_exited:
        // A stop asked for (terminate, shutdown) is not a crash.
        if (!reason_code.empty())
          ++c.crashes[std::make_pair(path, reason_code)];
        break;
      case lifecycle_kind::restart_given_up:
        ++c.escalations[path];
        break;
      default:
        break;
    }
    // Alarms are a library's kinds (the ready-made actors' resource
    // monitor), known here by what they do.
    auto info = info_of(ev.kind);
    auto alarm = info ? info->alarm : alarm_effect::none;
    auto was_open = open_alarms_.count(own) > 0;
    if (alarm == alarm_effect::raises) {
      ++c.alarms_raised[key];
      c.alarms_open[key] += was_open ? 0 : 1;
    } else if (alarm == alarm_effect::clears) {
      auto& n = c.alarms_open[key];
      n -= was_open && n > 0 ? 1 : 0;
    }
    log_.push_back(observer_entry{++seq_, std::move(kind), std::move(json)});
    if (alarm == alarm_effect::raises)
      open_alarms_[own] = log_.back();
    else if (alarm == alarm_effect::clears)
      open_alarms_.erase(own);
    if (log_.size() > capacity_)
      log_.pop_front();
  }
  cv_.notify_all();
}

std::vector<observer_entry> observer_hub::wait(uint64_t& seq,
                                               caf::timespan timeout) {
  std::vector<observer_entry> result;
  std::unique_lock<std::mutex> guard{mtx_};
  cv_.wait_for(guard, timeout, [&] { return stopped_ || seq_ > seq; });
  if (stopped_)
    return result;
  for (auto& entry : log_)
    if (entry.seq > seq)
      result.push_back(entry);
  seq = seq_;
  return result;
}

std::vector<observer_entry>
observer_hub::subscribe(uint64_t& seq, size_t recent,
                        observer_counters& now) const {
  std::lock_guard<std::mutex> guard{mtx_};
  seq = seq_;
  now.restarts = counters_.restarts;
  now.crashes = counters_.crashes;
  now.escalations = counters_.escalations;
  std::map<uint64_t, const observer_entry*> picked;
  for (auto& kvp : open_alarms_)
    picked.emplace(kvp.second.seq, &kvp.second);
  auto first = log_.size() > recent ? log_.size() - recent : 0;
  for (auto i = first; i < log_.size(); ++i)
    picked.emplace(log_[i].seq, &log_[i]);
  std::vector<observer_entry> result;
  result.reserve(picked.size());
  for (auto& kvp : picked)
    result.push_back(*kvp.second);
  return result;
}

void observer_hub::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopped_ = true;
  }
  cv_.notify_all();
}

bool observer_hub::stopped() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return stopped_;
}

void observer_hub::tree_ended(std::string reason) {
  std::lock_guard<std::mutex> guard{mtx_};
  ended_ = std::move(reason);
}

std::optional<std::string> observer_hub::ended() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return ended_;
}

observer_counters observer_hub::counters() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return counters_;
}

std::string counters_json(const observer_counters& x, uint64_t seq) {
  uint64_t restarts = 0;
  uint64_t crashes = 0;
  uint64_t escalations = 0;
  for (auto& kvp : x.restarts)
    restarts += kvp.second;
  for (auto& kvp : x.crashes)
    crashes += kvp.second;
  for (auto& kvp : x.escalations)
    escalations += kvp.second;
  return "{\"restarts\":" + std::to_string(restarts) + ",\"crashes\":"
         + std::to_string(crashes) + ",\"escalations\":"
         + std::to_string(escalations) + ",\"seq\":" + std::to_string(seq)
         + "}";
}

std::string series_path(const std::string& path) {
  std::string out;
  out.reserve(path.size());
  size_t begin = 0;
  while (begin <= path.size()) {
    auto end = path.find('/', begin);
    if (end == std::string::npos)
      end = path.size();
    auto segment = path.substr(begin, end - begin);
    auto hash = segment.rfind('#');
    if (hash != std::string::npos && hash + 1 < segment.size()
        && segment.find_first_not_of("0123456789", hash + 1)
             == std::string::npos)
      segment = segment.substr(0, hash + 1) + '*';
    if (begin > 0)
      out += '/';
    out += segment;
    begin = end + 1;
  }
  return out;
}

std::string event_json(const lifecycle_event& ev, const std::string& reason,
                       bool crash) {
  using namespace std::chrono;
  std::string out = "{\"kind\":";
  append_json_string(out, to_string(ev.kind));
  out += ",\"path\":";
  append_json_string(out, ev.path);
  out += ",\"id\":";
  append_json_string(out, ev.id);
  out += ",\"reason\":";
  append_json_string(out, reason);
  out += crash ? ",\"crash\":true" : ",\"crash\":false";
  out += ",\"restart_count\":" + std::to_string(ev.restart_count);
  out += ",\"detail\":";
  append_json_string(out, ev.detail);
  out += ",\"time_ms\":";
  out += std::to_string(
    duration_cast<milliseconds>(ev.time.time_since_epoch()).count());
  out += '}';
  return out;
}

} // namespace trellis::detail
