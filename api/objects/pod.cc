#include "api/objects/pod.h"

#include <array>
#include <string>

namespace kernlet::api {
namespace {

std::string_view get_or(const json::object& o, std::string_view key, std::string_view fallback) {
  std::string_view v = json::get_string(o, key);
  return v.empty() ? fallback : v;
}

template <class View>
std::vector<View> views_of(const json::object& o, std::string_view key) {
  std::vector<View> out;
  for (const json::object* e : get_object_array(o, key)) out.emplace_back(*e);
  return out;
}

template <class View>
std::optional<View> optional_view(const json::object& o, std::string_view key) {
  const json::object* sub = json::get_object(o, key);
  if (sub == nullptr) return std::nullopt;
  return View(*sub);
}

// The `ip` members of a list like status.podIPs.
std::vector<std::string_view> ips_of(const json::object& o, std::string_view key) {
  std::vector<std::string_view> out;
  for (const json::object* e : get_object_array(o, key)) out.push_back(json::get_string(*e, "ip"));
  return out;
}

Result<void> add_to(ResourceList& total, const ResourceList& more) {
  for (const auto& [name, q] : more) {
    auto it = total.find(name);
    if (it == total.end()) {
      total.emplace(name, q);
    } else {
      KL_ASSIGN_OR_RETURN(it->second, it->second.add(q));
    }
  }
  return Ok();
}

void max_into(ResourceList& total, const ResourceList& other) {
  for (const auto& [name, q] : other) {
    auto it = total.find(name);
    if (it == total.end()) {
      total.emplace(name, q);
    } else if (q > it->second) {
      it->second = q;
    }
  }
}

// requests, with each unset request read as its limit (Kubernetes' API defaulting).
Result<ResourceList> effective_requests(const ResourcesView& r) {
  KL_ASSIGN_OR_RETURN(ResourceList reqs, r.requests().to_list());
  KL_ASSIGN_OR_RETURN(ResourceList lims, r.limits().to_list());
  for (const auto& [name, q] : lims) reqs.emplace(name, q);  // no-op where a request is set
  return reqs;
}

Error in_path(const std::string& prefix, const Error& e) {
  return Error(ErrorCode::kInvalidArgument, prefix + "." + e.message());
}

Result<ResourceList> container_requests(const ContainerView& c, const char* list,
                                        std::size_t index) {
  auto r = effective_requests(c.resources());
  if (!r.ok()) return in_path("spec." + std::string(list) + "[" + std::to_string(index) + "]", r.error());
  return r;
}

constexpr std::array<std::string_view, 2> kQosResources = {"cpu", "memory"};

// The QoS class of one set of requirements (a container's or the pod-level one).
Result<QosClass> requirements_qos(const ResourcesView& r) {
  KL_ASSIGN_OR_RETURN(ResourceList reqs, effective_requests(r));
  KL_ASSIGN_OR_RETURN(ResourceList lims, r.limits().to_list());
  if (reqs.empty() && lims.empty()) return QosClass::BestEffort;
  std::optional<QosClass> qos;
  for (std::string_view res : kQosResources) {
    auto ri = reqs.find(res);
    auto li = lims.find(res);
    Quantity req = ri != reqs.end() ? ri->second : Quantity();
    Quantity lim = li != lims.end() ? li->second : Quantity();
    if (req != lim) return QosClass::Burstable;
    bool best_effort = req.is_zero();
    if (!qos) {
      qos = best_effort ? QosClass::BestEffort : QosClass::Guaranteed;
    } else if (best_effort != (*qos == QosClass::BestEffort)) {
      return QosClass::Burstable;
    }
  }
  return *qos;
}

bool pod_level_resources_set(const ResourcesView& r) {
  return !r.requests().empty() || !r.limits().empty();
}

bool is_pod_level_resource(std::string_view name) {
  return name == "cpu" || name == "memory" || name.starts_with("hugepages-");
}

}  // namespace

// ---- small views ------------------------------------------------------------------------

std::string_view ContainerPortView::name() const { return json::get_string(*p_, "name"); }
int64_t ContainerPortView::container_port() const {
  return json::get_int_or(*p_, "containerPort", 0);
}
int64_t ContainerPortView::host_port() const { return json::get_int_or(*p_, "hostPort", 0); }
std::string_view ContainerPortView::protocol() const { return get_or(*p_, "protocol", "TCP"); }
std::string_view ContainerPortView::host_ip() const { return json::get_string(*p_, "hostIP"); }

std::string_view EnvVarView::name() const { return json::get_string(*e_, "name"); }
std::string_view EnvVarView::value() const { return json::get_string(*e_, "value"); }
const json::object* EnvVarView::value_from() const { return json::get_object(*e_, "valueFrom"); }

std::string_view VolumeMountView::name() const { return json::get_string(*m_, "name"); }
std::string_view VolumeMountView::mount_path() const { return json::get_string(*m_, "mountPath"); }
std::string_view VolumeMountView::sub_path() const { return json::get_string(*m_, "subPath"); }
std::string_view VolumeMountView::sub_path_expr() const {
  return json::get_string(*m_, "subPathExpr");
}
bool VolumeMountView::read_only() const { return json::get_bool_or(*m_, "readOnly", false); }
std::string_view VolumeMountView::mount_propagation() const {
  return json::get_string(*m_, "mountPropagation");
}

ResourceListView ResourcesView::requests() const {
  return ResourceListView(json::get_object(*r_, "requests"), "resources.requests");
}
ResourceListView ResourcesView::limits() const {
  return ResourceListView(json::get_object(*r_, "limits"), "resources.limits");
}

std::string_view HttpGetView::path() const { return get_or(*h_, "path", "/"); }
std::optional<IntOrString> HttpGetView::port() const { return get_int_or_string(*h_, "port"); }
std::string_view HttpGetView::host() const { return json::get_string(*h_, "host"); }
std::string_view HttpGetView::scheme() const { return get_or(*h_, "scheme", "HTTP"); }
std::vector<std::pair<std::string_view, std::string_view>> HttpGetView::http_headers() const {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (const json::object* h : get_object_array(*h_, "httpHeaders")) {
    out.emplace_back(json::get_string(*h, "name"), json::get_string(*h, "value"));
  }
  return out;
}

HandlerView::Kind HandlerView::kind() const {
  for (const auto& kv : *h_) {
    if (!kv.value().is_object()) continue;
    std::string_view k = kv.key();
    if (k == "exec") return Kind::Exec;
    if (k == "httpGet") return Kind::HttpGet;
    if (k == "tcpSocket") return Kind::TcpSocket;
    if (k == "grpc") return Kind::Grpc;
    if (k == "sleep") return Kind::Sleep;
  }
  return Kind::None;
}

std::string_view HandlerView::kind_name() const {
  switch (kind()) {
    case Kind::None: return "";
    case Kind::Exec: return "exec";
    case Kind::HttpGet: return "httpGet";
    case Kind::TcpSocket: return "tcpSocket";
    case Kind::Grpc: return "grpc";
    case Kind::Sleep: return "sleep";
  }
  return "";
}

std::vector<std::string_view> HandlerView::exec_command() const {
  return get_string_array(object_or_empty(*h_, "exec"), "command");
}
std::optional<HttpGetView> HandlerView::http_get() const {
  return optional_view<HttpGetView>(*h_, "httpGet");
}
std::optional<IntOrString> HandlerView::tcp_socket_port() const {
  return get_int_or_string(object_or_empty(*h_, "tcpSocket"), "port");
}
std::string_view HandlerView::tcp_socket_host() const {
  return json::get_string(object_or_empty(*h_, "tcpSocket"), "host");
}
std::optional<int64_t> HandlerView::grpc_port() const {
  return json::get_int(object_or_empty(*h_, "grpc"), "port");
}
std::string_view HandlerView::grpc_service() const {
  return json::get_string(object_or_empty(*h_, "grpc"), "service");
}
std::optional<int64_t> HandlerView::sleep_seconds() const {
  return json::get_int(object_or_empty(*h_, "sleep"), "seconds");
}

int64_t ProbeView::initial_delay_seconds() const {
  return json::get_int_or(*p_, "initialDelaySeconds", 0);
}
// Kubernetes defaults a zero (unset) period/timeout/threshold to these values.
int64_t ProbeView::period_seconds() const {
  int64_t v = json::get_int_or(*p_, "periodSeconds", 0);
  return v == 0 ? 10 : v;
}
int64_t ProbeView::timeout_seconds() const {
  int64_t v = json::get_int_or(*p_, "timeoutSeconds", 0);
  return v == 0 ? 1 : v;
}
int64_t ProbeView::success_threshold() const {
  int64_t v = json::get_int_or(*p_, "successThreshold", 0);
  return v == 0 ? 1 : v;
}
int64_t ProbeView::failure_threshold() const {
  int64_t v = json::get_int_or(*p_, "failureThreshold", 0);
  return v == 0 ? 3 : v;
}
std::optional<int64_t> ProbeView::termination_grace_period_seconds() const {
  return json::get_int(*p_, "terminationGracePeriodSeconds");
}

std::optional<int64_t> SecurityContextView::run_as_user() const {
  return json::get_int(*s_, "runAsUser");
}
std::optional<int64_t> SecurityContextView::run_as_group() const {
  return json::get_int(*s_, "runAsGroup");
}
std::optional<bool> SecurityContextView::run_as_non_root() const {
  return json::get_bool(*s_, "runAsNonRoot");
}
bool SecurityContextView::privileged() const { return json::get_bool_or(*s_, "privileged", false); }
bool SecurityContextView::read_only_root_filesystem() const {
  return json::get_bool_or(*s_, "readOnlyRootFilesystem", false);
}
std::optional<bool> SecurityContextView::allow_privilege_escalation() const {
  return json::get_bool(*s_, "allowPrivilegeEscalation");
}
std::vector<std::string_view> SecurityContextView::capabilities_add() const {
  return get_string_array(object_or_empty(*s_, "capabilities"), "add");
}
std::vector<std::string_view> SecurityContextView::capabilities_drop() const {
  return get_string_array(object_or_empty(*s_, "capabilities"), "drop");
}
const json::object* SecurityContextView::seccomp_profile() const {
  return json::get_object(*s_, "seccompProfile");
}

// ---- ContainerView ----------------------------------------------------------------------

std::string_view ContainerView::name() const { return json::get_string(*c_, "name"); }
std::string_view ContainerView::image() const { return json::get_string(*c_, "image"); }
std::vector<std::string_view> ContainerView::command() const {
  return get_string_array(*c_, "command");
}
std::vector<std::string_view> ContainerView::args() const { return get_string_array(*c_, "args"); }
std::string_view ContainerView::working_dir() const { return json::get_string(*c_, "workingDir"); }
std::vector<ContainerPortView> ContainerView::ports() const {
  return views_of<ContainerPortView>(*c_, "ports");
}
std::optional<int64_t> ContainerView::find_port(std::string_view name) const {
  for (const ContainerPortView& p : ports()) {
    if (p.name() == name) return p.container_port();
  }
  return std::nullopt;
}
std::vector<EnvVarView> ContainerView::env() const { return views_of<EnvVarView>(*c_, "env"); }
const json::array* ContainerView::env_from() const { return json::get_array(*c_, "envFrom"); }
ResourcesView ContainerView::resources() const {
  return ResourcesView(object_or_empty(*c_, "resources"));
}
std::vector<VolumeMountView> ContainerView::volume_mounts() const {
  return views_of<VolumeMountView>(*c_, "volumeMounts");
}
const json::array* ContainerView::volume_devices() const {
  return json::get_array(*c_, "volumeDevices");
}
std::optional<ProbeView> ContainerView::liveness_probe() const {
  return optional_view<ProbeView>(*c_, "livenessProbe");
}
std::optional<ProbeView> ContainerView::readiness_probe() const {
  return optional_view<ProbeView>(*c_, "readinessProbe");
}
std::optional<ProbeView> ContainerView::startup_probe() const {
  return optional_view<ProbeView>(*c_, "startupProbe");
}
std::optional<HandlerView> ContainerView::post_start() const {
  return optional_view<HandlerView>(object_or_empty(*c_, "lifecycle"), "postStart");
}
std::optional<HandlerView> ContainerView::pre_stop() const {
  return optional_view<HandlerView>(object_or_empty(*c_, "lifecycle"), "preStop");
}

std::string_view ContainerView::image_pull_policy() const {
  std::string_view set = json::get_string(*c_, "imagePullPolicy");
  if (!set.empty()) return set;
  std::string_view ref = image();
  std::size_t at = ref.find('@');
  bool has_digest = at != std::string_view::npos;
  std::string_view name = ref.substr(0, at);
  std::size_t slash = name.rfind('/');
  std::size_t colon = name.rfind(':');
  std::string_view tag;
  // A colon before the last slash belongs to a registry host:port, not a tag.
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    tag = name.substr(colon + 1);
  }
  if (tag == "latest" || (tag.empty() && !has_digest)) return "Always";
  return "IfNotPresent";
}

