#include "cni/client/cni_driver.h"

#include <algorithm>

extern char** environ;  // NOLINT: POSIX

namespace kernlet::cni {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  if (s.size() > 512) s = s.substr(0, 512) + "...";
  return s;
}

Result<void> validate(const Attachment& a, bool need_netns) {
  if (!valid_identifier(a.container_id)) {
    return Error(ErrorCode::kInvalidArgument,
                 "cni attachment: container id \"" + a.container_id +
                     "\" must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
  }
  if (!valid_interface_name(a.ifname)) {
    return Error(ErrorCode::kInvalidArgument,
                 "cni attachment " + a.container_id + ": interface name \"" + a.ifname +
                     "\" is not a valid Linux interface name");
  }
  if (need_netns && a.netns.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "cni attachment " + a.container_id + ": no network namespace path");
  }
  for (const auto& [k, v] : a.args) {
    if (k.empty() || k.find_first_of("=;") != std::string::npos ||
        v.find(';') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "cni attachment " + a.container_id + ": CNI_ARGS entry \"" + k + "=" + v +
                       "\" may not contain ';' (nor '=' in the key)");
    }
  }
  return Ok();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> kubernetes_args(std::string_view pod_namespace,
                                                                 std::string_view pod_name,
                                                                 std::string_view sandbox_id,
                                                                 std::string_view pod_uid) {
  return {{"IgnoreUnknown", "1"},
          {"K8S_POD_NAMESPACE", std::string(pod_namespace)},
          {"K8S_POD_NAME", std::string(pod_name)},
          {"K8S_POD_INFRA_CONTAINER_ID", std::string(sandbox_id)},
          {"K8S_POD_UID", std::string(pod_uid)}};
}

json::array port_mappings_json(const std::vector<PortMapping>& mappings) {
  json::array a;
  for (const auto& m : mappings) {
    json::object o;
    o["hostPort"] = m.host_port;
    o["containerPort"] = m.container_port;
    o["protocol"] = m.protocol;
    if (!m.host_ip.empty()) o["hostIP"] = m.host_ip;
    a.emplace_back(std::move(o));
  }
  return a;
}

json::object plugin_stdin(const NetworkConfigList& list, const PluginConfig& plugin,
                          const json::object* prev_result, const json::object& capability_args) {
  json::object conf = plugin.raw;
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  if (prev_result != nullptr) {
    conf["prevResult"] = *prev_result;
  } else {
    conf.erase("prevResult");
  }
  json::object runtime_config;
  for (const auto& cap : plugin.capabilities) {
    if (const json::value* v = json::find(capability_args, cap)) runtime_config[cap] = *v;
  }
  // Like libcni: the runtime's values replace whatever runtimeConfig the file had.
  if (!runtime_config.empty()) {
    conf["runtimeConfig"] = std::move(runtime_config);
  } else {
    conf.erase("runtimeConfig");
  }
  return conf;
}

CniDriver::CniDriver(PluginExec& exec, CniDriverOptions options)
    : exec_(exec), options_(std::move(options)), cache_(options_.cache_dir) {}

std::vector<std::string> CniDriver::environment(std::string_view command,
                                                const Attachment* a) const {
  std::vector<std::string> env;
  if (options_.inherit_environment) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view kv(*e);
      if (kv.rfind("CNI_", 0) == 0) continue;  // ours replace any the agent was started with
      env.emplace_back(kv);
    }
  }
  env.push_back("CNI_COMMAND=" + std::string(command));
  std::string path;
  for (const auto& d : options_.bin_dirs) path += (path.empty() ? "" : ":") + d;
  env.push_back("CNI_PATH=" + path);
  if (a != nullptr) {
    env.push_back("CNI_CONTAINERID=" + a->container_id);
    env.push_back("CNI_NETNS=" + a->netns);
    env.push_back("CNI_IFNAME=" + a->ifname);
    std::string args;
    for (const auto& [k, v] : a->args) args += (args.empty() ? "" : ";") + k + "=" + v;
    env.push_back("CNI_ARGS=" + args);
  }
  return env;
}

