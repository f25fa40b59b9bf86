#include "agent/prober/probe_manager.h"

#include <algorithm>

#include "api/objects/pod.h"

namespace kernlet::agent {

using api::ContainerView;
using api::HandlerView;
using api::HttpGetView;
using api::IntOrString;
using api::ProbeView;

namespace {

class SystemProbeClock : public ProbeClock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall_now() override {
    return std::chrono::system_clock::now();
  }
};

// The kubelet runs a probe up to 3 times while it errors (runProbeWithRetries).
constexpr int kMaxProbeRetries = 3;

std::optional<ProbeView> probe_of(const json::object& container, ProbeType t) {
  ContainerView c(container);
  switch (t) {
    case ProbeType::kLiveness: return c.liveness_probe();
    case ProbeType::kReadiness: return c.readiness_probe();
    case ProbeType::kStartup: return c.startup_probe();
  }
  return std::nullopt;
}

}  // namespace

ProbeClock& system_probe_clock() {
  static SystemProbeClock clock;
  return clock;
}

ProbeManager::ProbeManager(ProbeRunner& runner, ProbeClock& clock, ChangeCallback on_change,
                           EventCallback on_event, ProbeManagerOptions options)
    : runner_(runner),
      clock_(clock),
      on_change_(std::move(on_change)),
      on_event_(std::move(on_event)) {
  if (!options.start_threads) return;
  size_t n = options.workers == 0 ? 1 : options.workers;
  for (size_t i = 0; i < n; ++i) pool_.emplace_back([this] { worker_loop(); });
  timer_ = std::thread([this] { timer_loop(); });
}

ProbeManager::~ProbeManager() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  timer_cv_.notify_all();
  pool_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  for (auto& t : pool_) t.join();
}

void ProbeManager::reset_container(Container& c, std::chrono::steady_clock::time_point now) {
  c.generation = next_generation_++;
  c.workers.clear();
  c.results.clear();
  c.restart_wanted = false;
  c.message.clear();
  c.grace.reset();
  for (ProbeType t : {ProbeType::kStartup, ProbeType::kLiveness, ProbeType::kReadiness}) {
    auto p = probe_of(c.target.container, t);
    if (!p) continue;
    Worker w{t, p->raw(), now};
    c.workers.emplace(t, std::move(w));
    // The kubelet's initial values: liveness passes until it fails, readiness fails until
    // it passes, startup is unknown.
    c.results[t] = t == ProbeType::kLiveness ? Res::kSuccess
                   : t == ProbeType::kReadiness ? Res::kFailure
                                                : Res::kUnknown;
  }
  // A run the API already saw (an agent restart): carry its reported state over. The
  // workers still probe at once, and failureThreshold failures are needed to undo it.
  if (c.workers.count(ProbeType::kStartup) && c.target.reported_started.value_or(false))
    c.results[ProbeType::kStartup] = Res::kSuccess;
  if (c.workers.count(ProbeType::kReadiness) && c.target.reported_ready.value_or(false))
    c.results[ProbeType::kReadiness] = Res::kSuccess;
}

ContainerProbeState ProbeManager::compute(const Container& c) {
  ContainerProbeState s;
  s.container_id = c.target.container_id;
  auto startup = c.results.find(ProbeType::kStartup);
  s.started = startup == c.results.end() || startup->second == Res::kSuccess;
  if (s.started) {
    auto ready = c.results.find(ProbeType::kReadiness);
    s.ready = ready == c.results.end() || ready->second == Res::kSuccess;
  }
  s.liveness_failed = c.restart_wanted;
  s.message = c.message;
  s.termination_grace_period_seconds = c.grace;
  return s;
}

