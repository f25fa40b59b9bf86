// PodView: read-only typed view of a core/v1 Pod document, and the pure pod computations
// the scheduler and the agent share (QoS class, effective resource requests).
//
// This file is the model for every kind's view (see api/object.h for the rules): views
// wrap `const json::object&`, read Kubernetes' API default for unset fields, expose
// pass-through sub-objects raw, and never copy the document. Field names follow the JSON
// names in snake_case (spec.terminationGracePeriodSeconds -> termination_grace_period_seconds).
// Thread-safety: views are safe to use concurrently as long as nobody writes the document.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/result.h"

namespace kernlet::api {

// spec.containers[i].ports[j]
class ContainerPortView {
 public:
  explicit ContainerPortView(const json::object& p) : p_(&p) {}
  std::string_view name() const;
  int64_t container_port() const;   // 0 when unset
  int64_t host_port() const;        // 0 when unset
  std::string_view protocol() const;  // default "TCP"
  std::string_view host_ip() const;
  const json::object& raw() const { return *p_; }

 private:
  const json::object* p_;
};

// spec.containers[i].env[j]
class EnvVarView {
 public:
  explicit EnvVarView(const json::object& e) : e_(&e) {}
  std::string_view name() const;
  std::string_view value() const;
  // fieldRef / resourceFieldRef / configMapKeyRef / secretKeyRef, resolved by the agent.
  const json::object* value_from() const;
  const json::object& raw() const { return *e_; }

 private:
  const json::object* e_;
};

// spec.containers[i].volumeMounts[j]
class VolumeMountView {
 public:
  explicit VolumeMountView(const json::object& m) : m_(&m) {}
  std::string_view name() const;
  std::string_view mount_path() const;
  std::string_view sub_path() const;
  std::string_view sub_path_expr() const;
  bool read_only() const;
  std::string_view mount_propagation() const;  // "" when unset (None)
  const json::object& raw() const { return *m_; }

 private:
  const json::object* m_;
};

// spec.containers[i].resources
class ResourcesView {
 public:
  explicit ResourcesView(const json::object& r) : r_(&r) {}
  ResourceListView requests() const;
  ResourceListView limits() const;
  // resources.requests[name] / resources.limits[name]; zero when unset.
  Result<Quantity> request(std::string_view name) const { return requests().get(name); }
  Result<Quantity> limit(std::string_view name) const { return limits().get(name); }
  const json::object& raw() const { return *r_; }

 private:
  const json::object* r_;
};

// An httpGet action of a probe or lifecycle hook.
class HttpGetView {
 public:
  explicit HttpGetView(const json::object& h) : h_(&h) {}
  std::string_view path() const;    // default "/"
  std::optional<IntOrString> port() const;
  std::string_view host() const;    // "" means the pod IP
  std::string_view scheme() const;  // default "HTTP"
  // httpHeaders as (name, value) pairs, in order.
  std::vector<std::pair<std::string_view, std::string_view>> http_headers() const;
  const json::object& raw() const { return *h_; }

 private:
  const json::object* h_;
};

// The action of a probe (exec/httpGet/tcpSocket/grpc) or lifecycle hook
// (exec/httpGet/tcpSocket/sleep). Kubernetes allows exactly one; the first set wins here.
class HandlerView {
 public:
  enum class Kind { None, Exec, HttpGet, TcpSocket, Grpc, Sleep };

  explicit HandlerView(const json::object& h) : h_(&h) {}
  Kind kind() const;
  // The JSON name of kind(): "exec", "httpGet", "tcpSocket", "grpc", "sleep"; "" for None.
  std::string_view kind_name() const;

  std::vector<std::string_view> exec_command() const;  // exec.command
  std::optional<HttpGetView> http_get() const;
  std::optional<IntOrString> tcp_socket_port() const;  // tcpSocket.port
  std::string_view tcp_socket_host() const;            // tcpSocket.host
  std::optional<int64_t> grpc_port() const;            // grpc.port
  std::string_view grpc_service() const;               // grpc.service, "" when unset
  std::optional<int64_t> sleep_seconds() const;        // sleep.seconds
  const json::object& raw() const { return *h_; }

