// Validation of core/v1 kinds: Pod, Service, ConfigMap, Secret, Namespace, Node,
// PersistentVolume(Claim).
#include <algorithm>
#include <cctype>
#include <set>

#include "api/object.h"
#include "api/quantity.h"
#include "control/apiserver/validate.h"

namespace kernlet::apiserver {
namespace validate_detail {
namespace {

constexpr std::size_t kMaxSecretSize = 1024 * 1024;

const std::vector<std::string> kProtocols = {"SCTP", "TCP", "UDP"};

std::string idx(const std::string& path, std::size_t i) { return api::index_path(path, i); }

void validate_resources(Causes& out, const json::object& c, const std::string& path) {
  const json::object* res = json::get_object(c, "resources");
  if (res == nullptr) return;
  const json::object* limits = json::get_object(*res, "limits");
  const json::object* requests = json::get_object(*res, "requests");
  for (auto [list, name] : {std::pair{limits, "limits"}, std::pair{requests, "requests"}}) {
    if (list == nullptr) continue;
    for (const auto& kv : *list) {
      auto q = api::quantity_from_json(kv.value());
      std::string p = api::key_path(path + ".resources." + name, kv.key());
      if (!q.ok()) continue;  // the decoder reports malformed quantities
      if (q->sign() < 0) add(out, api::field_invalid(p, json::value(q->to_string()), "must be greater than or equal to 0"));
    }
  }
  if (limits == nullptr || requests == nullptr) return;
  for (const auto& kv : *requests) {
    const json::value* lim = json::find(*limits, kv.key());
    if (lim == nullptr) continue;
    auto rq = api::quantity_from_json(kv.value());
    auto lq = api::quantity_from_json(*lim);
    if (!rq.ok() || !lq.ok()) continue;
    if (*rq > *lq) {
      add(out, api::field_invalid(api::key_path(path + ".resources.requests", kv.key()), json::value(rq->to_string()),
                                  "must be less than or equal to " + std::string(kv.key()) + " limit of " +
                                      lq->to_string()));
    }
  }
}

void validate_container(Causes& out, const json::object& c, const std::string& path,
                        const std::set<std::string, std::less<>>& volumes, std::set<std::string, std::less<>>& names) {
  std::string_view name = json::get_string(c, "name");
  if (name.empty()) {
    add(out, api::field_required(path + ".name", ""));
  } else {
    for (auto& msg : api::is_dns1123_label(name)) add(out, api::field_invalid(path + ".name", json::value(name), msg));
    if (!names.insert(std::string(name)).second) add_duplicate(out, path + ".name", json::value(name));
  }
  std::string_view image = json::get_string(c, "image");
  if (image.empty()) {
    add(out, api::field_required(path + ".image", ""));
  } else if (std::isspace(static_cast<unsigned char>(image.front())) ||
             std::isspace(static_cast<unsigned char>(image.back()))) {
    add(out, api::field_invalid(path + ".image", json::value(image), "must not have leading or trailing whitespace"));
  }
  one_of(out, c, "imagePullPolicy", path + ".imagePullPolicy", {"Always", "IfNotPresent", "Never"}, false);
  one_of(out, c, "terminationMessagePolicy", path + ".terminationMessagePolicy", {"File", "FallbackToLogsOnError"},
         false);
  std::set<std::string, std::less<>> port_names;
  auto ports = api::get_object_array(c, "ports");
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const json::object& p = *ports[i];
    std::string pp = idx(path + ".ports", i);
    std::string_view pname = json::get_string(p, "name");
    if (!pname.empty()) {
      for (auto& msg : port_name_problems(pname)) add(out, api::field_invalid(pp + ".name", json::value(pname), msg));
      if (!port_names.insert(std::string(pname)).second) add_duplicate(out, pp + ".name", json::value(pname));
    }
    auto cp = json::get_int(p, "containerPort");
    if (!cp) {
      add(out, api::field_required(pp + ".containerPort", ""));
    } else {
      port_number(out, *cp, pp + ".containerPort");
    }
    if (auto hp = json::get_int(p, "hostPort"); hp && *hp != 0) port_number(out, *hp, pp + ".hostPort");
    one_of(out, p, "protocol", pp + ".protocol", kProtocols, true);
  }
  validate_resources(out, c, path);
  std::set<std::string, std::less<>> mount_paths;
  auto mounts = api::get_object_array(c, "volumeMounts");
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    std::string mp = idx(path + ".volumeMounts", i);
    std::string_view vname = json::get_string(*mounts[i], "name");
    std::string_view mpath = json::get_string(*mounts[i], "mountPath");
    if (vname.empty()) {
      add(out, api::field_required(mp + ".name", ""));
    } else if (!volumes.contains(vname)) {
      add_not_found(out, mp + ".name", json::value(vname));
    }
    if (mpath.empty()) {
      add(out, api::field_required(mp + ".mountPath", ""));
    } else if (!mount_paths.insert(std::string(mpath)).second) {
      add(out, api::field_invalid(mp + ".mountPath", json::value(mpath), "must be unique"));
    }
  }
}

std::set<std::string, std::less<>> validate_volumes(Causes& out, const json::object& spec, const std::string& path) {
  std::set<std::string, std::less<>> names;
  auto vols = api::get_object_array(spec, "volumes");
  for (std::size_t i = 0; i < vols.size(); ++i) {
    std::string vp = idx(path + ".volumes", i);
    std::string_view name = json::get_string(*vols[i], "name");
    if (name.empty()) {
      add(out, api::field_required(vp + ".name", ""));
    } else {
      for (auto& msg : api::is_dns1123_label(name)) add(out, api::field_invalid(vp + ".name", json::value(name), msg));
      if (!names.insert(std::string(name)).second) add_duplicate(out, vp + ".name", json::value(name));
    }
    std::vector<std::string_view> sources;
    for (const auto& kv : *vols[i])
      if (kv.key() != "name" && !kv.value().is_null()) sources.push_back(kv.key());
    if (sources.empty()) {
      add(out, api::field_required(vp, "must specify a volume type"));
    } else if (sources.size() > 1) {
      add(out, api::field_forbidden(vp + "." + std::string(sources[1]), "may not specify more than 1 volume type"));
    }
  }
  return names;
}

}  // namespace

