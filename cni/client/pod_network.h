// PodNetwork: what the pod worker needs from the pod network, as one small interface it can
// fake: attach a sandbox, detach it, collect attachments of pods that are gone, and whether
// the network is ready. CniPodNetwork implements it with the conf dir and a CniDriver.
//
// Thread-safety: CniPodNetwork's calls may run concurrently for different sandboxes; the
// caller serialises calls for one sandbox.
#pragma once

#include <string>
#include <vector>

#include "api/result.h"
#include "cni/client/cni_driver.h"
#include "cni/client/config.h"
#include "cni/client/plugin_exec.h"
#include "cni/client/result.h"

namespace kernlet::cni {

struct PodNetworkRequest {
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  std::string sandbox_id;  // CNI_CONTAINERID
  // runtime::Sandbox::netns_path(). On detach: only while the sandbox still holds it, else
  // empty (see Attachment::netns).
  std::string netns;
  std::string ifname = "eth0";
  std::vector<PortMapping> port_mappings;  // the pod's hostPorts
};

class PodNetwork {
 public:
  virtual ~PodNetwork() = default;
  // Attaches the sandbox; the result's pod_ips() are the pod's status.podIPs. Errors: the
  // network is not ready (kUnavailable), the plugins' errors. A failed attach leaves nothing.
  virtual Result<NetworkResult> attach(const PodNetworkRequest& request) = 0;
  // Detaches the sandbox; succeeds when there is nothing to detach.
  virtual Result<void> detach(const PodNetworkRequest& request) = 0;
  // Detaches every cached attachment whose sandbox is not in `live_sandbox_ids` (pods that
  // went away while the agent was down) and runs the plugins' GC where they have one.
  virtual Result<void> collect_garbage(const std::vector<std::string>& live_sandbox_ids) = 0;
  // Ok when a network config is present and its plugins answer STATUS (1.1.0) without error;
  // else kUnavailable with the reason, for the node's NetworkReady condition.
  virtual Result<void> ready() = 0;
};

struct CniPodNetworkOptions {
  std::string conf_dir = "/etc/cni/net.d";
  CniDriverOptions driver;
};

class CniPodNetwork : public PodNetwork {
 public:
  // `exec` must outlive this object.
  explicit CniPodNetwork(PluginExec& exec, CniPodNetworkOptions options = {});

  // The conf dir is read on every call: a network add-on installs its config after the
  // agent started (the kubelet re-reads it too), and a changed file takes effect at once.
  Result<NetworkResult> attach(const PodNetworkRequest& request) override;
  Result<void> detach(const PodNetworkRequest& request) override;
  Result<void> collect_garbage(const std::vector<std::string>& live_sandbox_ids) override;
  Result<void> ready() override;

 private:
  Result<NetworkConfigList> network() const;
  static Attachment attachment(const PodNetworkRequest& request);

  CniPodNetworkOptions options_;
  CniDriver driver_;
};

}  // namespace kernlet::cni
