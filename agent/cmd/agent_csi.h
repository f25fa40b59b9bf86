// AgentCsi: the agent's CSI side. It finds the CSI drivers on this node (PluginRegistry on
// <root>/plugins_registry), keeps a CsiClient per driver, serves pods' persistentVolumeClaim
// volumes through csi/node's CsiNodeVolumes (set into the VolumeManager), and runs the
// node-side provisioner for those drivers:
//   - CSINode <node> lists the registered drivers (nodeID, topology keys); the Node gets
//     the drivers' topology labels; a missing CSIDriver object is created (attachRequired
//     only when the driver has ControllerPublish, fsGroupPolicy ReadWriteOnceWithFSType);
//   - claims handed to a driver of this node (volume.kubernetes.io/storage-provisioner) and
//     selected for this node (WaitForFirstConsumer), or chosen for it (Immediate: the
//     first node by name whose CSINode lists the driver), get CreateVolume and their PV;
//   - Released PVs with reclaimPolicy Delete that a driver here made, and whose
//     nodeAffinity admits this node, get DeleteVolume and lose their PV object;
//   - staged volumes that no pod directory uses any more are unstaged (restart sweep).
// One thread does all of this, level-triggered: woken by claim, PV, class and CSINode
// events and by driver registrations, and every 10 s. A claim turning Bound also wakes
// the pods on this node that use it (`wake_claim`), so they mount without waiting for a
// retry.
//
// Thread-safety: create/start/stop from one thread; the rest is internal.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/node/event_recorder.h"
#include "api/client/informer.h"
#include "api/client/rest_client.h"
#include "csi/client/csi_client.h"
#include "csi/client/plugin_registry.h"
#include "csi/node/csi_node_volumes.h"
#include "csi/volume/mounter.h"

namespace kernlet::agent {

struct AgentCsiOptions {
  std::string node_name;
  std::string root_dir;  // the agent's --root-dir
  // Called with a claim's namespace and name when it becomes Bound.
  std::function<void(const std::string& ns, const std::string& claim)> wake_claim;
};

class AgentCsi {
 public:
  // `client`, `recorder` and `mounter` must outlive this.
  AgentCsi(std::shared_ptr<client::RestClient> client, EventRecorder* recorder, csi::Mounter& mounter,
           AgentCsiOptions options);
  ~AgentCsi();

  // The VolumeManager's plugin for persistentVolumeClaim volumes.
  csi::PersistentVolumePlugin* volume_plugin() { return volumes_.get(); }

  // Starts the registry, the informers and the provisioner thread. Errors name the
  // registration directory.
  Result<void> start();
  void stop();

 private:
  void on_driver(const csi::RegisteredDriver& d, bool added);
  Result<std::shared_ptr<csi::NodeDriver>> node_driver(std::string_view name);
  void wake();
  void run();
  void reconcile();
  void sync_drivers();
  Result<void> publish_csi_node();
  void provision_claims();
  void delete_released();
  // The drivers whose NodeGetInfo is known (a snapshot taken under mu_), for the
  // provisioner's passes: their clients and this node's topology.
  struct DriverTarget {
    std::string name;
    std::shared_ptr<csi::CsiClient> client;
    csi::TopologySegments topology;
  };
  std::vector<DriverTarget> known_drivers();
  Result<std::optional<json::object>> get(const client::ResourceRef& ref);

  struct Driver {
    csi::RegisteredDriver reg;
    std::shared_ptr<csi::CsiClient> client;
    csi::NodeInfo info;       // from NodeGetInfo, once known
    bool info_known = false;
    bool object_checked = false;  // CSIDriver object created or seen
  };

  std::shared_ptr<client::RestClient> client_;
  EventRecorder* recorder_;
  AgentCsiOptions opts_;
  std::unique_ptr<csi::CsiNodeVolumes> volumes_;
  std::unique_ptr<csi::PluginRegistry> registry_;
  std::unique_ptr<client::Informer> claims_, pvs_, classes_, csi_nodes_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Driver> drivers_;  // by name; guarded by mu_
  bool drivers_changed_ = true;            // guarded by mu_
  bool wake_ = false;                      // guarded by mu_
  bool stop_ = false;                      // guarded by mu_
  std::thread thread_;
  std::string published_node_;             // last CSINode drivers text written (thread only)
};

}  // namespace kernlet::agent
