#include "cni/client/pod_network.h"

namespace kernlet::cni {

CniPodNetwork::CniPodNetwork(PluginExec& exec, CniPodNetworkOptions options)
    : options_(std::move(options)), driver_(exec, options_.driver) {}

Result<NetworkConfigList> CniPodNetwork::network() const {
  auto list = load_network(options_.conf_dir);
  if (!list.ok()) {
    // No config yet is the normal "network plugin not ready" state: retry later.
    if (list.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kUnavailable, "network not ready: " + list.error().to_string());
    }
    return std::move(list).error();
  }
  return list;
}

Attachment CniPodNetwork::attachment(const PodNetworkRequest& r) {
  Attachment a;
  a.container_id = r.sandbox_id;
  a.netns = r.netns;
  a.ifname = r.ifname;
  a.args = kubernetes_args(r.pod_namespace, r.pod_name, r.sandbox_id, r.pod_uid);
  if (!r.port_mappings.empty()) a.capability_args["portMappings"] = port_mappings_json(r.port_mappings);
  return a;
}

Result<NetworkResult> CniPodNetwork::attach(const PodNetworkRequest& r) {
  KL_ASSIGN_OR_RETURN(NetworkConfigList list, network());
  return driver_.add(list, attachment(r));
}

Result<void> CniPodNetwork::detach(const PodNetworkRequest& r) {
  KL_ASSIGN_OR_RETURN(NetworkConfigList list, network());
  return driver_.del(list, attachment(r));
}

Result<void> CniPodNetwork::collect_garbage(const std::vector<std::string>& live) {
  KL_ASSIGN_OR_RETURN(NetworkConfigList list, network());
  std::vector<AttachmentKey> keep;
  // Every interface of a live sandbox stays: eth0 (what attach uses by default) even when
  // its cache entry is lost, since a plugin's GC releases whatever is not listed, and any
  // other interface the cache knows.
  for (const auto& id : live) keep.push_back({id, "eth0"});
  for (const auto& entry : driver_.cache().list(list.name)) {
    if (entry.ifname == "eth0") continue;
    for (const auto& id : live) {
      if (entry.container_id == id) keep.push_back({entry.container_id, entry.ifname});
    }
  }
  return driver_.gc(list, keep);
}

Result<void> CniPodNetwork::ready() {
  KL_ASSIGN_OR_RETURN(NetworkConfigList list, network());
  auto s = driver_.status(list);
  if (!s.ok()) return Error(ErrorCode::kUnavailable, "network not ready: " + s.error().to_string());
  return Ok();
}

}  // namespace kernlet::cni
