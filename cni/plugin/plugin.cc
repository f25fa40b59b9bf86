#include "cni/plugin/plugin.h"

#include <algorithm>

#include "cni/client/result.h"
#include "cni/plugin/ipam_store.h"
#include "cni/plugin/netconf.h"

namespace kernlet::cni {
namespace {

int64_t code(CniErrorCode c) { return static_cast<int64_t>(c); }

PluginOutcome fail(std::string_view version, const CniFailure& f) {
  json::object o;
  o["cniVersion"] = version.empty() ? std::string_view("1.1.0") : version;
  o["code"] = f.code;
  o["msg"] = f.msg;
  if (!f.details.empty()) o["details"] = f.details;
  return PluginOutcome{
      1, json::dump(o) + "\n",
      "kernlet-cni: " + f.msg + (f.details.empty() ? "" : ": " + f.details) + "\n"};
}

CniFailure internal(std::string msg, const Error& e) {
  return CniFailure{kPluginInternalError, std::move(msg), e.to_string()};
}

PodAttachSpec attach_spec(const KernletNetConf& c, const CniEnv& env, uint32_t address) {
  PodAttachSpec s;
  s.bridge = c.bridge;
  s.mtu = c.mtu;
  s.hairpin = c.hairpin;
  s.gateway = c.gateway;
  s.prefix_len = c.subnet.length;
  s.address = address;
  s.netns = env.netns;
  s.ifname = env.ifname;
  s.host_ifname = host_veth_name({env.container_id, env.ifname});
  return s;
}

Result<IpamStore> open_store(const KernletNetConf& c) {
  return IpamStore::open(c.store_dir(), c.subnet, c.range_first, c.range_last);
}

void step(const PluginHooks& hooks, std::string_view name) {
  if (hooks.on_step) hooks.on_step(name);
}

PluginOutcome version_command(std::string_view stdin_text) {
  std::string version = "1.1.0";
  if (auto doc = json::parse(stdin_text); doc.ok() && doc->is_object()) {
    std::string_view asked = json::get_string(doc->get_object(), "cniVersion");
    const auto& ok = plugin_versions();
    if (std::find(ok.begin(), ok.end(), asked) != ok.end()) version = std::string(asked);
  }
  json::object o;
  o["cniVersion"] = version;
  json::array supported;
  for (const auto& v : plugin_versions()) supported.emplace_back(v);
  o["supportedVersions"] = std::move(supported);
  return PluginOutcome{0, json::dump(o) + "\n", {}};
}

PluginOutcome add_command(const KernletNetConf& c, const CniEnv& env, Dataplane& dp,
                          const PluginHooks& hooks) {
  auto store = open_store(c);
  if (!store.ok()) return fail(c.cni_version, internal("ipam store unusable", store.error()));
  auto bridge = dp.ensure_bridge(c.bridge, c.gateway, c.subnet.length, c.mtu);
  if (!bridge.ok()) {
    return fail(c.cni_version, internal("cannot set up bridge " + c.bridge, bridge.error()));
  }
  if (c.ip_masq) {
    auto masq = dp.ensure_masquerade(c.name, c.subnet, *c.cluster_cidr);
    if (!masq.ok()) return fail(c.cni_version, internal("cannot set up ipMasq", masq.error()));
  }
  IpamOwner who{env.container_id, env.ifname};
  auto ip = store->allocate(who);
  if (!ip.ok()) {
    if (ip.error().code() == ErrorCode::kResourceExhausted) {
      return fail(c.cni_version, CniFailure{code(CniErrorCode::kTryAgainLater),
                                            "no free address; try again later",
                                            ip.error().to_string()});
    }
    return fail(c.cni_version, internal("ipam allocation failed", ip.error()));
  }
  step(hooks, "ipam");
  PodAttachSpec spec = attach_spec(c, env, *ip);
  auto facts = dp.attach(spec);
  if (!facts.ok()) {
    // Nothing half-built stays behind: the veth goes, the address is released.
    (void)dp.detach(spec.host_ifname);
    (void)store->release(who);
    int64_t cc = facts.error().code() == ErrorCode::kNotFound && facts.error().message().starts_with("netns")
                     ? code(CniErrorCode::kInvalidEnvironment)
                     : kPluginInternalError;
    return fail(c.cni_version, CniFailure{cc, "cannot attach " + env.ifname + " in " + env.netns,
                                          facts.error().to_string()});
  }
  step(hooks, "veth");

  NetworkResult r;
  if (c.prev_result) {
    auto prev = parse_result(*c.prev_result, "prevResult");
    if (!prev.ok()) {
      return fail(c.cni_version, CniFailure{code(CniErrorCode::kInvalidNetworkConfig),
                                            "invalid prevResult", prev.error().to_string()});
    }
    r = std::move(*prev);
  }
  auto base = static_cast<int64_t>(r.interfaces.size());
  // interfaces[].mtu is a 1.1.0 field.
  std::optional<int64_t> mtu;
  if (compare_versions(c.cni_version, "1.1.0") >= 0) mtu = c.mtu;
  r.interfaces.push_back(Interface{facts->bridge.name, facts->bridge.mac, mtu, "", "", ""});
  r.interfaces.push_back(Interface{facts->host.name, facts->host.mac, mtu, "", "", ""});
  r.interfaces.push_back(Interface{facts->pod.name, facts->pod.mac, mtu, env.netns, "", ""});
  r.ips.push_back(IpConfig{ipv4_to_string(*ip) + "/" + std::to_string(c.subnet.length),
                           ipv4_to_string(c.gateway), base + 2});
  r.routes.push_back(Route{"0.0.0.0/0", ipv4_to_string(c.gateway), std::nullopt, std::nullopt});
  if (c.dns) {
    auto strings = [&](std::string_view key) {
      std::vector<std::string> out;
      if (const json::array* a = json::get_array(*c.dns, key)) {
        for (const auto& v : *a) {
          if (v.is_string()) out.emplace_back(v.get_string());
        }
      }
      return out;
    };
    r.dns.nameservers = strings("nameservers");
    r.dns.domain = std::string(json::get_string(*c.dns, "domain"));
    r.dns.search = strings("search");
    r.dns.options = strings("options");
  }
  auto doc = convert_result(r, c.cni_version);
  if (!doc.ok()) return fail(c.cni_version, internal("cannot render result", doc.error()));
  return PluginOutcome{0, json::dump(*doc) + "\n", {}};
}

PluginOutcome del_command(const KernletNetConf& c, const CniEnv& env, Dataplane& dp,
                          const PluginHooks& hooks) {
  IpamOwner who{env.container_id, env.ifname};
  // The link first, the address after: an address is never free while still configured.
  auto detached = dp.detach(host_veth_name(who));
  if (!detached.ok()) {
    return fail(c.cni_version, internal("cannot remove veth", detached.error()));
  }
  step(hooks, "veth");
  auto store = open_store(c);
  if (!store.ok()) return fail(c.cni_version, internal("ipam store unusable", store.error()));
  auto released = store->release(who);
  if (!released.ok()) {
    return fail(c.cni_version, internal("ipam release failed", released.error()));
  }
  return PluginOutcome{0, {}, {}};
}

PluginOutcome check_command(const KernletNetConf& c, const CniEnv& env, Dataplane& dp) {
  if (!c.prev_result) {
    return fail(c.cni_version, CniFailure{code(CniErrorCode::kInvalidNetworkConfig),
                                          "CHECK needs prevResult",
                                          "the config has no prevResult from the ADD"});
  }
  auto prev = parse_result(*c.prev_result, "prevResult");
  if (!prev.ok()) {
    return fail(c.cni_version, CniFailure{code(CniErrorCode::kInvalidNetworkConfig),
                                          "invalid prevResult", prev.error().to_string()});
  }
  // Our address: the IPv4 of the sandbox interface named CNI_IFNAME.
  std::optional<uint32_t> address;
  for (const auto& ip : prev->ips) {
    if (!ip.interface || *ip.interface < 0 ||
        static_cast<std::size_t>(*ip.interface) >= prev->interfaces.size()) {
      continue;
    }
    const Interface& itf = prev->interfaces[static_cast<std::size_t>(*ip.interface)];
    if (itf.name != env.ifname || itf.sandbox.empty()) continue;
    auto p = parse_ipv4(ip.address.substr(0, ip.address.find('/')));
    if (p && c.subnet.contains(*p)) address = p;
  }
  auto mismatch = [&](std::string details) {
    return fail(c.cni_version,
                CniFailure{kPluginInternalError, "CHECK failed", std::move(details)});
  };
  if (!address) {
    return mismatch("prevResult has no address of " + c.subnet.to_string() + " on " +
                    env.ifname);
  }
  auto store = open_store(c);
  if (!store.ok()) return fail(c.cni_version, internal("ipam store unusable", store.error()));
  auto held = store->lookup({env.container_id, env.ifname});
  if (!held.ok()) return fail(c.cni_version, internal("ipam lookup failed", held.error()));
  if (!*held || **held != *address) {
    return mismatch("ipam store does not hold " + ipv4_to_string(*address) + " for " +
                    env.container_id + "/" + env.ifname);
  }
  auto checked = dp.check(attach_spec(c, env, *address));
  if (!checked.ok()) return mismatch(checked.error().to_string());
  return PluginOutcome{0, {}, {}};
}

PluginOutcome gc_command(const KernletNetConf& c, Dataplane& dp) {
  auto store = open_store(c);
  if (!store.ok()) return fail(c.cni_version, internal("ipam store unusable", store.error()));
  auto released = store->gc(c.valid_attachments);
  if (!released.ok()) return fail(c.cni_version, internal("ipam gc failed", released.error()));
  std::string log;
  std::string errors;
  for (const auto& a : *released) {
    log += "kernlet-cni: gc released " + ipv4_to_string(a.ip) + " of " + a.owner.container_id +
           "/" + a.owner.ifname + "\n";
    // The spec asks GC to remove as much as it can and report the rest.
    if (auto d = dp.detach(host_veth_name(a.owner)); !d.ok()) {
      errors += (errors.empty() ? "" : "; ") + d.error().to_string();
    }
  }
  if (!errors.empty()) {
    PluginOutcome o = fail(c.cni_version, CniFailure{kPluginInternalError,
                                                     "gc could not remove every veth", errors});
    o.stderr_text = log + o.stderr_text;
    return o;
  }
  return PluginOutcome{0, {}, log};
}

PluginOutcome status_command(const KernletNetConf& c, Dataplane& dp) {
  auto unavailable = [&](std::string details) {
    return fail(c.cni_version, CniFailure{code(CniErrorCode::kPluginNotAvailable),
                                          "plugin not available", std::move(details)});
  };
  auto store = open_store(c);
  if (!store.ok()) return unavailable("ipam store unusable: " + store.error().to_string());
  auto free = store->free_count();
  if (!free.ok()) return unavailable("ipam store unusable: " + free.error().to_string());
  if (*free == 0) {
    return unavailable("address pool " + c.subnet.to_string() + " exhausted (" +
                       std::to_string(store->capacity()) + " in use)");
  }
  if (*free < store->capacity()) {
    auto ready = dp.bridge_ready(c.bridge);
    if (!ready.ok() || !*ready) {
      return fail(c.cni_version,
                  CniFailure{code(CniErrorCode::kPluginNotAvailableLimited),
                             "plugin not available, existing pods may have limited connectivity",
                             "bridge " + c.bridge + " is missing or down while " +
                                 std::to_string(store->capacity() - *free) +
                                 " addresses are held" +
                                 (ready.ok() ? "" : ": " + ready.error().to_string())});
    }
  }
  return PluginOutcome{0, {}, {}};
}

}  // namespace

PluginOutcome run_plugin(const std::map<std::string, std::string>& environment,
                         std::string_view stdin_text, Dataplane& dp, const PluginHooks& hooks) {
  // Errors answer in the config's version when it is one kernlet-cni speaks.
  std::string version;
  if (auto doc = json::parse(stdin_text); doc.ok() && doc->is_object()) {
    version = std::string(json::get_string(doc->get_object(), "cniVersion"));
    const auto& ok = plugin_versions();
    if (std::find(ok.begin(), ok.end(), version) == ok.end()) version.clear();
  }
  CniFailure f;
  auto env = parse_env(environment, &f);
  if (!env) return fail(version, f);
  if (env->command == CniCommand::kVersion) return version_command(stdin_text);
  auto conf = parse_netconf(stdin_text, &f);
  if (!conf) return fail(version, f);
  if ((env->command == CniCommand::kStatus || env->command == CniCommand::kGc) &&
      compare_versions(conf->cni_version, "1.1.0") < 0) {
    return fail(conf->cni_version,
                CniFailure{code(CniErrorCode::kIncompatibleVersion), "incompatible CNI version",
                           std::string(env->command == CniCommand::kGc ? "GC" : "STATUS") +
                               " needs cniVersion 1.1.0 or later, the config says " +
                               conf->cni_version});
  }
  switch (env->command) {
    case CniCommand::kAdd: return add_command(*conf, *env, dp, hooks);
    case CniCommand::kDel: return del_command(*conf, *env, dp, hooks);
    case CniCommand::kCheck: return check_command(*conf, *env, dp);
    case CniCommand::kGc: return gc_command(*conf, dp);
    case CniCommand::kStatus: return status_command(*conf, dp);
    case CniCommand::kVersion: break;
  }
  return version_command(stdin_text);
}

}  // namespace kernlet::cni
