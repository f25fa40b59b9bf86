// JobController (batch/v1): runs each Job's pods to completion — level-triggered over the
// Job and pod informers, claiming pods by selector, and carrying out job::plan_sync
// (job_sync.h): create/delete pods, the tracking finalizer, status through /status.
// TtlAfterFinishedController deletes finished Jobs ttlSecondsAfterFinished after they
// finished (with their pods, background propagation).
#pragma once

#include <map>
#include <mutex>
#include <set>

#include "control/controllers/controller.h"
#include "control/controllers/job_sync.h"

namespace kernlet::controllers {

class JobController final : public Controller {
 public:
  explicit JobController(SharedInformers& informers, int workers = 2);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  // deleted_event: true = a deletion (or deletionTimestamp) seen, false = an add, nullopt = other.
  void on_pod(const client::ObjectPtr& pod, std::optional<bool> deleted_event);
  Result<void> release_orphans(const std::string& key, std::string_view job_uid);
  Result<void> execute(const json::object& job, const std::string& key, job::SyncPlan& plan);

  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& jobs_;
  client::Informer& pods_;
  Expectations expectations_;
  std::mutex mu_;
  std::map<std::string, job::BackoffRecord> backoff_;  // by job key
  std::set<std::string> finalizer_removed_;            // pod uids not yet seen without it
};

// When a finished Job expires: the Complete/Failed condition's transition time (or
// completionTime) plus ttlSecondsAfterFinished; nullopt when it has no TTL or is not
// finished. Pure.
std::optional<std::chrono::system_clock::time_point> job_expires_at(const json::object& job);

class TtlAfterFinishedController final : public Controller {
 public:
  explicit TtlAfterFinishedController(SharedInformers& informers, int workers = 1);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  std::shared_ptr<client::RestClient> client_;
  client::Informer& jobs_;
};

}  // namespace kernlet::controllers
