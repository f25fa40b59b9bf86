// PodWorkers: the agent's pod loop. Pods (from the informer, static pods later) are keyed
// by uid on a WorkQueue, so one pod is synced by one worker at a time; a sync is
// level-triggered (PodSyncer reads the pod and the runtime and converges). Woken by:
//   - pod changes (upsert/removed, from the informer's handlers);
//   - container exits: a pidfd per running container in one epoll thread (ExitWatcher);
//   - probe results (enqueue);
//   - back-off expiry and deadlines (delayed requeue);
//   - a periodic resync (configMap/secret volume refresh, anything missed).
// Deletion: a pod with deletionTimestamp is terminated (preStop, SIGTERM, grace, kill), its
// final status written, its node state removed, then the object is deleted with grace 0
// and a uid precondition, as the kubelet's status manager does. Pods gone from the API (or
// moved to another node) and orphans found in the runtime at start-up are removed too.
// Thread-safety: every public method is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/pod/pod_sync.h"
#include "api/client/cache.h"
#include "api/client/rest_client.h"
#include "api/client/work_queue.h"
#include "api/unique_fd.h"

namespace kernlet::agent {

// The writes the pod workers make. RestPodApi is the real one. Thread-safe.
class PodApi {
 public:
  virtual ~PodApi() = default;
  // PATCH pods/<name>/status (merge patch with metadata.uid as precondition).
  virtual Result<void> patch_status(const std::string& ns, const std::string& name, const json::object& patch) = 0;
  // DELETE the pod with gracePeriodSeconds=0 and a uid precondition. kNotFound is success.
  virtual Result<void> delete_pod(const std::string& ns, const std::string& name, const std::string& uid) = 0;
};

class RestPodApi final : public PodApi {
 public:
  explicit RestPodApi(std::shared_ptr<client::RestClient> client) : client_(std::move(client)) {}
  Result<void> patch_status(const std::string& ns, const std::string& name, const json::object& patch) override;
  Result<void> delete_pod(const std::string& ns, const std::string& name, const std::string& uid) override;

 private:
  std::shared_ptr<client::RestClient> client_;
};

// One epoll thread watching pidfds of running containers; calls `on_exit(key)` once when a
// watched process ends. Thread-safe.
class ExitWatcher {
 public:
  explicit ExitWatcher(std::function<void(const std::string& key)> on_exit);
  ~ExitWatcher();
  Result<void> start();
  void stop();
  // Watches `pid` (the container `id`, reported as `key`); a second watch of the same id is
  // a no-op. A pid that is already gone reports at once.
  void watch(const std::string& id, pid_t pid, const std::string& key);
  std::size_t watched() const;

 private:
  void run();
  std::function<void(const std::string&)> on_exit_;
  UniqueFd epoll_;
  UniqueFd wake_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<int, std::pair<std::string, std::string>> by_fd_;  // fd -> (id, key)
  std::map<std::string, UniqueFd> fds_;                       // id -> pidfd
};

struct PodWorkersOptions {
  int workers = 4;
  std::chrono::milliseconds resync_period{60'000};
  // For pods that vanished from the API without a deletion grace period.
  std::chrono::milliseconds orphan_grace{2'000};
  // The mirror pod of a static pod (by namespace and name), whose status the agent writes
  // in the static pod's stead; nullptr when there is none (yet). Unset: no static pods.
  std::function<client::ObjectPtr(const std::string& ns, const std::string& name)> mirror_of;
};

// Whether `pod` came from a manifest file (annotation kubernetes.io/config.source=file).
bool is_static_pod(const json::object& pod);

class PodWorkers {
 public:
  PodWorkers(PodSyncer* syncer, PodRuntime* rt, PodApi* api, PodWorkersOptions options);
  ~PodWorkers();

  // The pod was added or changed (informer handler; quick).
  void upsert(const client::ObjectPtr& pod);
  // The pod is gone from the API or no longer bound here.
  void removed(const client::ObjectPtr& pod);
  // The static pods now (the whole set, from the manifest directory): new and changed ones
  // are upserted, those gone are removed.
  void set_static_pods(const std::vector<json::object>& pods);
  // Wakes the pod's sync (probe results, hooks).
  void enqueue(const std::string& uid);
  // Queues every pod the runtime has that no known pod owns: torn down at their sync.
  // Call once the pod source has synced, so that no live pod is taken for an orphan.
  void adopt_orphans();
  // Starts the workers, the exit watcher and the resync. Errors: epoll/eventfd.
  Result<void> start();
  // Stops the threads; containers keep running (an agent restart re-adopts them).
  void stop();

  // The pod object known for `uid` (nullptr when none): for the log server.
  client::ObjectPtr pod(const std::string& uid) const;
  // The pod named `ns`/`name` that this node runs (nullptr when none).
  client::ObjectPtr find(std::string_view ns, std::string_view name) const;
  // Every pod this node runs now (the kubelet API's /pods).
  std::vector<client::ObjectPtr> list() const;
  // Syncs done so far (tests, metrics).
  int64_t syncs() const { return syncs_.load(); }

 private:
  void worker_loop();
  void resync_loop();
  void process(const std::string& uid);
  void write_status(const api::PodView& pod, const json::object& status);
  void remove_log_dir(const std::string& uid);

  PodSyncer* syncer_;
  PodRuntime* rt_;
  PodApi* api_;
  PodWorkersOptions options_;
  client::WorkQueue queue_;
  ExitWatcher exits_;
  std::vector<std::thread> threads_;
  std::thread resync_;
  std::atomic<int64_t> syncs_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, client::ObjectPtr> pods_;  // uid -> latest object from the source
  std::map<std::string, client::ObjectPtr> gone_;  // uid -> last state, removed from the source
  std::set<std::string> orphans_;                  // uids found only in the runtime
  std::set<std::string> static_uids_;              // uids of the current static pods
  struct Written {
    std::string text;      // the status JSON
    std::string based_on;  // the object's resourceVersion when it was written
  };
  std::map<std::string, Written> last_written_;  // uid -> the status last written
};

}  // namespace kernlet::agent
