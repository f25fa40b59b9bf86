#include "api/objects/namespace.h"

namespace kernlet::api {

std::string_view NamespaceView::phase() const {
  std::string_view p = json::get_string(object_or_empty(*ns_, "status"), "phase");
  return p.empty() ? "Active" : p;
}

std::vector<std::string_view> NamespaceView::finalizers() const {
  return get_string_array(object_or_empty(*ns_, "spec"), "finalizers");
}

}  // namespace kernlet::api
