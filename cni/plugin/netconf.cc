#include "cni/plugin/netconf.h"

#include <algorithm>
#include <cstdio>

#include "cni/client/config.h"

namespace kernlet::cni {
namespace {

CniFailure failure(int64_t code, std::string msg, std::string details = {}) {
  return CniFailure{code, std::move(msg), std::move(details)};
}

CniFailure bad_config(std::string_view field, std::string_view problem) {
  return failure(static_cast<int64_t>(CniErrorCode::kInvalidNetworkConfig),
                 "invalid network config",
                 "kernlet-cni config: " + std::string(field) + ": " + std::string(problem));
}

}  // namespace

const std::vector<std::string>& plugin_versions() {
  static const std::vector<std::string> v{"0.4.0", "1.0.0", "1.1.0"};
  return v;
}

std::optional<CniEnv> parse_env(const std::map<std::string, std::string>& env,
                                CniFailure* out) {
  auto get = [&](const char* k) -> std::string {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  auto bad = [&](std::string details) {
    *out = failure(static_cast<int64_t>(CniErrorCode::kInvalidEnvironment),
                   "invalid environment variables", std::move(details));
    return std::nullopt;
  };
  CniEnv e;
  std::string cmd = get("CNI_COMMAND");
  if (cmd == "ADD") e.command = CniCommand::kAdd;
  else if (cmd == "DEL") e.command = CniCommand::kDel;
  else if (cmd == "CHECK") e.command = CniCommand::kCheck;
  else if (cmd == "VERSION") e.command = CniCommand::kVersion;
  else if (cmd == "STATUS") e.command = CniCommand::kStatus;
  else if (cmd == "GC") e.command = CniCommand::kGc;
  else if (cmd.empty()) return bad("CNI_COMMAND: missing");
  else return bad("CNI_COMMAND: unknown command \"" + cmd + "\"");
  e.container_id = get("CNI_CONTAINERID");
  e.netns = get("CNI_NETNS");
  e.ifname = get("CNI_IFNAME");
  e.args = get("CNI_ARGS");
  e.path = get("CNI_PATH");
  bool attach = e.command == CniCommand::kAdd || e.command == CniCommand::kDel ||
                e.command == CniCommand::kCheck;
  if (attach) {
    if (e.container_id.empty()) return bad("CNI_CONTAINERID: missing");
    if (!valid_identifier(e.container_id)) {
      return bad("CNI_CONTAINERID: \"" + e.container_id +
                 "\" must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
    }
    if (e.ifname.empty()) return bad("CNI_IFNAME: missing");
    if (!valid_interface_name(e.ifname)) {
      return bad("CNI_IFNAME: \"" + e.ifname + "\" is not a valid interface name");
    }
    if (e.command != CniCommand::kDel && e.netns.empty()) return bad("CNI_NETNS: missing");
  }
  return e;
}

std::optional<KernletNetConf> parse_netconf(std::string_view text, CniFailure* out) {
  auto doc = json::parse(text);
  if (!doc.ok()) {
    *out = failure(static_cast<int64_t>(CniErrorCode::kDecodeFailure),
                   "failed to decode network config", doc.error().to_string());
    return std::nullopt;
  }
  if (!doc->is_object()) {
    *out = failure(static_cast<int64_t>(CniErrorCode::kDecodeFailure),
                   "failed to decode network config", "the config must be a JSON object");
    return std::nullopt;
  }
  KernletNetConf c;
  c.raw = doc->get_object();
  const json::object& o = c.raw;
  auto fail = [&](CniFailure f) {
    *out = std::move(f);
    return std::nullopt;
  };

  const json::value* v = json::find(o, "cniVersion");
  if (v == nullptr || !v->is_string() || v->get_string().empty()) {
    return fail(bad_config("cniVersion", "missing"));
  }
  c.cni_version = std::string(v->get_string());
  const auto& ok = plugin_versions();
  if (std::find(ok.begin(), ok.end(), c.cni_version) == ok.end()) {
    return fail(failure(static_cast<int64_t>(CniErrorCode::kIncompatibleVersion),
                        "incompatible CNI version",
                        "kernlet-cni speaks 0.4.0, 1.0.0 and 1.1.0, not " + c.cni_version));
  }
  v = json::find(o, "name");
  if (v == nullptr || !v->is_string()) return fail(bad_config("name", "missing"));
  c.name = std::string(v->get_string());
  if (!valid_identifier(c.name)) {
    return fail(bad_config("name", "\"" + c.name + "\" must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"));
  }

  if ((v = json::find(o, "bridge")) != nullptr) {
    if (!v->is_string() || !valid_interface_name(v->get_string())) {
      return fail(bad_config("bridge", "must be an interface name (1-15 bytes, no '/', ':' or space)"));
    }
    c.bridge = std::string(v->get_string());
  }
  if ((v = json::find(o, "mtu")) != nullptr) {
    if (!v->is_int64() && !v->is_uint64()) return fail(bad_config("mtu", "must be an integer"));
    c.mtu = v->is_int64() ? v->get_int64() : static_cast<int64_t>(v->get_uint64());
    if (c.mtu < 576 || c.mtu > 65535) return fail(bad_config("mtu", "must be 576-65535"));
  }
  for (auto [key, dst] : {std::pair<const char*, bool*>{"hairpinMode", &c.hairpin},
                          std::pair<const char*, bool*>{"ipMasq", &c.ip_masq}}) {
    if ((v = json::find(o, key)) != nullptr) {
      if (!v->is_bool()) return fail(bad_config(key, "must be true or false"));
      *dst = v->get_bool();
    }
  }

  v = json::find(o, "subnet");
  if (v == nullptr || v->is_null()) {
    return fail(bad_config("subnet", "missing (the node's podCIDR, e.g. \"10.244.1.0/24\")"));
  }
  if (!v->is_string()) return fail(bad_config("subnet", "must be a string"));
  auto subnet = parse_ipv4_prefix(v->get_string());
  if (!subnet.ok()) return fail(bad_config("subnet", subnet.error().message()));
  if (subnet->length > 30) {
    return fail(bad_config("subnet", subnet->to_string() +
                                         " is too small: a gateway and one pod need /30 or larger"));
  }
  c.subnet = *subnet;
  c.gateway = c.subnet.network + 1;
  c.range_first = c.gateway + 1;
  c.range_last = c.subnet.broadcast() - 1;

  if ((v = json::find(o, "dataDir")) != nullptr) {
    if (!v->is_string() || v->get_string().empty() || v->get_string()[0] != '/') {
      return fail(bad_config("dataDir", "must be an absolute path"));
    }
    c.data_dir = std::string(v->get_string());
  }
  if ((v = json::find(o, "clusterCIDR")) != nullptr && !v->is_null()) {
    if (!v->is_string()) return fail(bad_config("clusterCIDR", "must be a string"));
    auto cluster = parse_ipv4_prefix(v->get_string());
    if (!cluster.ok()) return fail(bad_config("clusterCIDR", cluster.error().message()));
    if (cluster->length > c.subnet.length || !cluster->contains(c.subnet.network)) {
      return fail(bad_config("clusterCIDR", cluster->to_string() + " does not contain subnet " +
                                                c.subnet.to_string()));
    }
    c.cluster_cidr = *cluster;
  }
  if (c.ip_masq && !c.cluster_cidr) {
    return fail(bad_config("clusterCIDR", "missing: ipMasq needs it to tell pod traffic from "
                                          "traffic leaving the cluster"));
  }

  if ((v = json::find(o, "prevResult")) != nullptr && !v->is_null()) {
    if (!v->is_object()) return fail(bad_config("prevResult", "must be an object"));
    c.prev_result = v->get_object();
  }
  if ((v = json::find(o, "dns")) != nullptr && !v->is_null()) {
    if (!v->is_object()) return fail(bad_config("dns", "must be an object"));
    c.dns = v->get_object();
  }
  if ((v = json::find(o, "cni.dev/valid-attachments")) != nullptr && !v->is_null()) {
    if (!v->is_array()) return fail(bad_config("cni.dev/valid-attachments", "must be an array"));
    for (const auto& a : v->get_array()) {
      if (!a.is_object()) {
        return fail(bad_config("cni.dev/valid-attachments", "entries must be objects"));
      }
      IpamOwner who{std::string(json::get_string(a.get_object(), "containerID")),
                     std::string(json::get_string(a.get_object(), "ifname"))};
      if (who.container_id.empty() || who.ifname.empty()) {
        return fail(bad_config("cni.dev/valid-attachments",
                               "entries need containerID and ifname"));
      }
      c.valid_attachments.push_back(std::move(who));
    }
  }
  return c;
}

std::string host_veth_name(const IpamOwner& who) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  auto mix = [&](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ULL;
    }
  };
  mix(who.container_id);
  mix(std::string_view("\0", 1));
  mix(who.ifname);
  char buf[16];
  std::snprintf(buf, sizeof buf, "kl%012llx",
                static_cast<unsigned long long>(h & 0xffffffffffffULL));
  return buf;
}

}  // namespace kernlet::cni
