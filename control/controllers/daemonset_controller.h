// DaemonSetController (apps/v1): one daemon pod per eligible node, carrying out
// daemonset::plan_sync (daemonset_sync.h) over the DaemonSet, Node and pod informers:
// claims pods by selector, creates and deletes with expectations, writes status through
// /status. Node changes (labels, taints, new nodes) resync every DaemonSet. Keeps the
// rollout history as ControllerRevisions (daemonset_history.h) over their informer.
#pragma once

#include <utility>
#include <vector>

#include "control/controllers/controller.h"
#include "control/controllers/daemonset_sync.h"

namespace kernlet::controllers {

class DaemonSetController final : public Controller {
 public:
  explicit DaemonSetController(SharedInformers& informers, int workers = 2);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  void on_pod(const client::ObjectPtr& pod, std::optional<bool> deleted_event);
  void enqueue_all();
  void on_revision(const client::ObjectPtr& revision);
  // Claims the DaemonSet's revisions, makes the current one exist, and returns its hash
  // and the old revisions.
  Result<std::pair<std::string, std::vector<client::ObjectPtr>>> sync_history(const json::object& ds,
                                                                              const std::vector<client::ObjectPtr>& pods);
  Result<std::vector<client::ObjectPtr>> claim_revisions(const json::object& ds);

  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& daemonsets_;
  client::Informer& nodes_;
  client::Informer& pods_;
  client::Informer& revisions_;
  Expectations expectations_;
};

}  // namespace kernlet::controllers
