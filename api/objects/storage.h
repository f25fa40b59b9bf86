// Views of the storage kinds: core/v1 PersistentVolume and PersistentVolumeClaim, and
// storage.k8s.io/v1 StorageClass (pattern: api/objects/pod.h), with the defaults the API
// server writes.
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/objects/common.h"
#include "api/quantity.h"
#include "api/result.h"

namespace kernlet::api {

// The annotation that marks a StorageClass as the cluster default (value "true").
inline constexpr std::string_view kIsDefaultStorageClassAnnotation =
    "storageclass.kubernetes.io/is-default-class";
// The annotation that named a claim's class before spec.storageClassName existed; when
// present it still wins over the field.
inline constexpr std::string_view kBetaStorageClassAnnotation =
    "volume.beta.kubernetes.io/storage-class";

// A CSI volume source of a PersistentVolume (spec.csi).
class CsiPersistentVolumeSourceView {
 public:
  explicit CsiPersistentVolumeSourceView(const json::object& c) : c_(&c) {}
  std::string_view driver() const;
  std::string_view volume_handle() const;
  bool read_only() const;
  std::string_view fs_type() const;  // "" lets the driver choose
  const json::object* volume_attributes() const;
  // SecretReferences ({name, namespace}); nullptr when unset.
  const json::object* controller_publish_secret_ref() const;
  const json::object* node_stage_secret_ref() const;
  const json::object* node_publish_secret_ref() const;
  const json::object* controller_expand_secret_ref() const;
  const json::object* node_expand_secret_ref() const;
  const json::object& raw() const { return *c_; }

 private:
  const json::object* c_;
};

// ---- PersistentVolume -------------------------------------------------------------------

class PersistentVolumeSpecView {
 public:
  explicit PersistentVolumeSpecView(const json::object& s) : s_(&s) {}
  ResourceListView capacity() const;
  Result<Quantity> storage_capacity() const;  // capacity[storage]; zero when unset
  // "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod".
  std::vector<std::string_view> access_modes() const;
  std::string_view reclaim_policy() const;  // "Retain" (default), "Delete", "Recycle"
  std::string_view storage_class_name() const;  // "" when the volume has no class
  std::vector<std::string_view> mount_options() const;
  std::string_view volume_mode() const;  // "Filesystem" (default) or "Block"
  // The claim this volume is bound (or reserved) to.
  std::optional<ObjectReferenceView> claim_ref() const;
  const json::object* node_affinity() const;
  std::optional<CsiPersistentVolumeSourceView> csi() const;
  const json::object* host_path() const;  // {path, type}; nullptr when not a hostPath PV
  const json::object* local() const;      // {path, fsType}; nullptr when not a local PV
  std::optional<std::string_view> volume_attributes_class_name() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class PersistentVolumeStatusView {
 public:
  explicit PersistentVolumeStatusView(const json::object& s) : s_(&s) {}
  // "Pending" (default), "Available", "Bound", "Released", "Failed".
  std::string_view phase() const;
  std::string_view reason() const;
  std::string_view message() const;
  std::string_view last_phase_transition_time() const;  // RFC 3339; "" when unset
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class PersistentVolumeView {
 public:
  explicit PersistentVolumeView(const json::object& pv) : pv_(&pv) {}
  Meta meta() const { return Meta(*pv_); }
  PersistentVolumeSpecView spec() const {
    return PersistentVolumeSpecView(object_or_empty(*pv_, "spec"));
  }
  PersistentVolumeStatusView status() const {
    return PersistentVolumeStatusView(object_or_empty(*pv_, "status"));
  }
  const json::object& raw() const { return *pv_; }

 private:
  const json::object* pv_;
};

// ---- PersistentVolumeClaim --------------------------------------------------------------

class PersistentVolumeClaimSpecView {
 public:
  explicit PersistentVolumeClaimSpecView(const json::object& s) : s_(&s) {}
  std::vector<std::string_view> access_modes() const;
  ResourceListView requests() const;  // resources.requests
  ResourceListView limits() const;    // resources.limits
  Result<Quantity> storage_request() const;  // resources.requests[storage]; zero when unset
  // nullopt: unset, the cluster's default class applies; "": explicitly no class (bind
  // only to class-less volumes).
  std::optional<std::string_view> storage_class_name() const;
  std::string_view volume_name() const;  // the bound volume; "" while unbound
  std::string_view volume_mode() const;  // "Filesystem" (default) or "Block"
  // The LabelSelector on volumes; nullptr when unset.
  const json::object* selector() const;
  const json::object* data_source() const;
  const json::object* data_source_ref() const;
  std::optional<std::string_view> volume_attributes_class_name() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class PersistentVolumeClaimStatusView {
 public:
  explicit PersistentVolumeClaimStatusView(const json::object& s) : s_(&s) {}
  std::string_view phase() const;  // "Pending" (default), "Bound", "Lost"
  std::vector<std::string_view> access_modes() const;
  ResourceListView capacity() const;  // of the bound volume
  std::vector<ConditionView> conditions() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class PersistentVolumeClaimView {
 public:
  explicit PersistentVolumeClaimView(const json::object& pvc) : pvc_(&pvc) {}
  Meta meta() const { return Meta(*pvc_); }
  PersistentVolumeClaimSpecView spec() const {
    return PersistentVolumeClaimSpecView(object_or_empty(*pvc_, "spec"));
  }
  PersistentVolumeClaimStatusView status() const {
    return PersistentVolumeClaimStatusView(object_or_empty(*pvc_, "status"));
  }
  const json::object& raw() const { return *pvc_; }

 private:
  const json::object* pvc_;
};

// The claim's class as Kubernetes resolves it: the beta annotation when present, else
// spec.storageClassName; nullopt when neither is set.
std::optional<std::string_view> pvc_storage_class(const PersistentVolumeClaimView& pvc);

// ---- StorageClass -----------------------------------------------------------------------

class StorageClassView {
 public:
  explicit StorageClassView(const json::object& sc) : sc_(&sc) {}
  Meta meta() const { return Meta(*sc_); }
  std::string_view provisioner() const;
  const json::object* parameters() const;  // string map; nullptr when unset
  std::optional<std::string_view> parameter(std::string_view key) const;
  std::string_view reclaim_policy() const;  // "Delete" (default) or "Retain"
  std::vector<std::string_view> mount_options() const;
  bool allow_volume_expansion() const;  // default false
  // "Immediate" (default) or "WaitForFirstConsumer".
  std::string_view volume_binding_mode() const;
  const json::array* allowed_topologies() const;
  // Whether the is-default-class annotation (or its beta form) is "true".
  bool is_default_class() const;
  const json::object& raw() const { return *sc_; }

 private:
  const json::object* sc_;
};

}  // namespace kernlet::api
