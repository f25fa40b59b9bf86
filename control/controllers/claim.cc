#include "control/controllers/claim.h"

#include "api/object.h"

namespace kernlet::controllers {

Result<std::vector<client::ObjectPtr>> claim_pods(client::RestClient& client, const json::object& owner,
                                                  std::string_view api_version, std::string_view kind,
                                                  const api::Selector& selector,
                                                  const std::vector<client::ObjectPtr>& in_namespace) {
  api::Meta om(owner);
  const std::string ns(om.namespace_());
  std::vector<client::ObjectPtr> owned;
  for (const auto& pod : in_namespace) {
    api::Meta pm(*pod);
    const bool matches = !selector.empty() && selector.matches(pm.labels());
    auto ref = util::controller_of(*pod);
    const client::ResourceRef pod_ref("", "v1", "pods", ns, std::string(pm.name()));
    if (ref && ref->uid == om.uid()) {
      if (matches || om.being_deleted()) {
        owned.push_back(pod);
        continue;
      }
      json::array keep;
      for (const api::OwnerReference& o : pm.owner_references()) {
        if (o.uid != om.uid()) keep.push_back(o.to_json());
      }
      json::object patch{{"metadata", json::object{{"ownerReferences", std::move(keep)}, {"uid", pm.uid()}}}};
      auto r = client.patch(pod_ref, client::PatchType::kMerge, json::value(patch));
      if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("release pod");
      continue;
    }
    if (ref || !matches || om.being_deleted() || !util::pod_active(*pod)) continue;
    json::array refs;
    for (const api::OwnerReference& o : pm.owner_references()) refs.push_back(o.to_json());
    refs.push_back(util::controller_ref_json(owner, api_version, kind));
    json::object patch{{"metadata", json::object{{"ownerReferences", std::move(refs)}, {"uid", pm.uid()}}}};
    auto adopted = client.patch(pod_ref, client::PatchType::kMerge, json::value(patch));
    if (adopted.ok()) {
      owned.push_back(std::make_shared<const json::object>(std::move(*adopted)));
    } else if (adopted.error().code() != ErrorCode::kNotFound) {
      return std::move(adopted).error().context("adopt pod");
    }
  }
  return owned;
}

}  // namespace kernlet::controllers
