// Scheduler: the loop around GenericScheduler, as kube-scheduler runs it.
//
// Two informers (all pods, all nodes) keep the ClusterState current: bound pods are
// accounted on their nodes, pending pods whose spec.schedulerName is ours and that are not
// being deleted are queued. One thread takes pods from the queue and decides; the pod is
// assumed on its node at once (the next decision sees it) and bound through
// `pods/{name}/binding` on a small pool of binder threads, so deciding never waits for the
// API. A failed binding forgets the assumption and retries the pod with back-off. A pod
// that fits nowhere gets `PodScheduled=False` (reason Unschedulable, upstream's message)
// and a FailedScheduling Event, and is retried when the cluster changes (a node added or
// changed, a pod deleted) or after its back-off (1 s doubling to 10 s).
//
// Events (Scheduled, FailedScheduling) are written from a bounded queue, at most
// `event_writers` at a time, as client-go's event broadcaster does: a binding never waits
// for its Event, and when the API server is too slow for them events beyond the queue are
// dropped (counted in stats), never the bindings. Up to `binders` bindings are in flight
// at once, because each waits out its write's group commit, and 64 clients creating pods
// at once otherwise crowd 16 of them out (measured: bench/scheduler, docs/benchmarks.md).
//
// On a client whose transport takes requests without a waiting thread (the in-process
// one of kernlet-control, RestClient::request_async) bindings and Events are started from
// the deciding thread and finished in their answer's callback: no binder or event thread
// is woken per pod, and a decision costs no context switch (on a VM, a thread wake-up
// costs more than the binding's own work). Over HTTP, binder and event threads do the
// same with blocking requests. Pods whose claims need a PATCH first always go through a
// binder thread.
//
// Pods with PersistentVolumeClaims go through volume_binding.h first: claims, volumes and
// StorageClasses have informers of their own, and a change to any of them retries the
// unschedulable pods (a claim binding is what a pod with an Immediate claim waits for).
// Unbound WaitForFirstConsumer claims get `volume.kubernetes.io/selected-node` (PATCH)
// just before the pod's binding; a failed PATCH is a failed binding.
//
// Thread-safety: start()/stop() from one thread; the rest is internal.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/client/informer.h"
#include "api/client/rest_client.h"
#include "api/client/work_queue.h"
#include "control/scheduler/scheduler_algorithm.h"

namespace kernlet::scheduler {

struct SchedulerConfig {
  std::string name = "default-scheduler";  // pods with this spec.schedulerName are ours
  int parallelism = 2;                     // filter/score threads
  int binders = 64;                        // concurrent binding requests
  bool emit_scheduled_events = true;       // a Normal "Scheduled" Event per bound pod
  int event_writers = 4;                   // threads creating Events
  std::size_t max_queued_events = 10000;   // Events waiting beyond this are dropped
};

struct SchedulerStats {
  int64_t scheduled = 0;
  int64_t unschedulable_attempts = 0;
  int64_t bind_failures = 0;
  int64_t events_dropped = 0;
};

class Scheduler {
 public:
  Scheduler(std::shared_ptr<client::RestClient> client, SchedulerConfig config = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the informers, waits for their first lists (up to `sync_timeout`), then the
  // scheduling and binding threads. Errors: the informers did not sync in time.
  Result<void> start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(30));
  void stop();
  SchedulerStats stats() const;

 private:
  void on_pod(const client::ObjectPtr& pod);
  void on_pod_deleted(const client::ObjectPtr& pod);
  void on_node(const client::ObjectPtr& node);
  void on_node_deleted(const client::ObjectPtr& node);
  void cluster_changed();
  bool ours_to_schedule(const json::object& pod) const;
  // Fills the pod's volume requirements from the caches; the error text when its claims
  // make it unschedulable everywhere.
  std::optional<std::string> add_volume_requirements(const json::object& pod, PodInfo& info);
  Result<void> select_node_for_claims(const PodInfo& pod);
  void schedule_loop();
  void schedule_one(const std::string& key);
  void bind_loop();
  void bind(const std::shared_ptr<PodInfo>& pod, const client::ObjectPtr& obj);
  // Starts the binding without waiting (async_ only); waits while `binders` are in flight.
  void bind_async(const std::shared_ptr<PodInfo>& pod, const client::ObjectPtr& obj);
  // What a binding's answer means for the pod: the Scheduled Event, or the assumption
  // dropped and the pod retried. Does not block.
  void binding_answered(const std::shared_ptr<PodInfo>& pod, const client::ObjectPtr& obj,
                        const Result<client::Response>& res);
  // Posts an Event whose slot (events_in_flight_) is taken (async_ only).
  void send_event(std::string namespace_, json::object event);
  void record_unschedulable(const client::ObjectPtr& pod, const std::string& message);
  // Queues an Event for the event threads (drops it when max_queued_events wait).
  void emit_event(std::string namespace_, json::object event);
  void event_loop();

  std::shared_ptr<client::RestClient> client_;
  SchedulerConfig config_;
  std::unique_ptr<client::Informer> pods_;
  std::unique_ptr<client::Informer> nodes_;
  std::unique_ptr<client::Informer> claims_;   // PersistentVolumeClaims
  std::unique_ptr<client::Informer> volumes_;  // PersistentVolumes
  std::unique_ptr<client::Informer> classes_;  // StorageClasses
  client::WorkQueue queue_;

  std::mutex state_mu_;  // guards state_, algorithm_, unschedulable_, last_message_
  ClusterState state_;
  std::unique_ptr<GenericScheduler> algorithm_;
  std::set<std::string> unschedulable_;                        // keys waiting for a change
  std::unordered_map<std::string, std::string> last_message_;  // key → last FailedScheduling

  bool async_ = false;  // the client takes requests without a waiting thread
  std::mutex bind_mu_;
  std::condition_variable bind_cv_;
  std::deque<std::pair<std::shared_ptr<PodInfo>, client::ObjectPtr>> to_bind_;
  bool stopping_ = false;
  int bindings_in_flight_ = 0;  // async_: started, not answered (guarded by bind_mu_)
  std::condition_variable bind_slot_cv_;  // a binding answered, or stopping

  std::atomic<int64_t> scheduled_{0};
  std::atomic<int64_t> unschedulable_attempts_{0};
  std::atomic<int64_t> bind_failures_{0};
  std::atomic<int64_t> events_dropped_{0};
  std::thread scheduler_thread_;
  std::vector<std::thread> binder_threads_;

  std::mutex event_mu_;
  std::condition_variable event_cv_;
  std::deque<std::pair<std::string, json::object>> events_;  // namespace, Event
  bool events_stopping_ = false;
  int events_in_flight_ = 0;  // async_: started, not answered (guarded by event_mu_)
  std::vector<std::thread> event_threads_;
};

}  // namespace kernlet::scheduler
