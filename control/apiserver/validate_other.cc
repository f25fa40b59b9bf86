// Validation of the remaining groups: coordination (Lease), discovery (EndpointSlice),
// storage (StorageClass, CSIDriver, CSINode, VolumeAttachment), autoscaling (HorizontalPodAutoscaler), events.
#include <set>

#include "api/object.h"
#include "control/apiserver/validate.h"

namespace kernlet::apiserver {
namespace validate_detail {
namespace {

void validate_lease(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  positive(out, spec, "leaseDurationSeconds", "spec.leaseDurationSeconds");
  nonnegative(out, spec, "leaseTransitions", "spec.leaseTransitions");
}

void validate_endpoint_slice(const json::object& obj, Causes& out) {
  one_of(out, obj, "addressType", "addressType", {"FQDN", "IPv4", "IPv6"}, true);
  auto endpoints = api::get_object_array(obj, "endpoints");
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    std::string ep = api::index_path("endpoints", i);
    auto addrs = api::get_string_array(*endpoints[i], "addresses");
    if (addrs.empty()) add(out, api::field_required(ep + ".addresses", "must contain at least 1 address"));
  }
  auto ports = api::get_object_array(obj, "ports");
  for (std::size_t i = 0; i < ports.size(); ++i) {
    std::string pp = api::index_path("ports", i);
    if (auto port = json::get_int(*ports[i], "port")) port_number(out, *port, pp + ".port");
    one_of(out, *ports[i], "protocol", pp + ".protocol", {"SCTP", "TCP", "UDP"}, false);
  }
}

void validate_storage_class(const json::object& obj, Causes& out) {
  std::string_view prov = json::get_string(obj, "provisioner");
  if (prov.empty()) {
    add(out, api::field_required("provisioner", ""));
  } else {
    for (auto& msg : api::is_qualified_name(prov))
      add(out, api::field_invalid("provisioner", json::value(prov), msg));
  }
  one_of(out, obj, "reclaimPolicy", "reclaimPolicy", {"Delete", "Retain"}, false);
  one_of(out, obj, "volumeBindingMode", "volumeBindingMode", {"Immediate", "WaitForFirstConsumer"}, true);
}

void validate_storage_class_update(const json::object& obj, const json::object& old, Causes& out) {
  auto differs = [&](std::string_view k) {
    const json::value* a = json::find(obj, k);
    const json::value* b = json::find(old, k);
    if (a == nullptr || b == nullptr) return (a == nullptr) != (b == nullptr);
    return *a != *b;
  };
  if (differs("parameters")) add(out, api::field_forbidden("parameters", "updates to parameters are forbidden."));
  if (differs("provisioner")) add(out, api::field_forbidden("provisioner", "updates to provisioner are forbidden."));
  if (differs("reclaimPolicy")) add(out, api::field_forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
  if (differs("volumeBindingMode"))
    add(out, api::field_invalid("volumeBindingMode", json::value(json::get_string(obj, "volumeBindingMode")),
                                "field is immutable"));
}

// A CSI driver name (the CSIDriver's metadata.name, CSINode's drivers[].name,
// VolumeAttachment's spec.attacher): at most 63 characters, a DNS-1123 subdomain.
void csi_driver_name(Causes& out, std::string_view name, const std::string& path) {
  if (name.empty()) {
    add(out, api::field_required(path, ""));
    return;
  }
  if (name.size() > 63) add(out, api::field_too_long(path, 63));
  for (auto& msg : api::is_dns1123_subdomain(name)) add(out, api::field_invalid(path, json::value(name), msg));
}

void validate_csi_driver(const json::object& obj, Causes& out) {
  // The metadata checks already require a DNS-1123 subdomain; a driver name is shorter.
  if (api::Meta(obj).name().size() > 63) add(out, api::field_too_long("metadata.name", 63));
  const json::object& spec = api::object_or_empty(obj, "spec");
  one_of(out, spec, "fsGroupPolicy", "spec.fsGroupPolicy", {"File", "None", "ReadWriteOnceWithFSType"}, false);
  auto modes = api::get_string_array(spec, "volumeLifecycleModes");
  for (std::size_t i = 0; i < modes.size(); ++i) {
    if (modes[i] != "Persistent" && modes[i] != "Ephemeral")
      add(out, api::field_not_supported(api::index_path("spec.volumeLifecycleModes", i), json::value(modes[i]),
                                        {"Ephemeral", "Persistent"}));
  }
}

void validate_csi_driver_update(const json::object& obj, const json::object& old, Causes& out) {
  const json::object& a = api::object_or_empty(obj, "spec");
  const json::object& b = api::object_or_empty(old, "spec");
  for (std::string_view k : {"attachRequired", "fsGroupPolicy", "volumeLifecycleModes", "storageCapacity"}) {
    const json::value* x = json::find(a, k);
    const json::value* y = json::find(b, k);
    const bool same = (x == nullptr && y == nullptr) || (x != nullptr && y != nullptr && *x == *y);
    if (!same) add(out, api::field_invalid("spec." + std::string(k), x != nullptr ? *x : json::value(nullptr),
                                           "field is immutable"));
  }
}

void validate_csi_node(const json::object& obj, Causes& out) {
  auto drivers = api::get_object_array(api::object_or_empty(obj, "spec"), "drivers");
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < drivers.size(); ++i) {
    const std::string at = api::index_path("spec.drivers", i);
    const std::string_view name = json::get_string(*drivers[i], "name");
    csi_driver_name(out, name, at + ".name");
    if (!name.empty() && !seen.insert(name).second) add_duplicate(out, at + ".name", json::value(name));
    const std::string_view node_id = json::get_string(*drivers[i], "nodeID");
    if (node_id.empty()) add(out, api::field_required(at + ".nodeID", ""));
    if (node_id.size() > 192) add(out, api::field_too_long(at + ".nodeID", 192));
    if (const json::object* alloc = json::get_object(*drivers[i], "allocatable")) {
      nonnegative(out, *alloc, "count", at + ".allocatable.count");
    }
  }
}

void validate_volume_attachment(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  csi_driver_name(out, json::get_string(spec, "attacher"), "spec.attacher");
  if (json::get_string(spec, "nodeName").empty()) add(out, api::field_required("spec.nodeName", ""));
  const json::object& source = api::object_or_empty(spec, "source");
  const bool pv = !json::get_string(source, "persistentVolumeName").empty();
  const bool inline_spec = json::get_object(source, "inlineVolumeSpec") != nullptr;
  if (!pv && !inline_spec) {
    add(out, api::field_required("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName"));
  } else if (pv && inline_spec) {
    add(out, api::field_forbidden("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName"));
  }
}

void validate_hpa(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  const json::object& ref = api::object_or_empty(spec, "scaleTargetRef");
  if (json::get_string(ref, "kind").empty()) add(out, api::field_required("spec.scaleTargetRef.kind", ""));
  if (json::get_string(ref, "name").empty()) add(out, api::field_required("spec.scaleTargetRef.name", ""));
  int64_t min_replicas = json::get_int_or(spec, "minReplicas", 1);
  if (min_replicas < 1)
    add(out, api::field_invalid("spec.minReplicas", min_replicas, "must be greater than or equal to 1"));
  auto max_replicas = json::get_int(spec, "maxReplicas");
  if (!max_replicas || *max_replicas < 1) {
    add(out, api::field_invalid("spec.maxReplicas", max_replicas.value_or(0), "must be greater than 0"));
  } else if (*max_replicas < min_replicas) {
    add(out, api::field_invalid("spec.maxReplicas", *max_replicas, "must be greater than or equal to `minReplicas`"));
  }
  auto metrics = api::get_object_array(spec, "metrics");
  for (std::size_t i = 0; i < metrics.size(); ++i)
    one_of(out, *metrics[i], "type", api::index_path("spec.metrics", i) + ".type",
           {"ContainerResource", "External", "Object", "Pods", "Resource"}, true);
}

}  // namespace

bool validate_other_create(const ResourceInfo& r, const json::object& obj, Causes& out) {
  if (r.kind == "Lease") validate_lease(obj, out);
  else if (r.kind == "EndpointSlice") validate_endpoint_slice(obj, out);
  else if (r.kind == "StorageClass") validate_storage_class(obj, out);
  else if (r.kind == "HorizontalPodAutoscaler") validate_hpa(obj, out);
  else if (r.kind == "CSIDriver") validate_csi_driver(obj, out);
  else if (r.kind == "CSINode") validate_csi_node(obj, out);
  else if (r.kind == "VolumeAttachment") validate_volume_attachment(obj, out);
  else return false;
  return true;
}

bool validate_other_update(const ResourceInfo& r, const json::object& obj, const json::object& old, Causes& out) {
  if (r.kind == "StorageClass") {
    validate_storage_class_update(obj, old, out);
  } else if (r.kind == "CSIDriver") {
    validate_csi_driver_update(obj, old, out);
  } else if (r.kind == "VolumeAttachment") {
    // The spec is immutable; the attacher writes only status.
    if (api::object_or_empty(obj, "spec") != api::object_or_empty(old, "spec"))
      add(out, api::field_invalid("spec", json::value(nullptr), "field is immutable"));
  } else if (r.kind == "EndpointSlice") {
    std::string_view t = json::get_string(obj, "addressType");
    if (t != json::get_string(old, "addressType"))
      add(out, api::field_invalid("addressType", json::value(t), "field is immutable"));
  } else {
    return false;
  }
  return true;
}

}  // namespace validate_detail
}  // namespace kernlet::apiserver
