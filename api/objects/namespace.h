// NamespaceView: read-only typed view of a core/v1 Namespace (pattern: api/objects/pod.h).
#pragma once

#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"

namespace kernlet::api {

class NamespaceView {
 public:
  explicit NamespaceView(const json::object& ns) : ns_(&ns) {}
  Meta meta() const { return Meta(*ns_); }
  // status.phase: "Active" (Kubernetes' default) or "Terminating".
  std::string_view phase() const;
  bool terminating() const { return phase() == "Terminating"; }
  // spec.finalizers ("kubernetes"): what must finish before the namespace is removed.
  // Distinct from metadata.finalizers, which meta() reads.
  std::vector<std::string_view> finalizers() const;
  const json::object& raw() const { return *ns_; }

 private:
  const json::object* ns_;
};

}  // namespace kernlet::api
