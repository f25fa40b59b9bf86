// DeploymentController: rolls a Deployment's pod template out through ReplicaSets, as
// Kubernetes' does. The ReplicaSet whose template equals the Deployment's (the
// pod-template-hash label aside) is the new one, created `<name>-<hash>` when absent; the
// others are old. RollingUpdate grows the new one and shrinks the old ones within
// maxSurge/maxUnavailable (rollout.h); Recreate scales the old ones to zero, waits for
// their pods to go, then scales the new one up. The `deployment.kubernetes.io/revision`
// annotations, revisionHistoryLimit and the Available/Progressing conditions are kept the
// way `kubectl rollout status|history|undo|restart` read and drive them; `spec.paused`
// stops rollouts but not scaling.
#pragma once

#include "control/controllers/controller.h"

namespace kernlet::controllers {

class DeploymentController final : public Controller {
 public:
  explicit DeploymentController(SharedInformers& informers, int workers = 2);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  void enqueue_owner(const json::object& rs);
  Result<client::ObjectPtr> create_new_rs(const json::object& d, int64_t revision, int64_t replicas);
  Result<void> scale(const json::object& rs, int64_t replicas, const json::object& d, std::optional<int64_t> revision);
  Result<void> set_deployment_revision(const json::object& d, int64_t revision);
  Result<void> write_status(const json::object& d, const std::vector<client::ObjectPtr>& rss,
                            const client::ObjectPtr& new_rs, bool created_new);

  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& deployments_;
  client::Informer& rss_;
  client::Informer& pods_;
};

}  // namespace kernlet::controllers