std::optional<SecurityContextView> ContainerView::security_context() const {
  return optional_view<SecurityContextView>(*c_, "securityContext");
}
std::optional<std::string_view> ContainerView::restart_policy() const {
  const json::value* v = c_->if_contains("restartPolicy");
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string().data(), v->get_string().size());
}
std::string_view ContainerView::termination_message_path() const {
  return get_or(*c_, "terminationMessagePath", "/dev/termination-log");
}
std::string_view ContainerView::termination_message_policy() const {
  return get_or(*c_, "terminationMessagePolicy", "File");
}
bool ContainerView::stdin_() const { return json::get_bool_or(*c_, "stdin", false); }
bool ContainerView::stdin_once() const { return json::get_bool_or(*c_, "stdinOnce", false); }
bool ContainerView::tty() const { return json::get_bool_or(*c_, "tty", false); }

// ---- VolumeView, TolerationView ---------------------------------------------------------

std::string_view VolumeView::name() const { return json::get_string(*v_, "name"); }
std::string_view VolumeView::source_kind() const {
  for (const auto& kv : *v_) {
    if (kv.key() != "name" && kv.value().is_object()) return kv.key();
  }
  return {};
}
const json::object* VolumeView::source() const {
  std::string_view k = source_kind();
  return k.empty() ? nullptr : json::get_object(*v_, k);
}

