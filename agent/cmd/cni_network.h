// CniPodNetwork: PodNetwork over cni/client's CniDriver: ADD when the sandbox is created,
// DEL when the pod goes; the pod IPs come from the ADD result, and after an agent restart
// from the driver's result cache. The network is the lexically first config in
// --cni-conf-dir, read at each ADD (a config written after the agent started is found).
// Thread-safety: calls for different pods may run concurrently (the driver allows it).
#pragma once

#include <memory>
#include <string>

#include "agent/pod/pod_sync.h"
#include "cni/client/cni_driver.h"

namespace kernlet::agent {

class CniPodNetwork final : public PodNetwork {
 public:
  CniPodNetwork(std::string conf_dir, std::vector<std::string> bin_dirs, std::string cache_dir);
  Result<std::vector<std::string>> add(const api::PodView& pod, const std::string& netns_path) override;
  std::vector<std::string> ips(const std::string& pod_uid) override;
  Result<void> del(const std::string& pod_uid, const std::string& ns, const std::string& name,
                   const std::string& netns_path) override;

 private:
  std::string conf_dir_;
  cni::ProcessPluginExec exec_;
  std::unique_ptr<cni::CniDriver> driver_;
};

}  // namespace kernlet::agent
