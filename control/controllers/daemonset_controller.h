// DaemonSetController (apps/v1): one daemon pod per eligible node, carrying out
// daemonset::plan_sync (daemonset_sync.h) over the DaemonSet, Node and pod informers:
// claims pods by selector, creates and deletes with expectations, writes status through
// /status. Node changes (labels, taints, new nodes) resync every DaemonSet.
#pragma once

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

  std::shared_ptr<client::RestClient> client_;
  client::Informer& daemonsets_;
  client::Informer& nodes_;
  client::Informer& pods_;
  Expectations expectations_;
};

}  // namespace kernlet::controllers