std::string_view TolerationView::key() const { return json::get_string(*t_, "key"); }
std::string_view TolerationView::operator_() const { return get_or(*t_, "operator", "Equal"); }
std::string_view TolerationView::value() const { return json::get_string(*t_, "value"); }
std::string_view TolerationView::effect() const { return json::get_string(*t_, "effect"); }
std::optional<int64_t> TolerationView::toleration_seconds() const {
  return json::get_int(*t_, "tolerationSeconds");
}
bool TolerationView::tolerates(std::string_view taint_key, std::string_view taint_value,
                               std::string_view taint_effect) const {
  if (!effect().empty() && effect() != taint_effect) return false;
  if (!key().empty() && key() != taint_key) return false;
  if (operator_() == "Exists") return true;
  if (operator_() == "Equal") return value() == taint_value;
  return false;  // an operator this version does not know tolerates nothing
}

// ---- PodSpecView, PodStatusView ---------------------------------------------------------

std::vector<ContainerView> PodSpecView::containers() const {
  return views_of<ContainerView>(*s_, "containers");
}
std::vector<ContainerView> PodSpecView::init_containers() const {
  return views_of<ContainerView>(*s_, "initContainers");
}
const json::array* PodSpecView::ephemeral_containers() const {
  return json::get_array(*s_, "ephemeralContainers");
}
std::vector<VolumeView> PodSpecView::volumes() const { return views_of<VolumeView>(*s_, "volumes"); }
std::optional<VolumeView> PodSpecView::find_volume(std::string_view name) const {
  for (const VolumeView& v : volumes()) {
    if (v.name() == name) return v;
  }
  return std::nullopt;
}
std::string_view PodSpecView::restart_policy() const {
  return get_or(*s_, "restartPolicy", "Always");
}
std::string_view PodSpecView::node_name() const { return json::get_string(*s_, "nodeName"); }
const json::object* PodSpecView::node_selector() const {
  return json::get_object(*s_, "nodeSelector");
}
const json::object* PodSpecView::affinity() const { return json::get_object(*s_, "affinity"); }
std::vector<TolerationView> PodSpecView::tolerations() const {
  return views_of<TolerationView>(*s_, "tolerations");
}
int64_t PodSpecView::termination_grace_period_seconds() const {
  return json::get_int_or(*s_, "terminationGracePeriodSeconds", 30);
}
std::optional<int64_t> PodSpecView::active_deadline_seconds() const {
  return json::get_int(*s_, "activeDeadlineSeconds");
}
bool PodSpecView::host_network() const { return json::get_bool_or(*s_, "hostNetwork", false); }
bool PodSpecView::host_pid() const { return json::get_bool_or(*s_, "hostPID", false); }
bool PodSpecView::host_ipc() const { return json::get_bool_or(*s_, "hostIPC", false); }
bool PodSpecView::share_process_namespace() const {
  return json::get_bool_or(*s_, "shareProcessNamespace", false);
}
const json::object* PodSpecView::security_context() const {
  return json::get_object(*s_, "securityContext");
}
std::string_view PodSpecView::scheduler_name() const {
  return get_or(*s_, "schedulerName", "default-scheduler");
}
std::string_view PodSpecView::service_account_name() const {
  return json::get_string(*s_, "serviceAccountName");
}
std::optional<bool> PodSpecView::automount_service_account_token() const {
  return json::get_bool(*s_, "automountServiceAccountToken");
}
std::string_view PodSpecView::hostname() const { return json::get_string(*s_, "hostname"); }
std::string_view PodSpecView::subdomain() const { return json::get_string(*s_, "subdomain"); }
std::string_view PodSpecView::dns_policy() const { return get_or(*s_, "dnsPolicy", "ClusterFirst"); }
const json::object* PodSpecView::dns_config() const { return json::get_object(*s_, "dnsConfig"); }
std::optional<int64_t> PodSpecView::priority() const { return json::get_int(*s_, "priority"); }
std::string_view PodSpecView::priority_class_name() const {
  return json::get_string(*s_, "priorityClassName");
}
std::string_view PodSpecView::runtime_class_name() const {
  return json::get_string(*s_, "runtimeClassName");
}
std::vector<std::string_view> PodSpecView::image_pull_secrets() const {
  std::vector<std::string_view> out;
  for (const json::object* s : get_object_array(*s_, "imagePullSecrets")) {
    out.push_back(json::get_string(*s, "name"));
  }
  return out;
}
bool PodSpecView::enable_service_links() const {
  return json::get_bool_or(*s_, "enableServiceLinks", true);
}
ResourceListView PodSpecView::overhead() const {
  return ResourceListView(json::get_object(*s_, "overhead"), "spec.overhead");
}
ResourcesView PodSpecView::resources() const {
  return ResourcesView(object_or_empty(*s_, "resources"));
}

