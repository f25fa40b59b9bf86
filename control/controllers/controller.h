// The machinery every controller shares, as client-go's: informers shared between
// controllers (one list+watch per resource for the whole process), a rate-limited work
// queue of keys, worker threads calling reconcile(key), and expectations that keep a
// controller from acting twice on writes its informer has not seen yet.
//
// A controller is level-triggered: handlers only enqueue keys; reconcile(key) reads the
// desired and actual state from the caches and converges, and is safe to run again.
// Thread-safety: SharedInformers::get before start(); Controller methods are thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/client/event_recorder.h"
#include "api/client/informer.h"
#include "api/client/rest_client.h"
#include "api/client/work_queue.h"

namespace kernlet::controllers {

class SharedInformers {
 public:
  explicit SharedInformers(std::shared_ptr<client::RestClient> client) : client_(std::move(client)) {}
  // The recorder the controllers' Events go through (one for the whole process, as
  // kube-controller-manager's broadcaster). Only before the controllers are built.
  void set_recorder(std::shared_ptr<client::EventRecorder> recorder) { recorder_ = std::move(recorder); }
  // A sink recording as `component` ("deployment-controller"); without a recorder, one
  // that drops everything (tests building controllers without events).
  std::shared_ptr<client::EventSink> events(std::string component) const;
  ~SharedInformers() { stop(); }
  // The informer for a collection (all namespaces), created on first use with a
  // "namespace" index. Only before start().
  client::Informer& get(const client::ResourceRef& collection);
  void start();
  bool wait_for_sync(std::chrono::milliseconds timeout);
  void stop();
  const std::shared_ptr<client::RestClient>& client() const { return client_; }

 private:
  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventRecorder> recorder_;
  std::map<std::string, std::unique_ptr<client::Informer>> informers_;
};

// Pending creations/deletions a controller has asked for and not yet seen come back
// through its informer (client-go's ControllerExpectations). Expire after 5 minutes so a
// lost event cannot wedge a controller.
class Expectations {
 public:
  void expect(const std::string& key, int adds, int dels);
  void creation_observed(const std::string& key);
  void deletion_observed(const std::string& key);
  bool satisfied(const std::string& key);
  void forget(const std::string& key);

 private:
  struct Pending {
    int adds = 0;
    int dels = 0;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Pending> pending_;
};

class Controller {
 public:
  Controller(std::string name, int workers);
  virtual ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void run();   // starts the workers
  void stop();  // stops and joins them
  void enqueue(const std::string& key) { queue_.add(key); }
  void enqueue_after(const std::string& key, std::chrono::milliseconds d) { queue_.add_after(key, d); }
  const std::string& name() const { return name_; }

 protected:
  // Converges one object. An error requeues the key with back-off (and is logged).
  virtual Result<void> reconcile(const std::string& key) = 0;

 private:
  void work();
  std::string name_;
  int workers_;
  client::WorkQueue queue_;
  std::vector<std::thread> threads_;
};

// Helpers shared by the workload controllers.
namespace util {
// The controller ownerReference of an object, if any: {apiVersion, kind, name, uid}.
struct ControllerRef {
  std::string api_version, kind, name, uid;
};
std::optional<ControllerRef> controller_of(const json::object& obj);
// An ownerReference naming `owner` as controller (blockOwnerDeletion set).
json::object controller_ref_json(const json::object& owner, std::string_view api_version, std::string_view kind);
// Pod readiness and availability (Ready for at least min_ready_seconds at `now`).
bool pod_ready(const json::object& pod);
bool pod_available(const json::object& pod, int64_t min_ready_seconds, std::chrono::system_clock::time_point now);
// Active = not finished (Succeeded/Failed) and not being deleted.
bool pod_active(const json::object& pod);
// What an Event names as its involvedObject: `obj`'s name, namespace, uid and
// resourceVersion with the given apiVersion and kind (informer list items carry none).
json::object event_target(const json::object& obj, std::string_view api_version, std::string_view kind);
}  // namespace util

}  // namespace kernlet::controllers
