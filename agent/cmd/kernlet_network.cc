#include "agent/cmd/kernlet_network.h"

#include "api/json.h"
#include "cni/client/config.h"
#include "cni/routes/route.h"
#include "runtime/sandbox/linux.h"

namespace kernlet::agent {

Result<std::string> kernlet_conflist(const KernletNetworkOptions& o, std::string_view pod_cidr) {
  auto subnet = cni::routes::parse_prefix(pod_cidr);
  if (!subnet.ok()) return std::move(subnet).error().context("kernlet network: the Node's spec.podCIDR");
  auto cluster = cni::routes::parse_prefix(o.cluster_cidr);
  if (!cluster.ok()) return std::move(cluster).error().context("kernlet network: --cluster-cidr");
  if (!cni::valid_interface_name(o.bridge))
    return Error(ErrorCode::kInvalidArgument, "kernlet network: --cni-bridge \"" + o.bridge + "\": not an interface name");
  if (o.mtu < 68 || o.mtu > 65535)
    return Error(ErrorCode::kInvalidArgument, "kernlet network: --cni-mtu " + std::to_string(o.mtu) + ": want 68..65535");
  if (o.data_dir.empty() || o.data_dir[0] != '/')
    return Error(ErrorCode::kInvalidArgument, "kernlet network: --cni-data-dir \"" + o.data_dir + "\": want an absolute path");
  json::array plugins;
  if (o.plugin == "kernlet-cni") {
    plugins.push_back(json::object{{"type", "kernlet-cni"},
                                   {"bridge", o.bridge},
                                   {"mtu", o.mtu},
                                   {"hairpinMode", true},
                                   {"subnet", subnet->str()},
                                   {"dataDir", o.data_dir},
                                   {"ipMasq", true},
                                   {"clusterCIDR", cluster->str()}});
  } else if (o.plugin == "bridge") {
    json::object range{{"subnet", subnet->str()}};
    json::object ipam{{"type", "host-local"}, {"ranges", json::array{json::array{range}}}, {"dataDir", o.data_dir}};
    plugins.push_back(json::object{{"type", "bridge"},
                                   {"bridge", o.bridge},
                                   {"mtu", o.mtu},
                                   {"isGateway", true},
                                   {"isDefaultGateway", true},
                                   {"hairpinMode", true},
                                   {"ipMasq", false},
                                   {"ipam", ipam}});
    plugins.push_back(json::object{{"type", "loopback"}});
  } else {
    return Error(ErrorCode::kInvalidArgument,
                 "kernlet network: --cni-plugin \"" + o.plugin + "\": want kernlet-cni or bridge");
  }
  json::object list{{"cniVersion", "1.0.0"}, {"name", "kernlet"}, {"plugins", plugins}};
  return json::dump(list) + "\n";
}

Result<bool> write_kernlet_conflist(const KernletNetworkOptions& o, std::string_view pod_cidr) {
  KL_ASSIGN_OR_RETURN(auto text, kernlet_conflist(o, pod_cidr));
  const std::string path = o.conf_dir + "/" + kKernletConflistName;
  if (auto old = runtime::read_file(path); old.ok() && *old == text) return false;
  KL_TRY(runtime::make_dirs(o.conf_dir));
  KL_TRY(runtime::write_file_atomic(path, text, 0644, /*durable=*/true));
  return true;
}

}  // namespace kernlet::agent