std::string_view PodStatusView::phase() const { return json::get_string(*s_, "phase"); }
std::vector<ConditionView> PodStatusView::conditions() const { return get_conditions(*s_); }
std::optional<ConditionView> PodStatusView::condition(std::string_view type) const {
  return find_condition(*s_, type);
}
std::string_view PodStatusView::reason() const { return json::get_string(*s_, "reason"); }
std::string_view PodStatusView::message() const { return json::get_string(*s_, "message"); }
std::string_view PodStatusView::pod_ip() const { return json::get_string(*s_, "podIP"); }
std::vector<std::string_view> PodStatusView::pod_ips() const { return ips_of(*s_, "podIPs"); }
std::string_view PodStatusView::host_ip() const { return json::get_string(*s_, "hostIP"); }
std::vector<std::string_view> PodStatusView::host_ips() const { return ips_of(*s_, "hostIPs"); }
std::string_view PodStatusView::start_time() const { return json::get_string(*s_, "startTime"); }
std::string_view PodStatusView::nominated_node_name() const {
  return json::get_string(*s_, "nominatedNodeName");
}
const json::array* PodStatusView::container_statuses() const {
  return json::get_array(*s_, "containerStatuses");
}
const json::array* PodStatusView::init_container_statuses() const {
  return json::get_array(*s_, "initContainerStatuses");
}
const json::array* PodStatusView::ephemeral_container_statuses() const {
  return json::get_array(*s_, "ephemeralContainerStatuses");
}
std::string_view PodStatusView::qos_class() const { return json::get_string(*s_, "qosClass"); }