void ProbeManager::update(const std::string& pod_uid, const std::vector<ProbeTarget>& running) {
  {
    std::lock_guard lock(mu_);
    const auto now = clock_.now();
    Pod& pod = pods_[pod_uid];
    std::map<std::string, Container> next;
    for (const ProbeTarget& t : running) {
      auto it = pod.containers.find(t.container_name);
      if (it != pod.containers.end() && it->second.target.container_id == t.container_id) {
        Container c = std::move(it->second);
        bool was_terminating = c.target.terminating;
        c.target = t;
        c.target.terminating = was_terminating || t.terminating;
        next.emplace(t.container_name, std::move(c));
      } else {
        Container c;
        c.target = t;
        reset_container(c, now);
        next.emplace(t.container_name, std::move(c));
      }
    }
    pod.containers = std::move(next);
    if (pod.containers.empty()) pods_.erase(pod_uid);
  }
  // No on_change here: the caller is syncing the pod and reads state() itself.
  timer_cv_.notify_all();
}

void ProbeManager::remove_pod(const std::string& pod_uid) {
  std::lock_guard lock(mu_);
  pods_.erase(pod_uid);
}

ContainerProbeState ProbeManager::state(const std::string& pod_uid,
                                        const std::string& container_name) const {
  std::lock_guard lock(mu_);
  auto p = pods_.find(pod_uid);
  if (p == pods_.end()) return {};
  auto c = p->second.containers.find(container_name);
  if (c == p->second.containers.end()) return {};
  return compute(c->second);
}

std::vector<ProbeManager::Job> ProbeManager::take_due(std::chrono::steady_clock::time_point now,
                                                      Notices& notices) {
  std::vector<Job> jobs;
  const auto wall = clock_.wall_now();
  for (auto& [uid, pod] : pods_) {
    for (auto& [name, c] : pod.containers) {
      const ContainerProbeState before = compute(c);
      for (auto& [type, w] : c.workers) {
        if (w.stopped || w.in_flight || w.next_due > now) continue;
        ProbeView spec(w.probe);
        // Next tick on the period grid; ticks missed while a probe ran are dropped.
        // (At least 1 s even if validation let a bad value through: the loop must end.)
        const auto period = std::chrono::seconds(std::max<int64_t>(1, spec.period_seconds()));
        if (now - w.next_due > period * 2)
          w.next_due += (now - w.next_due) / period * period;  // skip a long gap at once
        while (w.next_due <= now) w.next_due += period;
        if (w.on_hold) continue;
        // Graceful shutdown of the pod: liveness and startup pass and stop.
        if (c.target.terminating && type != ProbeType::kReadiness) {
          c.results[type] = Res::kSuccess;
          w.stopped = true;
          continue;
        }
        // Truncated to whole seconds, as the kubelet compares.
        auto since = std::chrono::duration_cast<std::chrono::seconds>(wall - c.target.started_at);
        if (since.count() < spec.initial_delay_seconds()) continue;
        const bool started = compute(c).started;
        if (started == (type == ProbeType::kStartup)) continue;
        w.in_flight = true;
        jobs.push_back(Job{uid, name, type, c.generation, c.target, w.probe});
      }
      const ContainerProbeState after = compute(c);
      if (before.started != after.started || before.ready != after.ready)
        notices.changed.push_back(uid);
    }
  }
  return jobs;
}

std::optional<std::chrono::steady_clock::time_point> ProbeManager::next_due_locked() const {
  std::optional<std::chrono::steady_clock::time_point> next;
  for (const auto& [uid, pod] : pods_)
    for (const auto& [name, c] : pod.containers)
      for (const auto& [type, w] : c.workers) {
        if (w.stopped || w.in_flight) continue;
        if (!next || w.next_due < *next) next = w.next_due;
      }
  return next;
}

std::optional<std::chrono::steady_clock::time_point> ProbeManager::run_due() {
  // Until nothing is due: a result can make another probe due now (readiness once started).
  for (;;) {
    std::vector<Job> jobs;
    Notices notices;
    {
      std::lock_guard lock(mu_);
      jobs = take_due(clock_.now(), notices);
    }
    deliver(notices);
    if (jobs.empty()) break;
    for (Job& j : jobs) run_job(std::move(j));
  }
  std::lock_guard lock(mu_);
  return next_due_locked();
}

void ProbeManager::run_job(Job job) {
  ProbeResult r;
  for (int attempt = 0; attempt < kMaxProbeRetries; ++attempt) {
    r = runner_.run(job.target, job.probe);
    if (r.outcome != ProbeOutcome::kError) break;
  }
  finish(job, r);
}