Result<json::object> CniDriver::invoke(const NetworkConfigList& list, const PluginConfig& plugin,
                                       std::string_view command, const Attachment* a,
                                       const json::object* prev, const json::object* extra) {
  std::string what = "cni network " + list.name + " plugin " + plugin.type + " " +
                     std::string(command);
  if (a != nullptr) what += " " + a->container_id + "/" + a->ifname;
  static const json::object kNoCaps;
  json::object conf = plugin_stdin(list, plugin, prev, a != nullptr ? a->capability_args : kNoCaps);
  // VERSION's stdin is only the version the runtime speaks.
  if (command == "VERSION") conf = json::object{{"cniVersion", list.cni_version}};
  if (extra != nullptr) {
    for (const auto& kv : *extra) conf[kv.key()] = kv.value();
  }
  auto path = exec_.find(plugin.type, options_.bin_dirs);
  if (!path.ok()) return std::move(path).error().context(what);
  ExecRequest req;
  req.path = *path;
  req.env = environment(command, a);
  req.stdin_data = json::dump(conf);
  req.timeout = options_.timeout;
  auto out = exec_.run(req);
  if (!out.ok()) return std::move(out).error().context(what);
  if (out->exit_code != 0) {
    if (auto pe = parse_plugin_error(out->out)) {
      std::string msg = what + ": error code " + std::to_string(pe->code) + " (" +
                        std::string(error_code_name(pe->code)) + "): " + pe->msg;
      if (!pe->details.empty()) msg += "; " + pe->details;
      return Error(to_error_code(pe->code), msg);
    }
    std::string text = trim(out->err.empty() ? out->out : out->err);
    return Error(what + ": exit status " + std::to_string(out->exit_code) +
                 (text.empty() ? "" : ": " + text));
  }
  // Only ADD and VERSION answer with a document; the others answer with silence.
  if (command != "ADD" && command != "VERSION") return json::object{};
  auto doc = json::parse_object(out->out, "output");
  if (!doc.ok()) {
    return Error(ErrorCode::kInvalidArgument, what + ": " + doc.error().to_string());
  }
  return std::move(doc).value();
}

Result<NetworkResult> CniDriver::add(const NetworkConfigList& list, const Attachment& a) {
  KL_TRY(validate(a, /*need_netns=*/true));
  std::optional<json::object> prev;
  for (const auto& plugin : list.plugins) {
    auto r = invoke(list, plugin, "ADD", &a, prev ? &*prev : nullptr, nullptr);
    if (r.ok()) {
      // Fail early on a result the next plugin (or we) could not read.
      auto parsed = parse_result(*r, "cni network " + list.name + " plugin " + plugin.type);
      if (parsed.ok() && parsed->cni_version == list.cni_version) {
        prev = std::move(r).value();
        continue;
      }
      // A plugin that answered in another version: the next one (and the cache) get the
      // result in the list's version, as libcni does.
      if (parsed.ok()) {
        auto converted = convert_result(*parsed, list.cni_version);
        if (converted.ok()) {
          prev = std::move(converted).value();
          continue;
        }
        r = std::move(converted).error().context("cni network " + list.name + " plugin " +
                                                 plugin.type + " result " +
                                                 parsed->cni_version);
      } else {
        r = std::move(parsed).error();
      }
    }
    // A failed ADD leaves nothing behind: the spec has the runtime DEL the whole list.
    Error err = std::move(r).error();
    const bool pass_prev = compare_versions(list.cni_version, "0.4.0") >= 0 && prev;
    if (auto d = del_chain(list, a, pass_prev ? &*prev : nullptr); !d.ok()) {
      err = Error(err.code(), err.message() + " (and the DEL to undo it failed: " +
                                  d.error().to_string() + ")");
    }
    return err;
  }
  KL_ASSIGN_OR_RETURN(NetworkResult result, parse_result(*prev, "cni network " + list.name));
  CachedAttachment entry{list.name, a.container_id, a.ifname, a.netns, a.args, a.capability_args,
                         *prev};
  if (auto s = cache_.save(entry); !s.ok()) {
    Error err = std::move(s).error().context("cni network " + list.name + " ADD " + a.container_id);
    (void)del_chain(list, a, &*prev);  // without the cache a later DEL could not be exact
    return err;
  }
  return result;
}

Result<void> CniDriver::del_chain(const NetworkConfigList& list, const Attachment& a,
                                  const json::object* prev) {
  for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it) {
    KL_TRY(invoke(list, *it, "DEL", &a, prev, nullptr));
  }
  return Ok();
}

Result<void> CniDriver::del(const NetworkConfigList& list, const Attachment& attachment) {
  KL_TRY(validate(attachment, /*need_netns=*/false));
  Attachment a = attachment;
  std::optional<CachedAttachment> cached;
  auto loaded = cache_.load(list.name, a.container_id, a.ifname);
  // An unreadable entry is no reason to keep the pod's network: DEL with the config only.
  if (loaded.ok()) cached = std::move(*loaded);
  if (cached && a.capability_args.empty()) a.capability_args = cached->capability_args;
  // prevResult on DEL came with 0.4.0.
  const bool pass_prev =
      cached && !cached->result.empty() && compare_versions(list.cni_version, "0.4.0") >= 0;
  KL_TRY(del_chain(list, a, pass_prev ? &cached->result : nullptr));
  return cache_.remove(list.name, a.container_id, a.ifname);
}

