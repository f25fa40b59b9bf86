#include "control/apiserver/strategy.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "api/object.h"
#include "api/objects/pod.h"

namespace kernlet::apiserver {
namespace {

const json::value* member(const json::object& o, std::string_view key) { return json::find(o, key); }

// Sets obj[key] to old[key], or removes it when old has none.
void copy_member(json::object& obj, const json::object& old, std::string_view key) {
  if (const json::value* v = member(old, key)) {
    obj[key] = *v;
  } else {
    obj.erase(key);
  }
}

bool has_status_subresource(const ResourceInfo& r) { return r.subresource("status") != nullptr; }

std::string base64_encode(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < in.size()) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// stringData is write-only: the v1 conversion folds it into data, its values winning.
void fold_string_data(json::object& secret) {
  const json::object* sd = json::get_object(secret, "stringData");
  if (sd != nullptr && !sd->empty()) {
    json::object& data = json::ensure_object(secret, "data");
    for (const auto& kv : *sd)
      if (kv.value().is_string()) data[kv.key()] = base64_encode(kv.value().get_string());
  }
  secret.erase("stringData");
}

void set_label_if_absent(json::object& labels, std::string_view key, std::string_view value) {
  if (!labels.contains(key)) labels[key] = value;
}

// The Job strategy's generated selector: pods are matched by the Job's uid, which no
// other controller's pods carry, and labelled with the Job's name for humans.
void generate_job_selector(json::object& job) {
  json::object& spec = json::ensure_object(job, "spec");
  if (json::get_bool_or(spec, "manualSelector", false)) return;
  api::Meta meta(job);
  std::string uid(meta.uid());
  std::string name(meta.name());
  json::object& tmeta = json::ensure_object(json::ensure_object(spec, "template"), "metadata");
  json::object& labels = json::ensure_object(tmeta, "labels");
  set_label_if_absent(labels, "controller-uid", uid);
  set_label_if_absent(labels, "batch.kubernetes.io/controller-uid", uid);
  set_label_if_absent(labels, "job-name", name);
  set_label_if_absent(labels, "batch.kubernetes.io/job-name", name);
  json::object& selector = json::ensure_object(spec, "selector");
  json::object& match = json::ensure_object(selector, "matchLabels");
  set_label_if_absent(match, "batch.kubernetes.io/controller-uid", uid);
  // Kubernetes re-applies defaults when it reads the Job back, so a Job created without
  // labels of its own shows its (now generated) template labels.
  json::object& m = json::ensure_object(job, "metadata");
  const json::object* ml = json::get_object(m, "labels");
  if (ml == nullptr || ml->empty()) m["labels"] = labels;
}

json::object pod_create_status(const json::object& pod) {
  json::object status{{"phase", "Pending"}};
  auto qos = api::pod_qos_class(api::PodView(pod));
  if (qos.ok()) status["qosClass"] = api::qos_class_name(*qos);
  return status;
}

void ensure_namespace_finalizer(json::object& ns) {
  json::array& fin = json::ensure_array(json::ensure_object(ns, "spec"), "finalizers");
  for (const auto& f : fin)
    if (f.is_string() && f.get_string() == "kubernetes") return;
  fin.push_back("kubernetes");
}

// metav1.ResetObjectMetaForStatus: a /status write may not touch these.
void reset_meta_for_status(json::object& obj, const json::object& old) {
  const json::object& old_meta = api::object_or_empty(old, "metadata");
  json::object& meta = json::ensure_object(obj, "metadata");
  for (std::string_view k : {"deletionTimestamp", "generation", "selfLink", "labels", "annotations", "finalizers",
                             "ownerReferences"})
    copy_member(meta, old_meta, k);
}

bool spec_changed(const json::object& obj, const json::object& old) {
  const json::value* a = member(obj, "spec");
  const json::value* b = member(old, "spec");
  if (a == nullptr || b == nullptr) return (a == nullptr) != (b == nullptr);
  return *a != *b;
}

bool annotations_changed(const json::object& obj, const json::object& old) {
  const json::object* a = api::Meta(obj).annotations();
  const json::object* b = api::Meta(old).annotations();
  bool a_empty = a == nullptr || a->empty();
  bool b_empty = b == nullptr || b->empty();
  if (a_empty || b_empty) return a_empty != b_empty;
  return *a != *b;
}

// Service: a write that leaves the allocated cluster IP out keeps it, as the registry's
// patchAllocatedValues does for `kubectl apply` of a manifest without clusterIP.
void keep_allocated_cluster_ip(json::object& obj, const json::object& old) {
  json::object* spec = json::get_object(obj, "spec");
  const json::object* old_spec = json::get_object(old, "spec");
  if (spec == nullptr || old_spec == nullptr) return;
  if (json::get_string(*spec, "type") == "ExternalName" || json::get_string(*old_spec, "type") == "ExternalName") return;
  if (!json::get_string(*spec, "clusterIP").empty()) return;
  if (json::get_string(*old_spec, "clusterIP").empty()) return;
  for (std::string_view k : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"})
    if (const json::value* v = member(*old_spec, k)) (*spec)[k] = *v;
}

bool needs_node_ports(const json::object& spec) {
  const std::string_view t = json::get_string(spec, "type");
  return t == "NodePort" || t == "LoadBalancer";
}

bool needs_cluster_ip(const json::object& spec) { return json::get_string(spec, "type") != "ExternalName"; }

// The nodePorts of a Service's ports in order; 0 where unset.
std::vector<int64_t> node_ports(const json::object& spec) {
  std::vector<int64_t> out;
  if (const json::array* ports = json::get_array(spec, "ports")) {
    for (const json::value& p : *ports) out.push_back(p.is_object() ? json::get_int_or(p.as_object(), "nodePort", 0) : 0);
  }
  return out;
}

// Service: fields that the new type no longer uses are cleared when the user left them as
// they were (they were allocated, not asked for), as the registry's dropTypeDependentFields
// does: NodePort → ClusterIP frees the node ports, ClusterIP → ExternalName the cluster IP.
void drop_type_dependent_fields(json::object& obj, const json::object& old) {
  json::object* spec = json::get_object(obj, "spec");
  const json::object* old_spec = json::get_object(old, "spec");
  if (spec == nullptr || old_spec == nullptr) return;
  if (needs_node_ports(*old_spec) && !needs_node_ports(*spec) && node_ports(*spec) == node_ports(*old_spec)) {
    if (json::array* ports = json::get_array(*spec, "ports")) {
      for (json::value& p : *ports) {
        if (p.is_object()) p.as_object().erase("nodePort");
      }
    }
  }
  if (needs_node_ports(*old_spec) && !needs_node_ports(*spec) &&
      json::get_int_or(*spec, "healthCheckNodePort", 0) == json::get_int_or(*old_spec, "healthCheckNodePort", 0)) {
    spec->erase("healthCheckNodePort");
  }
  if (json::get_string(*spec, "type") != "LoadBalancer" && json::get_string(*old_spec, "type") == "LoadBalancer") {
    const json::value* a = member(*spec, "allocateLoadBalancerNodePorts");
    const json::value* b = member(*old_spec, "allocateLoadBalancerNodePorts");
    if (a != nullptr && b != nullptr && *a == *b) spec->erase("allocateLoadBalancerNodePorts");
  }
  if (needs_cluster_ip(*old_spec) && !needs_cluster_ip(*spec)) {
    auto same = [&](std::string_view k) {
      const json::value* a = member(*spec, k);
      const json::value* b = member(*old_spec, k);
      return (a == nullptr && b == nullptr) || (a != nullptr && b != nullptr && *a == *b);
    };
    if (same("clusterIP") && same("clusterIPs")) {
      spec->erase("clusterIP");
      spec->erase("clusterIPs");
    }
    if (same("ipFamilies")) spec->erase("ipFamilies");
    if (same("ipFamilyPolicy")) spec->erase("ipFamilyPolicy");
  }
}

void add_finalizer(json::object& obj, std::string_view finalizer) {
  json::array& list = json::ensure_array(json::ensure_object(obj, "metadata"), "finalizers");
  for (const json::value& f : list)
    if (f.is_string() && f.get_string() == finalizer) return;
  list.emplace_back(finalizer);
}

}  // namespace

bool tracks_generation(const ResourceInfo& r) {
  static constexpr std::array<std::string_view, 6> kKinds = {"Deployment", "ReplicaSet", "DaemonSet",
                                                             "Job",        "CronJob",    "Pod"};
  for (auto k : kKinds)
    if (r.kind == k) return true;
  return false;
}

void prepare_for_create(const ResourceInfo& r, json::object& obj) {
  const std::string& k = r.kind;
  if (tracks_generation(r)) api::MutableMeta(obj).set_generation(1);
  if (k == "Pod") {
    obj["status"] = pod_create_status(obj);
  } else if (k == "Service") {
    obj["status"] = json::object{{"loadBalancer", json::object{}}};
  } else if (k == "Deployment" || k == "ReplicaSet" || k == "DaemonSet" || k == "CronJob" ||
             k == "HorizontalPodAutoscaler") {
    obj["status"] = json::object{};
  } else if (k == "Job") {
    obj["status"] = json::object{};
    generate_job_selector(obj);
  } else if (k == "Namespace") {
    obj["status"] = json::object{{"phase", "Active"}};
    ensure_namespace_finalizer(obj);
  } else if (k == "PersistentVolumeClaim" || k == "PersistentVolume") {
    obj["status"] = json::object{{"phase", "Pending"}};
    // The StorageObjectInUseProtection admission plugin: the finalizer is there before
    // anyone can delete the object, so that a claim in use (a volume bound) is never
    // removed under its pods; the PV controller lifts it once the object is unused.
    add_finalizer(obj, k == "PersistentVolumeClaim" ? "kubernetes.io/pvc-protection" : "kubernetes.io/pv-protection");
  } else if (k == "VolumeAttachment") {
    obj["status"] = json::object{{"attached", false}};  // only the attacher sets it, through /status
  } else if (k == "Secret") {
    fold_string_data(obj);
  }
}

void prepare_for_update(const ResourceInfo& r, json::object& obj, const json::object& old,
                        std::string_view subresource) {
  const std::string& k = r.kind;
  // BeforeUpdate: clients never set generation themselves.
  copy_member(json::ensure_object(obj, "metadata"), api::object_or_empty(old, "metadata"), "generation");
  if (api::Meta(obj).generation() == 0) json::ensure_object(obj, "metadata").erase("generation");

  if (subresource == "status") {
    copy_member(obj, old, "spec");
    if (k == "Pod") {
      // The pod status strategy keeps owner references (old kubelets corrupted them)
      // and the deletion timestamp, but lets labels and annotations through.
      json::object& meta = json::ensure_object(obj, "metadata");
      const json::object& old_meta = api::object_or_empty(old, "metadata");
      copy_member(meta, old_meta, "ownerReferences");
      copy_member(meta, old_meta, "deletionTimestamp");
    } else if (k == "Deployment") {
      // The Deployment status strategy keeps spec and labels only: the deployment
      // controller writes the revision annotation through /status, so that it does not
      // bump the generation as an annotation change on the main resource would.
      const json::value* sent = member(api::object_or_empty(obj, "metadata"), "annotations");
      std::optional<json::value> annotations;
      if (sent != nullptr) annotations = *sent;
      reset_meta_for_status(obj, old);
      json::object& meta = json::ensure_object(obj, "metadata");
      if (annotations) {
        meta["annotations"] = std::move(*annotations);
      } else {
        meta.erase("annotations");
      }
    } else {
      reset_meta_for_status(obj, old);
    }
    return;
  }
  if (subresource == "finalize" && k == "Namespace") {
    copy_member(obj, old, "status");
    return;
  }
  if (!subresource.empty()) return;

  if (has_status_subresource(r)) copy_member(obj, old, "status");
  if (k == "Namespace") {
    json::object& spec = json::ensure_object(obj, "spec");
    if (const json::object* old_spec = json::get_object(old, "spec")) {
      copy_member(spec, *old_spec, "finalizers");
    } else {
      spec.erase("finalizers");
    }
    if (spec.empty() && member(old, "spec") == nullptr) obj.erase("spec");
  } else if (k == "Secret") {
    fold_string_data(obj);
  } else if (k == "Service") {
    keep_allocated_cluster_ip(obj, old);
    drop_type_dependent_fields(obj, old);
  }
  if (tracks_generation(r)) {
    bool bump = spec_changed(obj, old) || (k == "Deployment" && annotations_changed(obj, old));
    if (bump) api::MutableMeta(obj).set_generation(api::Meta(old).generation() + 1);
  }
}

}  // namespace kernlet::apiserver
