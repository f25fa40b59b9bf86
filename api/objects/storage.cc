#include "api/objects/storage.h"

namespace kernlet::api {

std::string_view CsiPersistentVolumeSourceView::driver() const {
  return json::get_string(*c_, "driver");
}
std::string_view CsiPersistentVolumeSourceView::volume_handle() const {
  return json::get_string(*c_, "volumeHandle");
}
bool CsiPersistentVolumeSourceView::read_only() const {
  return json::get_bool_or(*c_, "readOnly", false);
}
std::string_view CsiPersistentVolumeSourceView::fs_type() const {
  return json::get_string(*c_, "fsType");
}
const json::object* CsiPersistentVolumeSourceView::volume_attributes() const {
  return json::get_object(*c_, "volumeAttributes");
}
const json::object* CsiPersistentVolumeSourceView::controller_publish_secret_ref() const {
  return json::get_object(*c_, "controllerPublishSecretRef");
}
const json::object* CsiPersistentVolumeSourceView::node_stage_secret_ref() const {
  return json::get_object(*c_, "nodeStageSecretRef");
}
const json::object* CsiPersistentVolumeSourceView::node_publish_secret_ref() const {
  return json::get_object(*c_, "nodePublishSecretRef");
}
const json::object* CsiPersistentVolumeSourceView::controller_expand_secret_ref() const {
  return json::get_object(*c_, "controllerExpandSecretRef");
}
const json::object* CsiPersistentVolumeSourceView::node_expand_secret_ref() const {
  return json::get_object(*c_, "nodeExpandSecretRef");
}

ResourceListView PersistentVolumeSpecView::capacity() const {
  return ResourceListView(json::get_object(*s_, "capacity"), "spec.capacity");
}
Result<Quantity> PersistentVolumeSpecView::storage_capacity() const {
  return capacity().get("storage");
}
std::vector<std::string_view> PersistentVolumeSpecView::access_modes() const {
  return get_string_array(*s_, "accessModes");
}
std::string_view PersistentVolumeSpecView::reclaim_policy() const {
  return string_or_default(*s_, "persistentVolumeReclaimPolicy", "Retain");
}
std::string_view PersistentVolumeSpecView::storage_class_name() const {
  return json::get_string(*s_, "storageClassName");
}
std::vector<std::string_view> PersistentVolumeSpecView::mount_options() const {
  return get_string_array(*s_, "mountOptions");
}
std::string_view PersistentVolumeSpecView::volume_mode() const {
  return string_or_default(*s_, "volumeMode", "Filesystem");
}
std::optional<ObjectReferenceView> PersistentVolumeSpecView::claim_ref() const {
  return optional_object_view<ObjectReferenceView>(*s_, "claimRef");
}
const json::object* PersistentVolumeSpecView::node_affinity() const {
  return json::get_object(*s_, "nodeAffinity");
}
std::optional<CsiPersistentVolumeSourceView> PersistentVolumeSpecView::csi() const {
  return optional_object_view<CsiPersistentVolumeSourceView>(*s_, "csi");
}
const json::object* PersistentVolumeSpecView::host_path() const {
  return json::get_object(*s_, "hostPath");
}
const json::object* PersistentVolumeSpecView::local() const {
  return json::get_object(*s_, "local");
}
std::optional<std::string_view> PersistentVolumeSpecView::volume_attributes_class_name() const {
  return get_optional_string(*s_, "volumeAttributesClassName");
}

std::string_view PersistentVolumeStatusView::phase() const {
  return string_or_default(*s_, "phase", "Pending");
}
std::string_view PersistentVolumeStatusView::reason() const {
  return json::get_string(*s_, "reason");
}
std::string_view PersistentVolumeStatusView::message() const {
  return json::get_string(*s_, "message");
}
std::string_view PersistentVolumeStatusView::last_phase_transition_time() const {
  return json::get_string(*s_, "lastPhaseTransitionTime");
}

std::vector<std::string_view> PersistentVolumeClaimSpecView::access_modes() const {
  return get_string_array(*s_, "accessModes");
}
ResourceListView PersistentVolumeClaimSpecView::requests() const {
  return ResourceListView(json::get_object(object_or_empty(*s_, "resources"), "requests"),
                          "spec.resources.requests");
}
ResourceListView PersistentVolumeClaimSpecView::limits() const {
  return ResourceListView(json::get_object(object_or_empty(*s_, "resources"), "limits"),
                          "spec.resources.limits");
}
Result<Quantity> PersistentVolumeClaimSpecView::storage_request() const {
  return requests().get("storage");
}
std::optional<std::string_view> PersistentVolumeClaimSpecView::storage_class_name() const {
  return get_optional_string(*s_, "storageClassName");
}
std::string_view PersistentVolumeClaimSpecView::volume_name() const {
  return json::get_string(*s_, "volumeName");
}
std::string_view PersistentVolumeClaimSpecView::volume_mode() const {
  return string_or_default(*s_, "volumeMode", "Filesystem");
}
const json::object* PersistentVolumeClaimSpecView::selector() const {
  return json::get_object(*s_, "selector");
}
const json::object* PersistentVolumeClaimSpecView::data_source() const {
  return json::get_object(*s_, "dataSource");
}
const json::object* PersistentVolumeClaimSpecView::data_source_ref() const {
  return json::get_object(*s_, "dataSourceRef");
}
std::optional<std::string_view> PersistentVolumeClaimSpecView::volume_attributes_class_name()
    const {
  return get_optional_string(*s_, "volumeAttributesClassName");
}

std::string_view PersistentVolumeClaimStatusView::phase() const {
  return string_or_default(*s_, "phase", "Pending");
}
std::vector<std::string_view> PersistentVolumeClaimStatusView::access_modes() const {
  return get_string_array(*s_, "accessModes");
}
ResourceListView PersistentVolumeClaimStatusView::capacity() const {
  return ResourceListView(json::get_object(*s_, "capacity"), "status.capacity");
}
std::vector<ConditionView> PersistentVolumeClaimStatusView::conditions() const {
  return get_conditions(*s_);
}

std::optional<std::string_view> pvc_storage_class(const PersistentVolumeClaimView& pvc) {
  if (auto a = pvc.meta().annotation(kBetaStorageClassAnnotation)) return a;
  return pvc.spec().storage_class_name();
}

std::string_view StorageClassView::provisioner() const {
  return json::get_string(*sc_, "provisioner");
}
const json::object* StorageClassView::parameters() const {
  return json::get_object(*sc_, "parameters");
}
std::optional<std::string_view> StorageClassView::parameter(std::string_view key) const {
  return map_value(parameters(), key);
}
std::string_view StorageClassView::reclaim_policy() const {
  return string_or_default(*sc_, "reclaimPolicy", "Delete");
}
std::vector<std::string_view> StorageClassView::mount_options() const {
  return get_string_array(*sc_, "mountOptions");
}
bool StorageClassView::allow_volume_expansion() const {
  return json::get_bool_or(*sc_, "allowVolumeExpansion", false);
}
std::string_view StorageClassView::volume_binding_mode() const {
  return string_or_default(*sc_, "volumeBindingMode", "Immediate");
}
const json::array* StorageClassView::allowed_topologies() const {
  return json::get_array(*sc_, "allowedTopologies");
}
bool StorageClassView::is_default_class() const {
  const Meta m = meta();
  return m.annotation(kIsDefaultStorageClassAnnotation) == "true" ||
         m.annotation("storageclass.beta.kubernetes.io/is-default-class") == "true";
}

}  // namespace kernlet::api