 private:
  const json::object* h_;
};

// livenessProbe / readinessProbe / startupProbe, with Kubernetes' defaults.
class ProbeView {
 public:
  explicit ProbeView(const json::object& p) : p_(&p) {}
  HandlerView handler() const { return HandlerView(*p_); }
  int64_t initial_delay_seconds() const;  // default 0
  int64_t period_seconds() const;         // default 10
  int64_t timeout_seconds() const;        // default 1
  int64_t success_threshold() const;      // default 1
  int64_t failure_threshold() const;      // default 3
  // Overrides the pod's grace period when this probe kills the container.
  std::optional<int64_t> termination_grace_period_seconds() const;
  const json::object& raw() const { return *p_; }

 private:
  const json::object* p_;
};

// spec.containers[i].securityContext: the fields the runtime applies.
class SecurityContextView {
 public:
  explicit SecurityContextView(const json::object& s) : s_(&s) {}
  std::optional<int64_t> run_as_user() const;
  std::optional<int64_t> run_as_group() const;
  std::optional<bool> run_as_non_root() const;
  bool privileged() const;
  bool read_only_root_filesystem() const;
  std::optional<bool> allow_privilege_escalation() const;
  std::vector<std::string_view> capabilities_add() const;
  std::vector<std::string_view> capabilities_drop() const;
  const json::object* seccomp_profile() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// spec.containers[i], spec.initContainers[i].
class ContainerView {
 public:
  explicit ContainerView(const json::object& c) : c_(&c) {}
  std::string_view name() const;
  std::string_view image() const;
  std::vector<std::string_view> command() const;
  std::vector<std::string_view> args() const;
  std::string_view working_dir() const;
  std::vector<ContainerPortView> ports() const;
  // The containerPort of the port called `name`, for probes that name their port.
  std::optional<int64_t> find_port(std::string_view name) const;
  std::vector<EnvVarView> env() const;
  const json::array* env_from() const;
  ResourcesView resources() const;
  std::vector<VolumeMountView> volume_mounts() const;
  const json::array* volume_devices() const;
  std::optional<ProbeView> liveness_probe() const;
  std::optional<ProbeView> readiness_probe() const;
  std::optional<ProbeView> startup_probe() const;
  std::optional<HandlerView> post_start() const;  // lifecycle.postStart
  std::optional<HandlerView> pre_stop() const;    // lifecycle.preStop
  // The field when set, else Kubernetes' default: "Always" for an image tagged :latest or
  // untagged (and without digest), "IfNotPresent" otherwise.
  std::string_view image_pull_policy() const;
  std::optional<SecurityContextView> security_context() const;
  // Container-level restartPolicy; only "Always" is allowed, on init containers (sidecars).
  std::optional<std::string_view> restart_policy() const;
  // An init container with restartPolicy Always: a sidecar that keeps running.
  bool is_sidecar() const { return restart_policy() == "Always"; }
  std::string_view termination_message_path() const;    // default "/dev/termination-log"
  std::string_view termination_message_policy() const;  // default "File"
  bool stdin_() const;  // "stdin" is a libc macro
  bool stdin_once() const;
  bool tty() const;
  const json::object& raw() const { return *c_; }

 private:
  const json::object* c_;
};

// spec.volumes[i]: a name and exactly one source.
class VolumeView {
 public:
  explicit VolumeView(const json::object& v) : v_(&v) {}
  std::string_view name() const;
  // The JSON name of the source ("emptyDir", "hostPath", "configMap", "secret",
  // "downwardAPI", "projected", "persistentVolumeClaim", "csi", ...): the first member
  // other than name whose value is an object; "" when there is none.
  std::string_view source_kind() const;
  // The source object; nullptr when there is none.
  const json::object* source() const;
  const json::object& raw() const { return *v_; }

 private:
  const json::object* v_;
};

// spec.tolerations[i]
class TolerationView {
 public:
  explicit TolerationView(const json::object& t) : t_(&t) {}
  std::string_view key() const;        // "" with operator Exists matches every key
  std::string_view operator_() const;  // default "Equal"
  std::string_view value() const;
  std::string_view effect() const;     // "" matches every effect
  // How long a NoExecute taint is tolerated; nullopt means forever.
  std::optional<int64_t> toleration_seconds() const;
  // Whether this toleration tolerates a taint, by Kubernetes' rules (ToleratesTaint).
  bool tolerates(std::string_view taint_key, std::string_view taint_value,
                 std::string_view taint_effect) const;
  const json::object& raw() const { return *t_; }