// ---- computations -----------------------------------------------------------------------

std::string_view qos_class_name(QosClass c) {
  switch (c) {
    case QosClass::BestEffort: return "BestEffort";
    case QosClass::Burstable: return "Burstable";
    case QosClass::Guaranteed: return "Guaranteed";
  }
  return "";
}

Result<QosClass> pod_qos_class(const PodView& pod) {
  PodSpecView spec = pod.spec();
  if (pod_level_resources_set(spec.resources())) {
    auto q = requirements_qos(spec.resources());
    if (!q.ok()) return in_path("spec", q.error());
    return q;
  }
  std::optional<QosClass> qos;
  auto visit = [&](const std::vector<ContainerView>& list, const char* field) -> Result<bool> {
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto c = requirements_qos(list[i].resources());
      if (!c.ok()) {
        return in_path("spec." + std::string(field) + "[" + std::to_string(i) + "]", c.error());
      }
      if (*c == QosClass::Burstable || (qos && *qos != *c)) return true;
      qos = *c;
    }
    return false;
  };
  KL_ASSIGN_OR_RETURN(bool burstable, visit(spec.init_containers(), "initContainers"));
  if (burstable) return QosClass::Burstable;
  KL_ASSIGN_OR_RETURN(burstable, visit(spec.containers(), "containers"));
  if (burstable) return QosClass::Burstable;
  return qos.value_or(QosClass::BestEffort);
}

