// ReplicaSetController: keeps spec.replicas active pods for each ReplicaSet, as Kubernetes'
// does — adopting matching orphans and releasing owned pods whose labels no longer match,
// creating missing pods in slow-start batches (1, 2, 4, …: a broken template fails fast),
// deleting the surplus least valuable first (unscheduled, pending, not ready, then the
// newest), and writing status (replicas, fullyLabeled, ready, available,
// observedGeneration). Expectations keep it from acting twice on pods its informer has
// not seen yet; a deletion counts as seen when the pod starts terminating, as upstream's
// does, so a rolling update does not wait out every old pod's grace period.
#pragma once

#include <mutex>
#include <unordered_set>

#include "api/labels.h"
#include "control/controllers/controller.h"

namespace kernlet::controllers {

class ReplicaSetController final : public Controller {
 public:
  explicit ReplicaSetController(SharedInformers& informers, int workers = 2);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  // kind: an add, a deletion started (deletionTimestamp set), or the object gone.
  enum class PodChange { kAdded, kTerminating, kGone };
  void on_pod(const client::ObjectPtr& pod, PodChange change);
  void enqueue_matching(const json::object& pod);
  Result<void> manage(const json::object& rs, const std::string& key, std::vector<client::ObjectPtr>& active);
  Result<void> write_status(const json::object& rs, const std::vector<client::ObjectPtr>& owned);

  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& rss_;
  client::Informer& pods_;
  Expectations expectations_;
  // Pods whose deletion was already counted when they started terminating, so their final
  // removal is not counted again (uids; an entry lives from that update to the removal).
  std::mutex terminating_mu_;
  std::unordered_set<std::string> terminating_;
};

// The pod a workload creates from its template: generateName `<owner>-`, the template's
// labels, annotations and finalizers, the owner as controller, the template's spec.
json::object pod_from_template(const json::object& pod_template, const json::object& owner, std::string_view api_version,
                               std::string_view kind);

// Which pods to delete first when scaling down (upstream's ActivePodsWithRanks, without
// co-location ranking): unscheduled before scheduled, Pending before Unknown before
// Running, not ready before ready, recently ready before long ready, more restarts first,
// newer before older. Sorts in place.
void sort_for_deletion(std::vector<client::ObjectPtr>& pods);

}  // namespace kernlet::controllers
