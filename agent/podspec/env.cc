#include "agent/podspec/env.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "api/objects/common.h"
#include "api/objects/config.h"
#include "api/objects/service.h"
#include "api/validation.h"

namespace kernlet::agent::podspec {
namespace {

// Variables in the order their names were first set; a later set replaces the value in place.
class OrderedEnv {
 public:
  void set(std::string name, std::string value) {
    auto it = index_.find(name);
    if (it != index_.end()) {
      vars_[it->second].second = std::move(value);
      return;
    }
    index_.emplace(name, vars_.size());
    vars_.emplace_back(std::move(name), std::move(value));
  }
  const std::string* get(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &vars_[it->second].second;
  }
  bool has(std::string_view name) const { return get(name) != nullptr; }
  const std::vector<std::pair<std::string, std::string>>& vars() const { return vars_; }

 private:
  std::vector<std::pair<std::string, std::string>> vars_;
  std::unordered_map<std::string, std::size_t> index_;
};

std::string upper_env_name(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '-') {
      out += '_';
    } else if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else {
      out += c;
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Go's net.JoinHostPort.
std::string join_host_port(std::string_view host, int64_t port) {
  std::string h(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

bool service_ip_set(const api::ServiceView& svc) {
  std::string_view ip = svc.spec().cluster_ip();
  return !ip.empty() && ip != "None";
}

// envvars.FromServices for one service.
void append_service_vars(const api::ServiceView& svc, std::vector<std::pair<std::string, std::string>>& out) {
  const std::string prefix = upper_env_name(svc.meta().name());
  const std::string ip(svc.spec().cluster_ip());
  const std::vector<api::ServicePortView> ports = svc.spec().ports();
  out.emplace_back(prefix + "_SERVICE_HOST", ip);
  // Validation requires ports on a service with a ClusterIP; without one there is no port.
  if (!ports.empty()) {
    const std::string port_var = prefix + "_SERVICE_PORT";
    out.emplace_back(port_var, std::to_string(ports[0].port()));
    for (const api::ServicePortView& p : ports) {
      if (!p.name().empty()) out.emplace_back(port_var + "_" + upper_env_name(p.name()), std::to_string(p.port()));
    }
  }
  // Docker link variables; Docker special-cases the first port.
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const api::ServicePortView& p = ports[i];
    const std::string proto = lower(p.protocol().empty() ? std::string_view("TCP") : p.protocol());
    const std::string url = proto + "://" + join_host_port(ip, p.port());
    if (i == 0) out.emplace_back(prefix + "_PORT", url);
    const std::string pp = prefix + "_PORT_" + std::to_string(p.port()) + "_" + upper(proto);
    out.emplace_back(pp, url);
    out.emplace_back(pp + "_PROTO", proto);
    out.emplace_back(pp + "_PORT", std::to_string(p.port()));
    out.emplace_back(pp + "_ADDR", ip);
  }
}

// fieldpath.FormatMap: sorted "key=\"value\"" lines.
std::string format_map(const json::object* m) {
  std::map<std::string_view, std::string_view> sorted;
  for (const auto& [k, v] : api::string_entries(m)) sorted.emplace(k, v);
  std::string out;
  for (const auto& [k, v] : sorted) {
    if (!out.empty()) out += '\n';
    out += std::string(k) + "=" + api::go_quote(v);
  }
  return out;
}

// fieldpath.SplitMaybeSubscriptedPath: "metadata.labels['k']" -> ("metadata.labels", "k").
bool split_subscript(std::string_view path, std::string_view& base, std::string_view& key) {
  if (path.size() < 2 || path.substr(path.size() - 2) != "']") return false;
  std::string_view s = path.substr(0, path.size() - 2);
  std::size_t open = s.find("['");
  if (open == std::string_view::npos || open == 0) return false;
  base = s.substr(0, open);
  key = s.substr(open + 2);
  return true;
}

bool is_ipv6(std::string_view ip) { return ip.find(':') != std::string_view::npos; }
bool is_ipv4(std::string_view ip) { return !ip.empty() && !is_ipv6(ip) && ip.find('.') != std::string_view::npos; }

std::vector<std::string> host_ips(const EnvContext& ctx) {
  if (!ctx.host_ips.empty()) return ctx.host_ips;
  if (!ctx.host_ip.empty()) return {ctx.host_ip};
  return {};
}

// kubelet sortPodIPs: the first pod IP of the node's primary family, then the first of the other.
std::vector<std::string> sort_pod_ips(const EnvContext& ctx) {
  std::vector<std::string> hosts = host_ips(ctx);
  const bool v6_first = !hosts.empty() && is_ipv6(hosts[0]);
  auto primary = [&](std::string_view ip) { return v6_first ? is_ipv6(ip) : is_ipv4(ip); };
  auto secondary = [&](std::string_view ip) { return v6_first ? is_ipv4(ip) : is_ipv6(ip); };
  std::vector<std::string> out;
  for (const std::string& ip : ctx.pod_ips) {
    if (primary(ip)) {
      out.push_back(ip);
      break;
    }
  }
  for (const std::string& ip : ctx.pod_ips) {
    if (secondary(ip)) {
      out.push_back(ip);
      break;
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += sep;
    out += v[i];
  }
  return out;
}

// podFieldSelectorRuntimeValue + ConvertDownwardAPIFieldLabel + ExtractFieldPathAsString.
Result<std::string> field_ref_value(const EnvContext& ctx, const json::object& ref) {
  std::string_view version = json::get_string(ref, "apiVersion", "v1");
  if (version.empty()) version = "v1";
  std::string path(json::get_string(ref, "fieldPath"));
  if (version != "v1") return Error("unsupported pod version: " + std::string(version));

  const api::PodView pod(*ctx.pod);
  std::string_view base, key;
  if (split_subscript(path, base, key)) {
    if (base == "metadata.annotations") return std::string(pod.meta().annotation(key).value_or(""));
    if (base == "metadata.labels") return std::string(pod.meta().label(key).value_or(""));
    return Error("field label does not support subscript: " + path);
  }
  if (path == "spec.host") path = "spec.nodeName";  // old v1 clients' name for it
  static const std::set<std::string_view> kSupported = {
      "metadata.annotations", "metadata.labels",  "metadata.name",      "metadata.namespace",
      "metadata.uid",         "spec.nodeName",    "spec.restartPolicy", "spec.serviceAccountName",
      "spec.schedulerName",   "status.phase",     "status.hostIP",      "status.hostIPs",
      "status.podIP",         "status.podIPs"};
  if (kSupported.count(path) == 0) return Error("field label not supported: " + path);

  const std::vector<std::string> pod_ips = sort_pod_ips(ctx);
  if (path == "spec.nodeName") return std::string(pod.spec().node_name());
  if (path == "spec.serviceAccountName") return std::string(pod.spec().service_account_name());
  if (path == "status.hostIP" || path == "status.hostIPs") {
    std::vector<std::string> hosts = host_ips(ctx);
    if (hosts.empty()) return Error("host IP unknown; known addresses: []");
    return path == "status.hostIP" ? hosts[0] : join(hosts, ",");
  }
  if (path == "status.podIP") return pod_ips.empty() ? std::string() : pod_ips[0];
  if (path == "status.podIPs") return join(pod_ips, ",");
  if (path == "metadata.annotations") return format_map(pod.meta().annotations());
  if (path == "metadata.labels") return format_map(pod.meta().labels());
  if (path == "metadata.name") return std::string(pod.meta().name());
  if (path == "metadata.namespace") return std::string(pod.meta().namespace_());
  if (path == "metadata.uid") return std::string(pod.meta().uid());
  // spec.restartPolicy, spec.schedulerName and status.phase pass the label check but the
  // kubelet's extractor has no case for them.
  return Error("unsupported fieldPath: " + path);
}

int64_t ceil_div(int64_t a, int64_t b) {
  if (b <= 0) b = 1;
  if (a <= 0) return a / b;
  return a / b + (a % b != 0 ? 1 : 0);
}

const json::object* find_container(const json::object& pod, std::string_view name) {
  const json::object& spec = api::object_or_empty(pod, "spec");
  for (std::string_view list : {"containers", "initContainers"}) {
    for (const json::object* c : api::get_object_array(spec, list)) {
      if (json::get_string(*c, "name") == name) return c;
    }
  }
  return nullptr;
}

// The quantity the kubelet reads for "<limits|requests>.<resource>" of a container, after
// defaultPodLimitsForDownwardAPI: an unset or zero cpu/memory/ephemeral-storage limit is
// the node's allocatable. An unset request reads as the limit the spec gives (API defaulting).
Result<Quantity> container_quantity(const EnvContext& ctx, const json::object& container, std::string_view kind,
                                    const std::string& resource) {
  const api::ResourcesView res(api::object_or_empty(container, "resources"));
  if (kind == "requests") {
    if (res.requests().has(resource)) return res.request(resource);
    return res.limit(resource);
  }
  KL_ASSIGN_OR_RETURN(Quantity q, res.limit(resource));
  if (q.is_zero() && (resource == "cpu" || resource == "memory" || resource == "ephemeral-storage")) {
    auto it = ctx.node_allocatable.find(resource);
    if (it != ctx.node_allocatable.end()) return it->second;
  }
  return q;
}

// containerResourceRuntimeValue / ExtractContainerResourceValue.
Result<std::string> resource_field_ref_value(const EnvContext& ctx, const json::object& ref,
                                             const api::ContainerView& self) {
  std::string_view resource = json::get_string(ref, "resource");
  std::string_view container_name = json::get_string(ref, "containerName");
  const json::object* container = &self.raw();
  if (!container_name.empty()) {
    container = find_container(*ctx.pod, container_name);
    if (container == nullptr) return Error("container " + std::string(container_name) + " not found");
  }
  Quantity divisor = Quantity::from_int(1);
  if (const json::value* d = json::find(ref, "divisor")) {
    KL_ASSIGN_OR_RETURN(Quantity parsed, api::quantity_from_json(*d));
    if (!parsed.is_zero()) divisor = parsed;
  }
  const std::size_t dot = resource.find('.');
  const std::string_view kind = dot == std::string_view::npos ? resource : resource.substr(0, dot);
  const std::string name(dot == std::string_view::npos ? std::string_view() : resource.substr(dot + 1));
  const bool known_kind = kind == "limits" || kind == "requests";
  if (!known_kind || !(name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
                       name.rfind("hugepages-", 0) == 0)) {
    return Error("unsupported container resource : " + std::string(resource));
  }
  Result<Quantity> q = container_quantity(ctx, *container, kind, name);
  if (!q.ok()) return std::move(q).error();
  if (name == "cpu") {
    // ceil(milli / divisor milli): 250m with divisor 1 reads "1".
    KL_ASSIGN_OR_RETURN(int64_t v, q->milli_value());
    KL_ASSIGN_OR_RETURN(int64_t d, divisor.milli_value());
    return std::to_string(ceil_div(v, d));
  }
  KL_ASSIGN_OR_RETURN(int64_t v, q->value());
  KL_ASSIGN_OR_RETURN(int64_t d, divisor.value());
  return std::to_string(ceil_div(v, d));
}

// validation.IsRelaxedEnvVarName: printable ASCII other than '=' (the kubelet's check for
// envFrom keys while RelaxedEnvironmentVariableValidation is on, the default since 1.32).
bool usable_env_name(std::string_view k) {
  if (k.empty()) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return c >= ' ' && c <= '~' && c != '='; });
}

struct Sources {
  const EnvContext& ctx;
  std::string ns;
  std::map<std::string, const json::object*, std::less<>> config_maps;
  std::map<std::string, const json::object*, std::less<>> secrets;

  const json::object* config_map(std::string_view name) {
    auto it = config_maps.find(name);
    if (it != config_maps.end()) return it->second;
    const json::object* cm = ctx.config_map ? ctx.config_map(name) : nullptr;
    if (cm != nullptr) config_maps.emplace(std::string(name), cm);
    return cm;
  }
  const json::object* secret(std::string_view name) {
    auto it = secrets.find(name);
    if (it != secrets.end()) return it->second;
    const json::object* s = ctx.secret ? ctx.secret(name) : nullptr;
    if (s != nullptr) secrets.emplace(std::string(name), s);
    return s;
  }
};

Error not_found(std::string_view kind, std::string_view name) {
  return Error(ErrorCode::kNotFound, std::string(kind) + " \"" + std::string(name) + "\" not found");
}

bool optional_ref(const json::object& ref) { return json::get_bool_or(ref, "optional", false); }

Result<void> apply_env_from(Sources& src, const json::object& from, OrderedEnv& env) {
  std::string_view prefix = json::get_string(from, "prefix");
  if (const json::object* ref = json::get_object(from, "configMapRef")) {
    std::string_view name = json::get_string(*ref, "name");
    const json::object* cm = src.config_map(name);
    if (cm == nullptr) {
      if (optional_ref(*ref)) return Ok();
      return not_found("configmap", name);
    }
    for (const auto& [k, v] : api::string_entries(json::get_object(*cm, "data"))) {
      std::string key = std::string(prefix) + std::string(k);
      if (!usable_env_name(key)) continue;
      env.set(std::move(key), std::string(v));
    }
  } else if (const json::object* sref = json::get_object(from, "secretRef")) {
    std::string_view name = json::get_string(*sref, "name");
    const json::object* s = src.secret(name);
    if (s == nullptr) {
      if (optional_ref(*sref)) return Ok();
      return not_found("secret", name);
    }
    const api::SecretView view(*s);
    if (const json::object* data = view.data()) {
      for (const auto& kv : *data) {
        std::string_view k = kv.key();
        KL_ASSIGN_OR_RETURN(std::optional<std::string> v, view.data_value(k));
        std::string key = std::string(prefix) + std::string(k);
        if (!v || !usable_env_name(key)) continue;
        env.set(std::move(key), std::move(*v));
      }
    }
  }
  return Ok();
}

// The value of one env entry's valueFrom; nullopt when an optional source is missing.
Result<std::optional<std::string>> value_from(Sources& src, const json::object& vf, const api::ContainerView& c) {
  if (const json::object* f = json::get_object(vf, "fieldRef")) {
    KL_ASSIGN_OR_RETURN(std::string v, field_ref_value(src.ctx, *f));
    return std::optional<std::string>(std::move(v));
  }
  if (const json::object* r = json::get_object(vf, "resourceFieldRef")) {
    KL_ASSIGN_OR_RETURN(std::string v, resource_field_ref_value(src.ctx, *r, c));
    return std::optional<std::string>(std::move(v));
  }
  if (const json::object* ref = json::get_object(vf, "configMapKeyRef")) {
    std::string_view name = json::get_string(*ref, "name");
    std::string_view key = json::get_string(*ref, "key");
    const bool optional = optional_ref(*ref);
    const json::object* cm = src.config_map(name);
    if (cm == nullptr) {
      if (optional) return std::optional<std::string>();
      return not_found("configmap", name);
    }
    std::optional<std::string_view> v = api::ConfigMapView(*cm).data_value(key);
    if (!v) {
      if (optional) return std::optional<std::string>();
      return Error(ErrorCode::kNotFound, "couldn't find key " + std::string(key) + " in ConfigMap " + src.ns + "/" +
                                             std::string(name));
    }
    return std::optional<std::string>(std::string(*v));
  }
  if (const json::object* ref = json::get_object(vf, "secretKeyRef")) {
    std::string_view name = json::get_string(*ref, "name");
    std::string_view key = json::get_string(*ref, "key");
    const bool optional = optional_ref(*ref);
    const json::object* s = src.secret(name);
    if (s == nullptr) {
      if (optional) return std::optional<std::string>();
      return not_found("secret", name);
    }
    Result<std::optional<std::string>> v = api::SecretView(*s).data_value(key);
    if (!v.ok()) return std::move(v).error().context("secret " + src.ns + "/" + std::string(name));
    if (!*v) {
      if (optional) return std::optional<std::string>();
      return Error(ErrorCode::kNotFound, "couldn't find key " + std::string(key) + " in Secret " + src.ns + "/" +
                                             std::string(name));
    }
    return std::move(v).value();
  }
  // A valueFrom with no source the kubelet knows (fileKeyRef is behind a feature gate):
  // the kubelet sets the variable to the empty value.
  return std::optional<std::string>(std::string());
}

std::map<std::string, std::string, std::less<>> env_map(const std::vector<std::string>& env) {
  std::map<std::string, std::string, std::less<>> m;
  for (const std::string& e : env) {
    const std::size_t eq = e.find('=');
    if (eq == std::string::npos) {
      m[e] = "";
    } else {
      m[e.substr(0, eq)] = e.substr(eq + 1);
    }
  }
  return m;
}

}  // namespace

std::string expand(std::string_view in, const std::function<std::optional<std::string>(std::string_view)>& lookup) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (c != '$' || i + 1 >= in.size()) {
      out += c;
      ++i;
      continue;
    }
    const char next = in[i + 1];
    if (next == '$') {  // "$$" is an escaped "$"
      out += '$';
      i += 2;
    } else if (next == '(') {
      const std::size_t close = in.find(')', i + 2);
      if (close == std::string_view::npos) {  // unclosed: "$(" is copied, scanning goes on after it
        out += "$(";
        i += 2;
        continue;
      }
      const std::string_view name = in.substr(i + 2, close - (i + 2));
      std::optional<std::string> v = lookup ? lookup(name) : std::nullopt;
      if (v) {
        out += *v;
      } else {
        out += "$(";
        out += name;
        out += ')';
      }
      i = close + 1;
    } else {
      // "$x": both copied. Go's string(byte) turns the byte into the rune of that value,
      // so a byte >= 0x80 comes out UTF-8 encoded ("$\xc3" -> "$\xc3\x83"); kept for fidelity.
      out += '$';
      const auto b = static_cast<unsigned char>(next);
      if (b < 0x80) {
        out += next;
      } else {
        out += static_cast<char>(0xC0 | (b >> 6));
        out += static_cast<char>(0x80 | (b & 0x3F));
      }
      i += 2;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> service_env(std::string_view pod_namespace,
                                                             bool enable_service_links,
                                                             const std::vector<const json::object*>& services) {
  // name -> service, the master service first-come, a same-namespace one overriding it.
  std::map<std::string, const json::object*, std::less<>> chosen;
  for (const json::object* s : services) {
    if (s == nullptr) continue;
    const api::ServiceView svc(*s);
    if (!service_ip_set(svc)) continue;
    std::string name(svc.meta().name());
    if (svc.meta().namespace_() == "default" && name == "kubernetes") {
      chosen.emplace(std::move(name), s);  // keeps an existing entry
    } else if (svc.meta().namespace_() == pod_namespace && enable_service_links) {
      chosen[std::move(name)] = s;
    }
  }
  std::vector<std::pair<std::string, std::string>> all;
  for (const auto& [name, s] : chosen) append_service_vars(api::ServiceView(*s), all);
  // The kubelet folds the list into a map: a later duplicate name wins.
  OrderedEnv dedup;
  for (auto& [k, v] : all) dedup.set(std::move(k), std::move(v));
  return dedup.vars();
}

Result<std::vector<std::string>> container_env(const EnvContext& ctx, const api::ContainerView& container) {
  if (ctx.pod == nullptr) return Error(ErrorCode::kInvalidArgument, "container_env: no pod");
  const api::PodView pod(*ctx.pod);
  Sources src{ctx, std::string(pod.meta().namespace_()), {}, {}};

  OrderedEnv service;
  for (auto& [k, v] : service_env(src.ns, pod.spec().enable_service_links(), ctx.services)) {
    service.set(std::move(k), std::move(v));
  }

  OrderedEnv env;
  if (const json::array* from = container.env_from()) {
    for (const json::value& f : *from) {
      if (!f.is_object()) continue;
      KL_TRY(apply_env_from(src, f.get_object(), env));
    }
  }

  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (const std::string* v = env.get(name)) return *v;
    if (const std::string* v = service.get(name)) return *v;
    return std::nullopt;
  };
  for (const api::EnvVarView& e : container.env()) {
    std::string value(e.value());
    if (!value.empty()) {
      value = expand(value, lookup);
    } else if (const json::object* vf = e.value_from()) {
      KL_ASSIGN_OR_RETURN(std::optional<std::string> v, value_from(src, *vf, container));
      if (!v) continue;  // an optional source that is missing: the variable is not set
      value = std::move(*v);
    }
    env.set(std::string(e.name()), std::move(value));
  }

  std::vector<std::string> out;
  out.reserve(env.vars().size() + service.vars().size());
  for (const auto& [k, v] : env.vars()) out.push_back(k + "=" + v);
  for (const auto& [k, v] : service.vars()) {
    if (!env.has(k)) out.push_back(k + "=" + v);
  }
  return out;
}

std::vector<std::string> expand_command(const std::vector<std::string_view>& in, const std::vector<std::string>& env) {
  const auto m = env_map(env);
  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    auto it = m.find(name);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
  std::vector<std::string> out;
  out.reserve(in.size());
  for (std::string_view s : in) out.push_back(expand(s, lookup));
  return out;
}

ExpandedCommand expand_command_and_args(const api::ContainerView& container, const std::vector<std::string>& env) {
  return {expand_command(container.command(), env), expand_command(container.args(), env)};
}

Result<std::string> expand_sub_path_expr(std::string_view expr, const std::vector<std::string>& env) {
  const auto m = env_map(env);
  std::set<std::string> missing;
  std::string out = expand(expr, [&](std::string_view name) -> std::optional<std::string> {
    auto it = m.find(name);
    if (it == m.end() || it->second.empty()) {
      missing.emplace(name);
      return std::string();
    }
    return it->second;
  });
  if (!missing.empty()) {
    std::string list;
    for (const std::string& n : missing) {
      if (!list.empty()) list += ", ";
      list += n;
    }
    return Error(ErrorCode::kInvalidArgument, "missing value for " + list);
  }
  return out;
}

}  // namespace kernlet::agent::podspec