ProbeEvent ProbeManager::event_for(const ProbeTarget& t, const char* reason,
                                   std::string message) const {
  return ProbeEvent{t.pod_uid,        t.pod_namespace, t.pod_name, t.container_name,
                    t.container_id,   "Warning",       reason,     std::move(message)};
}

void ProbeManager::finish(const Job& job, const ProbeResult& r) {
  Notices notices;
  {
    std::lock_guard lock(mu_);
    auto p = pods_.find(job.pod_uid);
    if (p == pods_.end()) return;
    auto ci = p->second.containers.find(job.container_name);
    if (ci == p->second.containers.end() || ci->second.generation != job.generation) return;
    Container& c = ci->second;
    auto wi = c.workers.find(job.type);
    if (wi == c.workers.end()) return;
    Worker& w = wi->second;
    w.in_flight = false;
    const char* type_name = probe_type_name(job.type);
    if (r.outcome == ProbeOutcome::kError) {
      notices.events.push_back(event_for(c.target, "Unhealthy",
                                         std::string(type_name) + " probe errored: " + r.message));
    } else {
      Res res = Res::kSuccess;
      if (r.outcome == ProbeOutcome::kFailure) {
        res = Res::kFailure;
        notices.events.push_back(event_for(
            c.target, "Unhealthy", std::string(type_name) + " probe failed: " + r.message));
      } else if (r.outcome == ProbeOutcome::kWarning) {
        notices.events.push_back(event_for(
            c.target, "ProbeWarning", std::string(type_name) + " probe warning: " + r.message));
      }
      if (w.last == res) {
        ++w.run;
      } else {
        w.last = res;
        w.run = 1;
      }
      ProbeView spec(w.probe);
      const bool below = (res == Res::kFailure && w.run < spec.failure_threshold()) ||
                         (res == Res::kSuccess && w.run < spec.success_threshold());
      if (!below) {
        const ContainerProbeState before = compute(c);
        c.results[job.type] = res;
        if (job.type != ProbeType::kReadiness && res == Res::kFailure) {
          // Stop probing until a new container id (the kubelet's onHold), and ask for a kill.
          w.on_hold = true;
          w.run = 0;
          c.restart_wanted = true;
          c.message = "Container " + c.target.container_name + " failed " +
                      (job.type == ProbeType::kLiveness ? "liveness" : "startup") +
                      " probe, will be restarted";
          c.grace = spec.termination_grace_period_seconds();
        }
        const ContainerProbeState after = compute(c);
        // Once started, readiness runs at once instead of waiting for its next tick (the
        // kubelet triggers it manually when a started container is not ready).
        if (!before.started && after.started) {
          auto ri = c.workers.find(ProbeType::kReadiness);
          if (ri != c.workers.end()) ri->second.next_due = clock_.now();
        }
        if (before.started != after.started || before.ready != after.ready ||
            before.liveness_failed != after.liveness_failed)
          notices.changed.push_back(job.pod_uid);
      }
    }
  }
  timer_cv_.notify_all();
  deliver(notices);
}

void ProbeManager::deliver(Notices& notices) {
  if (on_event_)
    for (const auto& e : notices.events) on_event_(e);
  if (on_change_)
    for (const auto& uid : notices.changed) on_change_(uid);
}

void ProbeManager::timer_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    Notices notices;
    std::vector<Job> jobs = take_due(std::chrono::steady_clock::now(), notices);
    for (Job& j : jobs) queue_.push_back(std::move(j));
    if (!jobs.empty()) pool_cv_.notify_all();
    if (!notices.changed.empty() || !notices.events.empty()) {
      lock.unlock();
      deliver(notices);
      lock.lock();
      continue;
    }
    auto next = next_due_locked();
    if (next)
      timer_cv_.wait_until(lock, *next);
    else
      timer_cv_.wait(lock);
  }
}

void ProbeManager::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    pool_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    run_job(std::move(job));
    lock.lock();
  }
}

}  // namespace kernlet::agent
