#include "agent/pod/backoff.h"

#include <algorithm>

namespace kernlet::agent {

std::chrono::milliseconds BackOff::remaining(const std::string& key, TimePoint event_time, TimePoint now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.wait.count() == 0) return std::chrono::milliseconds(0);
  auto until = event_time + it->second.wait;
  if (now >= until) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(until - now) + std::chrono::milliseconds(1);
}

void BackOff::next(const std::string& key, TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[key];
  // An entry untouched for twice the maximum is stale (the kubelet's GC of back-off entries).
  if (e.wait.count() != 0 && now - e.last > 2 * policy_.max) e.wait = std::chrono::milliseconds(0);
  e.wait = e.wait.count() == 0 ? policy_.initial : std::min(e.wait * 2, policy_.max);
  e.last = now;
}

std::chrono::milliseconds BackOff::current(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? std::chrono::milliseconds(0) : it->second.wait;
}

void BackOff::reset(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

void BackOff::forget_prefix(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.lower_bound(prefix); it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
    it = entries_.erase(it);
}

}  // namespace kernlet::agent
