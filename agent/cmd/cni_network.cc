#include "agent/cmd/cni_network.h"

namespace kernlet::agent {

CniPodNetwork::CniPodNetwork(std::string conf_dir, std::vector<std::string> bin_dirs, std::string cache_dir)
    : conf_dir_(std::move(conf_dir)) {
  cni::CniDriverOptions o;
  o.bin_dirs = std::move(bin_dirs);
  o.cache_dir = std::move(cache_dir);
  driver_ = std::make_unique<cni::CniDriver>(exec_, o);
}

Result<std::vector<std::string>> CniPodNetwork::add(const api::PodView& pod, const std::string& netns_path) {
  KL_ASSIGN_OR_RETURN(auto list, cni::load_network(conf_dir_));
  const std::string uid(pod.meta().uid());
  cni::Attachment a;
  a.container_id = uid;
  a.netns = netns_path;
  a.args = cni::kubernetes_args(pod.meta().namespace_(), pod.meta().name(), uid, uid);
  KL_ASSIGN_OR_RETURN(auto result, driver_->add(list, a));
  return cni::pod_ips(result);
}

std::vector<std::string> CniPodNetwork::ips(const std::string& pod_uid) {
  auto list = cni::load_network(conf_dir_);
  if (!list.ok()) return {};
  auto r = driver_->cached_result(*list, pod_uid, "eth0");
  if (!r.ok() || !*r) return {};
  return cni::pod_ips(**r);
}

Result<void> CniPodNetwork::del(const std::string& pod_uid, const std::string& ns, const std::string& name,
                                const std::string& netns_path) {
  auto list = cni::load_network(conf_dir_);
  if (!list.ok()) return list.error().code() == ErrorCode::kNotFound ? Result<void>(Ok()) : Result<void>(list.error());
  cni::Attachment a;
  a.container_id = pod_uid;
  a.netns = netns_path;
  a.args = cni::kubernetes_args(ns, name, pod_uid, pod_uid);
  return driver_->del(*list, a);
}

}  // namespace kernlet::agent
