// The kubelet's per-container back-off (flowcontrol.Backoff as kuberuntime uses it): the
// first restart is immediate, then 10 s, doubling to 300 s; an entry whose container ran
// for 10 minutes is reset. Time is passed in, so the rules are unit-tested without waiting.
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace kernlet::agent {

struct BackOffPolicy {
  std::chrono::milliseconds initial{10'000};
  std::chrono::milliseconds max{300'000};
  std::chrono::milliseconds reset_after{600'000};  // a container that ran this long starts over
};

class BackOff {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  explicit BackOff(BackOffPolicy policy = {}) : policy_(policy) {}

  // How long `key` must still wait after an event at `event_time` (the container's finish
  // or the failed pull), as of `now`; zero when it may go now.
  std::chrono::milliseconds remaining(const std::string& key, TimePoint event_time, TimePoint now) const;
  // Records an attempt at `now`: the next wait is the initial one, or double the last.
  void next(const std::string& key, TimePoint now);
  // The current wait of `key` (zero when none).
  std::chrono::milliseconds current(const std::string& key) const;
  void reset(const std::string& key);
  // Forgets every key starting with `prefix` (a pod's uid).
  void forget_prefix(const std::string& prefix);
  const BackOffPolicy& policy() const { return policy_; }

 private:
  struct Entry {
    std::chrono::milliseconds wait{0};
    TimePoint last;
  };
  BackOffPolicy policy_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace kernlet::agent