Result<ResourceList> pod_resource_requests(const PodView& pod) {
  PodSpecView spec = pod.spec();
  ResourceList total;
  std::vector<ContainerView> containers = spec.containers();
  for (std::size_t i = 0; i < containers.size(); ++i) {
    KL_ASSIGN_OR_RETURN(ResourceList r, container_requests(containers[i], "containers", i));
    KL_TRY(add_to(total, r));
  }
  // A sidecar runs from its start to the pod's end, so it adds to the steady state and to
  // every init container started after it; a plain init container runs alone (with the
  // sidecars before it), so it only raises the floor.
  ResourceList sidecars;
  ResourceList init_peak;
  std::vector<ContainerView> inits = spec.init_containers();
  for (std::size_t i = 0; i < inits.size(); ++i) {
    KL_ASSIGN_OR_RETURN(ResourceList r, container_requests(inits[i], "initContainers", i));
    if (inits[i].is_sidecar()) {
      KL_TRY(add_to(total, r));
      KL_TRY(add_to(sidecars, r));
      max_into(init_peak, sidecars);
    } else {
      KL_TRY(add_to(r, sidecars));
      max_into(init_peak, r);
    }
  }
  max_into(total, init_peak);

  ResourceListView pod_level = spec.resources().requests();
  if (!pod_level.empty()) {
    auto list = pod_level.to_list();
    if (!list.ok()) return in_path("spec", list.error());
    for (const auto& [name, q] : *list) {
      if (is_pod_level_resource(name)) total.insert_or_assign(name, q);
    }
  }
  KL_ASSIGN_OR_RETURN(ResourceList overhead, spec.overhead().to_list());
  KL_TRY(add_to(total, overhead));
  return total;
}

bool pod_is_terminal(const PodView& pod) {
  std::string_view phase = pod.status().phase();
  return phase == "Succeeded" || phase == "Failed";
}

std::optional<ConditionView> pod_condition(const PodStatusView& status, std::string_view type) {
  return status.condition(type);
}

}  // namespace kernlet::api