void validate_pod_spec(Causes& out, const json::object& spec, const std::string& path) {
  auto volumes = validate_volumes(out, spec, path);
  std::set<std::string, std::less<>> names;
  auto init = api::get_object_array(spec, "initContainers");
  for (std::size_t i = 0; i < init.size(); ++i) validate_container(out, *init[i], idx(path + ".initContainers", i), volumes, names);
  auto containers = api::get_object_array(spec, "containers");
  if (containers.empty()) add(out, api::field_required(path + ".containers", ""));
  for (std::size_t i = 0; i < containers.size(); ++i)
    validate_container(out, *containers[i], idx(path + ".containers", i), volumes, names);
  one_of(out, spec, "restartPolicy", path + ".restartPolicy", {"Always", "OnFailure", "Never"}, true);
  one_of(out, spec, "dnsPolicy", path + ".dnsPolicy", {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"},
         true);
  nonnegative(out, spec, "terminationGracePeriodSeconds", path + ".terminationGracePeriodSeconds");
  positive(out, spec, "activeDeadlineSeconds", path + ".activeDeadlineSeconds");
  auto tolerations = api::get_object_array(spec, "tolerations");
  for (std::size_t i = 0; i < tolerations.size(); ++i) {
    std::string tp = idx(path + ".tolerations", i);
    const json::object& t = *tolerations[i];
    std::string_view op = json::get_string(t, "operator");
    if (op.empty() && json::get_string(t, "key").empty())
      add(out, api::field_invalid(tp + ".operator", json::value(op), "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
    if (!op.empty()) one_of(out, t, "operator", tp + ".operator", {"Equal", "Exists"}, false);
    one_of(out, t, "effect", tp + ".effect", {"NoExecute", "NoSchedule", "PreferNoSchedule"}, false);
  }
}

namespace {

const char kPodUpdateForbidden[] =
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

void blank_images(json::object& spec, std::string_view key) {
  if (json::array* a = json::get_array(spec, key))
    for (auto& c : *a)
      if (c.is_object()) c.as_object()["image"] = "";
}

bool same_toleration(const json::object& a, const json::object& b) {
  for (std::string_view k : {"key", "operator", "value", "effect"})
    if (json::get_string(a, k) != json::get_string(b, k)) return false;
  return true;
}

void validate_pod_update(const json::object& obj, const json::object& old, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  const json::object& old_spec = api::object_or_empty(old, "spec");
  // activeDeadlineSeconds may be set or lowered, never raised or removed.
  auto ads = json::get_int(spec, "activeDeadlineSeconds");
  auto old_ads = json::get_int(old_spec, "activeDeadlineSeconds");
  if (old_ads && !ads) {
    add(out, api::field_invalid("spec.activeDeadlineSeconds", json::value(nullptr),
                                "must not update from a positive integer to nil value"));
  } else if (old_ads && ads && *ads > *old_ads) {
    add(out, api::field_invalid("spec.activeDeadlineSeconds", *ads, "must be less than or equal to previous value"));
  }
  // Every existing toleration stays (its tolerationSeconds may change).
  auto tol = api::get_object_array(spec, "tolerations");
  for (const json::object* ot : api::get_object_array(old_spec, "tolerations")) {
    bool kept = std::any_of(tol.begin(), tol.end(), [&](const json::object* t) { return same_toleration(*t, *ot); });
    if (!kept) {
      add(out, api::field_forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"));
      break;
    }
  }
  // Compare the rest with the mutable fields masked out.
  json::object a = spec;
  json::object b = old_spec;
  for (json::object* s : {&a, &b}) {
    blank_images(*s, "containers");
    blank_images(*s, "initContainers");
    s->erase("activeDeadlineSeconds");
    s->erase("tolerations");
  }
  auto grace = json::get_int(spec, "terminationGracePeriodSeconds");
  auto old_grace = json::get_int(old_spec, "terminationGracePeriodSeconds");
  if (grace && old_grace && *old_grace < 0 && *grace == 1) a["terminationGracePeriodSeconds"] = *old_grace;
  if (a != b) add(out, api::field_forbidden("spec", kPodUpdateForbidden));
}

void validate_pod(const json::object& obj, Causes& out) {
  validate_pod_spec(out, api::object_or_empty(obj, "spec"), "spec");
}

void validate_service(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  std::string_view type = json::get_string(spec, "type");
  one_of(out, spec, "type", "spec.type", {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}, true);
  one_of(out, spec, "sessionAffinity", "spec.sessionAffinity", {"ClientIP", "None"}, true);
  bool headless = json::get_string(spec, "clusterIP") == "None";
  auto ports = api::get_object_array(spec, "ports");
  if (ports.empty() && !headless && type != "ExternalName") add(out, api::field_required("spec.ports", ""));
  if (type == "ExternalName") {
    std::string_view en = json::get_string(spec, "externalName");
    if (en.empty()) {
      add(out, api::field_required("spec.externalName", ""));
    } else {
      for (auto& msg : api::is_dns1123_subdomain(en)) add(out, api::field_invalid("spec.externalName", json::value(en), msg));
    }
  }
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const json::object& p = *ports[i];
    std::string pp = api::index_path("spec.ports", i);
    std::string_view name = json::get_string(p, "name");
    if (name.empty()) {
      if (ports.size() > 1) add(out, api::field_required(pp + ".name", ""));
    } else {
      for (auto& msg : api::is_dns1123_label(name)) add(out, api::field_invalid(pp + ".name", json::value(name), msg));
      if (!names.insert(std::string(name)).second) add_duplicate(out, pp + ".name", json::value(name));
    }
    port_number(out, json::get_int_or(p, "port", 0), pp + ".port");
    one_of(out, p, "protocol", pp + ".protocol", kProtocols, true);
    const json::value* tp = json::find(p, "targetPort");
    if (tp != nullptr && tp->is_int64()) {
      port_number(out, tp->get_int64(), pp + ".targetPort");
    } else if (tp != nullptr && tp->is_string()) {
      for (auto& msg : port_name_problems(tp->get_string()))
        add(out, api::field_invalid(pp + ".targetPort", *tp, msg));
    }
    if (type == "ClusterIP" && json::get_int_or(p, "nodePort", 0) != 0)
      add(out, api::field_forbidden(pp + ".nodePort", "may not be used when `type` is 'ClusterIP'"));
  }
}

std::vector<std::string> clusterips_of(const json::object& spec) {
  std::vector<std::string> ips;
  for (auto ip : api::get_string_array(spec, "clusterIPs")) ips.emplace_back(ip);
  if (ips.empty() && !json::get_string(spec, "clusterIP").empty()) ips.emplace_back(json::get_string(spec, "clusterIP"));
  return ips;
}

void validate_service_update(const json::object& obj, const json::object& old, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  const json::object& old_spec = api::object_or_empty(old, "spec");
  if (json::get_string(spec, "type") == "ExternalName" || json::get_string(old_spec, "type") == "ExternalName") return;
  auto now = clusterips_of(spec);
  auto before = clusterips_of(old_spec);
  if (!now.empty() && !before.empty() && now[0] != before[0])
    add_invalid_raw(out, "spec.clusterIPs[0]", go_string_slice(now), "may not change once set");
}

// IsConfigMapKey.
std::vector<std::string> config_key_problems(std::string_view key) {
  std::vector<std::string> p;
  if (key.size() > 253) p.emplace_back("must be no more than 253 characters");
  bool ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  if (!ok)
    p.emplace_back(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
        "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  if (key == ".") p.emplace_back("must not be '.'");
  else if (key == "..") p.emplace_back("must not be '..'");
  else if (key.starts_with("..")) p.emplace_back("must not start with '..'");
  return p;
}

std::size_t base64_decoded_size(std::string_view s) {
  std::size_t pad = 0;
  while (!s.empty() && s.back() == '=') {
    s.remove_suffix(1);
    ++pad;
  }
  return s.size() * 3 / 4;
}

void validate_keys(Causes& out, const json::object* data, std::string_view path) {
  if (data == nullptr) return;
  for (const auto& kv : *data)
    for (auto& msg : config_key_problems(kv.key()))
      add(out, api::field_invalid(api::key_path(path, kv.key()), json::value(kv.key()), msg));
}

void validate_config_map(const json::object& obj, Causes& out) {
  const json::object* data = json::get_object(obj, "data");
  const json::object* binary = json::get_object(obj, "binaryData");
  validate_keys(out, data, "data");
  validate_keys(out, binary, "binaryData");
  std::size_t total = 0;
  if (data != nullptr) {
    for (const auto& kv : *data) {
      if (binary != nullptr && binary->contains(kv.key()))
        add(out, api::field_invalid(api::key_path("data", kv.key()), json::value(kv.key()),
                                    "duplicate of key present in binaryData"));
      total += kv.value().is_string() ? kv.value().get_string().size() : 0;
    }
  }
  if (binary != nullptr)
    for (const auto& kv : *binary) total += kv.value().is_string() ? base64_decoded_size(kv.value().get_string()) : 0;
  if (total > kMaxSecretSize) add(out, api::field_too_long("", kMaxSecretSize));
}

void validate_secret(const json::object& obj, Causes& out) {
  const json::object* data = json::get_object(obj, "data");
  validate_keys(out, data, "data");
  std::size_t total = 0;
  if (data != nullptr)
    for (const auto& kv : *data) total += kv.value().is_string() ? base64_decoded_size(kv.value().get_string()) : 0;
  if (total > kMaxSecretSize) add(out, api::field_too_long("data", kMaxSecretSize));
  std::string_view type = json::get_string(obj, "type");
  auto require_key = [&](std::string_view key) {
    if (data == nullptr || !data->contains(key)) add(out, api::field_required(api::key_path("data", key), ""));
  };
  if (type == "kubernetes.io/tls") {
    require_key("tls.key");
    require_key("tls.crt");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    require_key(".dockerconfigjson");
  } else if (type == "kubernetes.io/dockercfg") {
    require_key(".dockercfg");
  } else if (type == "kubernetes.io/ssh-auth") {
    require_key("ssh-privatekey");
  } else if (type == "kubernetes.io/service-account-token") {
    if (!api::Meta(obj).annotation("kubernetes.io/service-account.name"))
      add(out, api::field_required("metadata.annotations[kubernetes.io/service-account.name]", ""));
  }
}

// Immutable ConfigMaps and Secrets: data and the flag itself are frozen.
void validate_immutable_data(const json::object& obj, const json::object& old, Causes& out, bool config_map) {
  if (!json::get_bool_or(old, "immutable", false)) return;
  if (!json::get_bool_or(obj, "immutable", false))
    add(out, api::field_forbidden("immutable", "field is immutable when `immutable` is set"));
  auto same = [&](std::string_view k) {
    const json::value* a = json::find(obj, k);
    const json::value* b = json::find(old, k);
    bool ae = a == nullptr || a->is_null() || (a->is_object() && a->as_object().empty());
    bool be = b == nullptr || b->is_null() || (b->is_object() && b->as_object().empty());
    return (ae && be) || (!ae && !be && *a == *b);
  };
  if (!same("data")) add(out, api::field_forbidden("data", "field is immutable when `immutable` is set"));
  if (config_map && !same("binaryData"))
    add(out, api::field_forbidden("binaryData", "field is immutable when `immutable` is set"));
}

void validate_node(const json::object& obj, Causes& out) {
  auto taints = api::get_object_array(api::object_or_empty(obj, "spec"), "taints");
  for (std::size_t i = 0; i < taints.size(); ++i) {
    std::string tp = api::index_path("spec.taints", i);
    std::string_view key = json::get_string(*taints[i], "key");
    if (key.empty()) {
      add(out, api::field_required(tp + ".key", ""));
    } else {
      for (auto& msg : api::is_qualified_name(key)) add(out, api::field_invalid(tp + ".key", json::value(key), msg));
    }
    one_of(out, *taints[i], "effect", tp + ".effect", {"NoSchedule", "PreferNoSchedule", "NoExecute"}, true);
  }
}

const std::vector<std::string> kAccessModes = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"};

void validate_access_modes(Causes& out, const json::object& spec, const std::string& path) {
  auto modes = api::get_string_array(spec, "accessModes");
  if (modes.empty()) add(out, api::field_required(path, "at least 1 access mode is required"));
  for (auto m : modes)
    if (std::find(kAccessModes.begin(), kAccessModes.end(), m) == kAccessModes.end())
      add(out, api::field_not_supported(path, json::value(m), kAccessModes));
}

void validate_pvc(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  validate_access_modes(out, spec, "spec.accessModes");
  const json::object* requests = json::get_path(spec, "resources.requests");
  if (requests == nullptr || !requests->contains("storage")) {
    add(out, api::field_required("spec.resources[storage]", ""));
  } else if (auto q = api::quantity_from_json(requests->at("storage")); q.ok() && q->sign() <= 0) {
    add(out, api::field_invalid("spec.resources.requests[storage]", json::value(q->to_string()),
                                "must be greater than zero"));
  }
  one_of(out, spec, "volumeMode", "spec.volumeMode", {"Block", "Filesystem"}, false);
}

void validate_pvc_update(const json::object& obj, const json::object& old, Causes& out) {
  json::object a = api::object_or_empty(obj, "spec");
  json::object b = api::object_or_empty(old, "spec");
  // The binder fills volumeName once; resizing changes requests.
  for (json::object* s : {&a, &b}) {
    if (json::object* res = json::get_object(*s, "resources")) res->erase("requests");
    s->erase("volumeAttributesClassName");
  }
  if (json::get_string(b, "volumeName").empty()) {
    a.erase("volumeName"), b.erase("volumeName");
    // Retroactive default StorageClass: an unbound claim with no class may get one.
    if (json::find(b, "storageClassName") == nullptr) a.erase("storageClassName");
  }
  if (a != b)
    add(out, api::field_forbidden("spec", "spec is immutable after creation except resources.requests and "
                                          "volumeAttributesClassName for bound claims"));
}

void validate_pv(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  validate_access_modes(out, spec, "spec.accessModes");
  const json::object* cap = json::get_object(spec, "capacity");
  if (cap == nullptr || cap->empty()) {
    add(out, api::field_required("spec.capacity", ""));
  } else if (!cap->contains("storage")) {
    add(out, api::field_required("spec.capacity[storage]", ""));
  }
  one_of(out, spec, "persistentVolumeReclaimPolicy", "spec.persistentVolumeReclaimPolicy",
         {"Delete", "Recycle", "Retain"}, false);
  static const std::set<std::string_view> kNotSources = {
      "accessModes", "capacity", "claimRef", "persistentVolumeReclaimPolicy", "storageClassName",
      "mountOptions", "volumeMode", "nodeAffinity", "volumeAttributesClassName"};
  int sources = 0;
  for (const auto& kv : spec)
    if (!kNotSources.contains(kv.key()) && !kv.value().is_null()) ++sources;
  if (sources == 0) add(out, api::field_required("spec", "must specify a volume type"));
}

}  // namespace

bool validate_core_create(const ResourceInfo& r, const json::object& obj, Causes& out) {
  if (!r.group.empty()) return false;
  const std::string& k = r.kind;
  if (k == "Pod") validate_pod(obj, out);
  else if (k == "Service") validate_service(obj, out);
  else if (k == "ConfigMap") validate_config_map(obj, out);
  else if (k == "Secret") validate_secret(obj, out);
  else if (k == "Node") validate_node(obj, out);
  else if (k == "PersistentVolumeClaim") validate_pvc(obj, out);
  else if (k == "PersistentVolume") validate_pv(obj, out);
  else if (k != "Namespace" && k != "Endpoints" && k != "Event" && k != "ServiceAccount") return false;
  return true;
}

bool validate_core_update(const ResourceInfo& r, const json::object& obj, const json::object& old, Causes& out) {
  if (!r.group.empty()) return false;
  const std::string& k = r.kind;
  if (k == "Pod") {
    validate_pod_update(obj, old, out);
  } else if (k == "Service") {
    validate_service_update(obj, old, out);
  } else if (k == "ConfigMap") {
    validate_immutable_data(obj, old, out, true);
  } else if (k == "Secret") {
    validate_immutable_data(obj, old, out, false);
    std::string_view t = json::get_string(obj, "type");
    if (t != json::get_string(old, "type")) add(out, api::field_invalid("type", json::value(t), "field is immutable"));
  } else if (k == "PersistentVolumeClaim") {
    validate_pvc_update(obj, old, out);
  } else {
    return k == "Namespace" || k == "Node" || k == "PersistentVolume" || k == "Endpoints" || k == "Event" ||
           k == "ServiceAccount";
  }
  return true;
}

}  // namespace validate_detail
}  // namespace kernlet::apiserver
