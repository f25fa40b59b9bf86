// ProbeManager: liveness, readiness and startup probes of every running container on the
// node, with the kubelet's semantics (pkg/kubelet/prober: worker.go, prober_manager.go):
//
// - one probe "worker" per (container, probe type); each ticks every periodSeconds from when
//   it first sees the container, and a tick runs the probe at most once (a tick that comes
//   while the probe still runs is dropped, as Go's ticker drops it);
// - a tick does nothing before initialDelaySeconds since the container started, nothing for
//   liveness/readiness until the startup probe has succeeded, and no startup probe once it has;
// - successThreshold / failureThreshold consecutive results change the result; liveness
//   starts Success, readiness Failure, startup Unknown — except a run whose target carries
//   the state the API last reported for it (an agent restart), which starts from that;
// - a liveness or startup result of Failure wants a restart ("Container web failed liveness
//   probe, will be restarted") and holds that probe until a new container id is seen;
// - a new container id resets every result and counter;
// - a probe that could not run (bad port, exec error) is retried up to 3 times, then thrown
//   away with an "Unhealthy" event ("Readiness probe errored: ..."); a failed probe emits
//   "Liveness probe failed: <output>"; a warning "ProbeWarning";
// - while the pod terminates, liveness and startup stop and count as passing.
//
// Threads: one timer thread and a fixed pool of probe workers (default 4), never a thread
// per probe. With options.start_threads = false nothing runs by itself: the caller drives
// run_due() against a fake clock (unit tests).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/prober/probe_handlers.h"
#include "agent/prober/probe_target.h"

namespace kernlet::agent {

// The time seam. The manager's threads sleep on std::chrono::steady_clock; a fake clock is
// for the caller-driven mode (start_threads = false).
class ProbeClock {
 public:
  virtual ~ProbeClock() = default;
  // Monotonic time for probe periods.
  virtual std::chrono::steady_clock::time_point now() = 0;
  // Wall time, compared with ProbeTarget::started_at for initialDelaySeconds.
  virtual std::chrono::system_clock::time_point wall_now() = 0;
};

// The real clocks. Thread-safe.
ProbeClock& system_probe_clock();

// An event for the pod worker's EventRecorder (type is always "Warning").
struct ProbeEvent {
  std::string pod_uid;
  std::string pod_namespace;
  std::string pod_name;
  std::string container_name;
  std::string container_id;
  std::string type;     // "Warning"
  std::string reason;   // "Unhealthy" or "ProbeWarning"
  std::string message;  // "Liveness probe failed: HTTP probe failed with statuscode: 500"
};

// What the probes say about one container, for the pod worker's status and restarts.
struct ContainerProbeState {
  std::string container_id;  // the run these results are for; "" if the container is unknown
  bool started = false;      // containerStatuses[].started
  bool ready = false;        // containerStatuses[].ready
  // A liveness or startup probe failed: the container must be killed and restarted (per
  // the pod's restartPolicy). Cleared when update() reports a new container id.
  bool liveness_failed = false;
  // The kill message for the event and status: "Container web failed liveness probe, will
  // be restarted" (or "... startup probe ..."); "" unless liveness_failed.
  std::string message;
  // The failing probe's terminationGracePeriodSeconds, which overrides the pod's for this kill.
  std::optional<int64_t> termination_grace_period_seconds;
};

struct ProbeManagerOptions {
  size_t workers = 4;          // probe worker threads (exec and network probes block one each)
  bool start_threads = true;   // false: nothing runs until the caller calls run_due()
};

class ProbeManager {
 public:
  using ChangeCallback = std::function<void(const std::string& pod_uid)>;
  using EventCallback = std::function<void(const ProbeEvent&)>;

  // `on_change(pod_uid)` is called from a manager thread (or run_due's caller), no lock
  // held, whenever a probe changes a container's started/ready/liveness_failed (not for
  // changes update() makes: its caller reads state() itself); `on_event` for each event.
  // Both must be cheap and thread-safe (enqueue the pod, record the event).
  ProbeManager(ProbeRunner& runner, ProbeClock& clock, ChangeCallback on_change,
               EventCallback on_event, ProbeManagerOptions options = {});
  // Stops the threads; waits for probes that are running (each is bounded by its timeout).
  ~ProbeManager();
  ProbeManager(const ProbeManager&) = delete;
  ProbeManager& operator=(const ProbeManager&) = delete;

  // The running containers of pod `pod_uid` now (level-triggered: call on every sync).
  // Containers not listed lose their probes and results; a listed container with a new
  // container_id starts over. Thread-safe.
  void update(const std::string& pod_uid, const std::vector<ProbeTarget>& running);
  // Forgets a pod and all its probes. Thread-safe.
  void remove_pod(const std::string& pod_uid);
  // The probe state of a container (default state when unknown). Thread-safe.
  ContainerProbeState state(const std::string& pod_uid, const std::string& container_name) const;

  // Caller-driven mode: runs every due probe on the calling thread and returns when the next
  // one is due (nullopt: none). Also usable with threads, but then probes run twice as often.
  std::optional<std::chrono::steady_clock::time_point> run_due();

 private:
  enum class Res { kUnknown, kSuccess, kFailure };
  struct Worker {
    ProbeType type;
    json::object probe;
    std::chrono::steady_clock::time_point next_due;
    bool in_flight = false;
    bool on_hold = false;   // liveness/startup failed: wait for a new container id
    bool stopped = false;   // the pod terminates: liveness/startup are done
    Res last = Res::kUnknown;
    int64_t run = 0;        // consecutive `last` results
  };
  struct Container {
    ProbeTarget target;
    uint64_t generation = 0;  // changes with the container id; stale results are dropped
    std::map<ProbeType, Worker> workers;
    std::map<ProbeType, Res> results;
    bool restart_wanted = false;
    std::string message;
    std::optional<int64_t> grace;
  };
  struct Pod {
    std::map<std::string, Container> containers;
  };
  struct Job {
    std::string pod_uid;
    std::string container_name;
    ProbeType type;
    uint64_t generation;
    ProbeTarget target;
    json::object probe;
  };
  struct Notices {
    std::vector<std::string> changed;
    std::vector<ProbeEvent> events;
  };

  void reset_container(Container& c, std::chrono::steady_clock::time_point now);
  static ContainerProbeState compute(const Container& c);
  // Collects the jobs that are due now, marking them in flight. Lock held.
  std::vector<Job> take_due(std::chrono::steady_clock::time_point now, Notices& notices);
  std::optional<std::chrono::steady_clock::time_point> next_due_locked() const;
  void run_job(Job job);
  void finish(const Job& job, const ProbeResult& result);
  void deliver(Notices& notices);
  ProbeEvent event_for(const ProbeTarget& t, const char* reason, std::string message) const;
  void timer_loop();
  void worker_loop();

  ProbeRunner& runner_;
  ProbeClock& clock_;
  ChangeCallback on_change_;
  EventCallback on_event_;
  uint64_t next_generation_ = 1;

  mutable std::mutex mu_;
  std::condition_variable timer_cv_;
  std::condition_variable pool_cv_;
  bool stopping_ = false;
  std::map<std::string, Pod> pods_;
  std::deque<Job> queue_;
  std::thread timer_;
  std::vector<std::thread> pool_;
};

}  // namespace kernlet::agent
