// Fuzzes object decoding and the pod view: any input either decodes (and then every
// PodView/NodeView accessor and the QoS/requests computations run without crashing, and
// the object re-encodes to text that decodes to the same document) or yields an error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/object.h"
#include "api/objects/namespace.h"
#include "api/objects/node.h"
#include "api/objects/pod.h"
#include "api/time.h"

namespace {

using namespace kernlet::api;
namespace json = kernlet::json;

// Sums the sizes of what an accessor returns, so nothing is optimized away.
std::size_t sink = 0;
void use(std::string_view s) { sink += s.size(); }

void exercise_handler(const HandlerView& h) {
  use(h.kind_name());
  for (auto s : h.exec_command()) use(s);
  if (auto g = h.http_get()) {
    use(g->path());
    use(g->host());
    use(g->scheme());
    if (auto p = g->port()) use(p->str_value);
    for (auto& [k, v] : g->http_headers()) use(k), use(v);
  }
  if (auto p = h.tcp_socket_port()) use(p->str_value);
  use(h.tcp_socket_host());
  sink += static_cast<std::size_t>(h.grpc_port().value_or(0));
  use(h.grpc_service());
  sink += static_cast<std::size_t>(h.sleep_seconds().value_or(0));
}

void exercise_container(const ContainerView& c) {
  use(c.name());
  use(c.image());
  for (auto s : c.command()) use(s);
  for (auto s : c.args()) use(s);
  use(c.working_dir());
  for (const auto& p : c.ports()) {
    use(p.name());
    use(p.protocol());
    use(p.host_ip());
    sink += static_cast<std::size_t>(p.container_port() + p.host_port());
  }
  sink += c.find_port("http").has_value();
  for (const auto& e : c.env()) use(e.name()), use(e.value()), sink += e.value_from() != nullptr;
  sink += c.env_from() != nullptr;
  for (auto list : {c.resources().requests(), c.resources().limits()}) {
    (void)list.get("cpu");
    (void)list.to_list();
  }
  for (const auto& m : c.volume_mounts()) {
    use(m.name());
    use(m.mount_path());
    use(m.sub_path());
    sink += m.read_only();
  }
  for (auto probe : {c.liveness_probe(), c.readiness_probe(), c.startup_probe()}) {
    if (!probe) continue;
    exercise_handler(probe->handler());
    sink += static_cast<std::size_t>(probe->initial_delay_seconds() + probe->period_seconds() +
                                     probe->timeout_seconds() + probe->success_threshold() +
                                     probe->failure_threshold());
  }
  if (auto h = c.post_start()) exercise_handler(*h);
  if (auto h = c.pre_stop()) exercise_handler(*h);
  use(c.image_pull_policy());
  if (auto sc = c.security_context()) {
    sink += sc->privileged() + sc->run_as_user().value_or(0);
    for (auto s : sc->capabilities_add()) use(s);
  }
  sink += c.is_sidecar() + c.stdin_() + c.tty();
  use(c.termination_message_path());
}

void exercise_pod(const json::object& obj) {
  PodView pod(obj);
  Meta m = pod.meta();
  use(m.name());
  use(m.namespace_());
  sink += m.label("app").has_value() + m.owner_references().size() + m.finalizers().size();
  if (auto ref = m.controller_ref()) use(ref->uid);
  if (!m.creation_timestamp().empty()) (void)parse_rfc3339(m.creation_timestamp());

  PodSpecView spec = pod.spec();
  for (const auto& c : spec.containers()) exercise_container(c);
  for (const auto& c : spec.init_containers()) exercise_container(c);
  for (const auto& v : spec.volumes()) {
    use(v.name());
    use(v.source_kind());
    sink += v.source() != nullptr;
  }
  for (const auto& t : spec.tolerations()) {
    sink += t.tolerates("k", "v", "NoExecute") + t.toleration_seconds().value_or(0);
    use(t.operator_());
  }
  use(spec.restart_policy());
  use(spec.node_name());
  use(spec.scheduler_name());
  use(spec.dns_policy());
  sink += static_cast<std::size_t>(spec.termination_grace_period_seconds());
  sink += spec.host_network() + spec.priority().value_or(0);
  for (auto s : spec.image_pull_secrets()) use(s);

  PodStatusView st = pod.status();
  use(st.phase());
  for (const auto& c : st.conditions()) use(c.type()), use(c.status());
  for (auto ip : st.pod_ips()) use(ip);
  use(st.qos_class());
  sink += pod_is_terminal(pod) + pod_condition(st, "Ready").has_value();

  if (auto q = pod_qos_class(pod); q.ok()) use(qos_class_name(*q));
  if (auto r = pod_resource_requests(pod); r.ok()) {
    for (const auto& kv : *r) use(kv.second.to_string());
  }
}

void exercise_node(const json::object& obj) {
  NodeView node(obj);
  for (const auto& t : node.spec().taints()) use(t.key()), use(t.time_added());
  for (auto c : node.spec().pod_cidrs()) use(c);
  (void)node.status().allocatable().to_list();
  (void)node.status().capacity().get("memory");
  for (const auto& a : node.status().addresses()) use(a.address());
  sink += node_is_ready(node);
  NamespaceView ns(obj);
  use(ns.phase());
  for (auto f : ns.finalizers()) use(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto obj = decode_object(text);
  if (!obj.ok()) return 0;
  exercise_pod(*obj);
  exercise_node(*obj);

  // A decoded object re-encodes to text that decodes again, to the same shape.
  std::string again = encode_object(*obj);
  auto second = decode_object(again);
  if (!second.ok()) std::abort();

  // Metadata edits keep the object decodable.
  MutableMeta m(*obj);
  m.set_label("fuzz", "1");
  m.add_finalizer("fuzz");
  m.remove_finalizer("fuzz");
  m.set_owner_references(m.owner_references());
  if (!decode_object(encode_object(*obj)).ok()) std::abort();
  return 0;
}
