// ApiPodEnvironment: PodEnvironment over agent/podspec (env, $(VAR) expansion, security,
// pull credentials) and csi/volume (volumes), with ConfigMaps, Secrets and Services read
// from the API: ConfigMaps and Secrets by a fresh GET when a container is built or a volume
// refreshed (the kubelet's "Get" change-detection strategy), Services from an informer.
// Thread-safety: every method may be called from any thread (volumes of one pod are set up
// by one sync at a time).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/pod/pod_sync.h"
#include "api/client/cache.h"
#include "api/client/rest_client.h"
#include "csi/volume/volume_manager.h"

namespace kernlet::agent {

struct ApiEnvironmentOptions {
  std::string node_name;
  std::vector<std::string> host_ips;
  bool seccomp_default = false;
  std::string seccomp_profile_root;
  // What resourceFieldRef limits.cpu/limits.memory/limits.ephemeral-storage read when the
  // container sets no such limit, and what sizes Memory emptyDirs: node_allocatable_source()
  // when set (the kubelet reads its Node's status.allocatable at each use), else this.
  api::ResourceList node_allocatable;
  std::function<api::ResourceList()> node_allocatable_source;
};

// status.allocatable of a Node object (empty before registration; an entry that does not
// parse is left out).
api::ResourceList node_allocatable_of(const std::optional<json::object>& node);

class ApiPodEnvironment final : public PodEnvironment {
 public:
  // `services` (may be null: no service variables but default/kubernetes is then missing
  // too), `volumes` and `network` must outlive this.
  ApiPodEnvironment(std::shared_ptr<client::RestClient> client, const client::ObjectCache* services,
                    csi::VolumeManager* volumes, PodNetwork* network, ApiEnvironmentOptions options);

  Result<Built> build(const api::PodView& pod, const api::ContainerView& c, const ImageInfo& image) override;
  std::vector<images::RegistryOptions> pull_options(const api::PodView& pod, std::string_view image) override;
  Result<void> setup_volumes(const api::PodView& pod) override;
  Result<void> teardown_volumes(const std::string& pod_uid) override;

 private:
  Result<std::optional<json::object>> fetch(std::string_view resource, std::string_view ns, std::string_view name);
  csi::VolumeSources sources();
  api::ResourceList node_allocatable() const;

  std::shared_ptr<client::RestClient> client_;
  const client::ObjectCache* services_;
  csi::VolumeManager* volumes_;
  PodNetwork* network_;
  ApiEnvironmentOptions options_;
  std::mutex mu_;
  std::map<std::string, csi::PodVolumes> pod_volumes_;  // by pod uid
};

}  // namespace kernlet::agent