Result<void> CniDriver::check(const NetworkConfigList& list, const Attachment& a) {
  if (list.disable_check) return Ok();
  KL_TRY(validate(a, /*need_netns=*/true));
  if (compare_versions(list.cni_version, "0.4.0") < 0) {
    return Error(ErrorCode::kInvalidArgument, "cni network " + list.name + ": cniVersion " +
                                                  list.cni_version + " has no CHECK (0.4.0+)");
  }
  KL_ASSIGN_OR_RETURN(auto cached, cache_.load(list.name, a.container_id, a.ifname));
  if (!cached || cached->result.empty()) {
    return Error(ErrorCode::kNotFound, "cni network " + list.name + " CHECK " + a.container_id +
                                           "/" + a.ifname + ": no cached ADD result");
  }
  for (const auto& plugin : list.plugins) {
    KL_TRY(invoke(list, plugin, "CHECK", &a, &cached->result, nullptr));
  }
  return Ok();
}

Result<void> CniDriver::status(const NetworkConfigList& list) {
  if (compare_versions(list.cni_version, "1.1.0") < 0) return Ok();
  for (const auto& plugin : list.plugins) {
    KL_TRY(invoke(list, plugin, "STATUS", nullptr, nullptr, nullptr));
  }
  return Ok();
}

Result<std::vector<std::string>> CniDriver::version(std::string_view type,
                                                    std::string_view cni_version) {
  NetworkConfigList list;
  list.name = "version";
  list.cni_version = std::string(cni_version);
  PluginConfig plugin;
  plugin.type = std::string(type);
  KL_ASSIGN_OR_RETURN(json::object doc, invoke(list, plugin, "VERSION", nullptr, nullptr, nullptr));
  const json::array* versions = json::get_array(doc, "supportedVersions");
  if (versions == nullptr) {
    return Error(ErrorCode::kInvalidArgument,
                 "cni plugin " + std::string(type) + " VERSION: no supportedVersions");
  }
  std::vector<std::string> out;
  for (const auto& v : *versions) {
    if (v.is_string()) out.emplace_back(v.get_string());
  }
  return out;
}

Result<void> CniDriver::gc(const NetworkConfigList& list, const std::vector<AttachmentKey>& keep) {
  std::optional<Error> first;
  for (const auto& entry : cache_.list(list.name)) {
    bool kept = std::any_of(keep.begin(), keep.end(), [&](const AttachmentKey& k) {
      return k.container_id == entry.container_id && k.ifname == entry.ifname;
    });
    if (kept) continue;
    Attachment a;
    a.container_id = entry.container_id;
    a.ifname = entry.ifname;
    // Not entry.netns: a /proc/<pid>/ns/net path of a pod that went away may now name
    // another process's netns, and DEL there would remove that pod's interface. An empty
    // CNI_NETNS makes plugins release what they hold outside the netns (addresses, rules).
    a.args = entry.cni_args;
    a.capability_args = entry.capability_args;
    if (auto d = del(list, a); !d.ok() && !first) first = std::move(d).error().context("cni gc");
  }
  if (!first && !list.disable_gc && compare_versions(list.cni_version, "1.1.0") >= 0) {
    json::array valid;
    for (const auto& k : keep) {
      valid.emplace_back(json::object{{"containerID", k.container_id}, {"ifname", k.ifname}});
    }
    // Spec 1.1.0 names the key cni.dev/valid-attachments; an earlier draft said
    // cni.dev/attachments and libcni sends both, so plugins written to either find it.
    json::object extra{{"cni.dev/valid-attachments", valid}, {"cni.dev/attachments", valid}};
    for (const auto& plugin : list.plugins) {
      if (auto r = invoke(list, plugin, "GC", nullptr, nullptr, &extra); !r.ok()) {
        first = std::move(r).error();
        break;
      }
    }
  }
  if (first) return std::move(*first);
  return Ok();
}

Result<std::optional<NetworkResult>> CniDriver::cached_result(const NetworkConfigList& list,
                                                              const std::string& container_id,
                                                              const std::string& ifname) {
  KL_ASSIGN_OR_RETURN(auto cached, cache_.load(list.name, container_id, ifname));
  if (!cached || cached->result.empty()) return std::optional<NetworkResult>();
  KL_ASSIGN_OR_RETURN(NetworkResult r, parse_result(cached->result, "cni cache " +
                                                        cache_.path(list.name, container_id, ifname)));
  return std::optional<NetworkResult>(std::move(r));
}

}  // namespace kernlet::cni