 private:
  const json::object* t_;
};

// spec
class PodSpecView {
 public:
  explicit PodSpecView(const json::object& s) : s_(&s) {}
  std::vector<ContainerView> containers() const;
  std::vector<ContainerView> init_containers() const;
  const json::array* ephemeral_containers() const;
  std::vector<VolumeView> volumes() const;
  std::optional<VolumeView> find_volume(std::string_view name) const;
  std::string_view restart_policy() const;  // default "Always"
  std::string_view node_name() const;
  const json::object* node_selector() const;
  const json::object* affinity() const;
  std::vector<TolerationView> tolerations() const;
  int64_t termination_grace_period_seconds() const;  // default 30
  std::optional<int64_t> active_deadline_seconds() const;
  bool host_network() const;
  bool host_pid() const;
  bool host_ipc() const;
  bool share_process_namespace() const;
  const json::object* security_context() const;
  std::string_view scheduler_name() const;  // default "default-scheduler"
  std::string_view service_account_name() const;
  std::optional<bool> automount_service_account_token() const;
  std::string_view hostname() const;
  std::string_view subdomain() const;
  std::string_view dns_policy() const;  // default "ClusterFirst"
  const json::object* dns_config() const;
  std::optional<int64_t> priority() const;  // set by admission from the priority class
  std::string_view priority_class_name() const;
  std::string_view runtime_class_name() const;
  std::vector<std::string_view> image_pull_secrets() const;  // the secrets' names
  bool enable_service_links() const;  // default true
  ResourceListView overhead() const;
  // Pod-level resources (spec.resources), which override the containers' sum.
  ResourcesView resources() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// status
class PodStatusView {
 public:
  explicit PodStatusView(const json::object& s) : s_(&s) {}
  // "Pending", "Running", "Succeeded", "Failed", "Unknown"; "" when unset.
  std::string_view phase() const;
  std::vector<ConditionView> conditions() const;
  std::optional<ConditionView> condition(std::string_view type) const;
  std::string_view reason() const;
  std::string_view message() const;
  std::string_view pod_ip() const;
  std::vector<std::string_view> pod_ips() const;  // podIPs[*].ip
  std::string_view host_ip() const;
  std::vector<std::string_view> host_ips() const;  // hostIPs[*].ip
  std::string_view start_time() const;  // RFC 3339, "" when unset
  std::string_view nominated_node_name() const;
  const json::array* container_statuses() const;
  const json::array* init_container_statuses() const;
  const json::array* ephemeral_container_statuses() const;
  std::string_view qos_class() const;  // as recorded by the API server; "" when unset
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// A whole Pod.
class PodView {
 public:
  explicit PodView(const json::object& pod) : pod_(&pod) {}
  Meta meta() const { return Meta(*pod_); }
  PodSpecView spec() const { return PodSpecView(object_or_empty(*pod_, "spec")); }
  PodStatusView status() const { return PodStatusView(object_or_empty(*pod_, "status")); }
  const json::object& raw() const { return *pod_; }

 private:
  const json::object* pod_;
};

// ---- computations -----------------------------------------------------------------------

enum class QosClass { BestEffort, Burstable, Guaranteed };
// "BestEffort", "Burstable", "Guaranteed": the status.qosClass strings.
std::string_view qos_class_name(QosClass c);

// The QoS class Kubernetes computes for the pod spec (ComputePodQOS): only cpu and memory
// count; each container (init ones included) is Guaranteed when both have equal non-zero
// request and limit, BestEffort when both have neither, Burstable otherwise; the pod is
// the containers' common class, else Burstable. Pod-level spec.resources, when set, take
// the containers' place. A request left unset reads as its limit, as API defaulting makes
// it. Errors name a malformed quantity. Once status.qosClass is set it is authoritative
// (Kubernetes never changes it), so the agent reads status().qos_class() first.
Result<QosClass> pod_qos_class(const PodView& pod);

// The pod's effective resource requests as the scheduler counts them: the sum over
// containers and sidecar init containers, raised per resource to what each init container
// needs while it runs (its request plus the sidecars started before it), then pod-level
// requests (cpu, memory, hugepages-*) override and spec.overhead is added. A container's
// unset request reads as its limit, as API defaulting makes it. Errors name the container
// and the malformed quantity.
Result<ResourceList> pod_resource_requests(const PodView& pod);

// Succeeded or Failed: the pod's containers will never run again.
bool pod_is_terminal(const PodView& pod);

// The condition of `type` in status.conditions, if present.
std::optional<ConditionView> pod_condition(const PodStatusView& status, std::string_view type);

}  // namespace kernlet::api
