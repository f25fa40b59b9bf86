#include "control/controllers/node_ipam_controller.h"

#include <cstdio>

#include "api/object.h"
#include "api/objects/node.h"

namespace kernlet::controllers {
namespace {

client::ResourceRef nodes_ref(std::string name = {}) {
  return client::ResourceRef("", "v1", "nodes", "", std::move(name));
}

std::vector<std::string> cidrs_of(const json::object& node) {
  api::NodeSpecView spec = api::NodeView(node).spec();
  std::vector<std::string> out;
  for (std::string_view c : spec.pod_cidrs()) out.emplace_back(c);
  if (out.empty() && !spec.pod_cidr().empty()) out.emplace_back(spec.pod_cidr());
  return out;
}

}  // namespace

NodeIpamController::NodeIpamController(SharedInformers& informers, CidrSet pool)
    : Controller("node-ipam-controller", 1),
      client_(informers.client()),
      nodes_(informers.get(nodes_ref())),
      pool_(std::move(pool)) {
  auto by_name = [this](const client::ObjectPtr& n) { enqueue(std::string(api::Meta(*n).name())); };
  nodes_.add_handler({.on_add = by_name,
                      .on_update = [by_name](const client::ObjectPtr&, const client::ObjectPtr& n) { by_name(n); },
                      .on_delete =
                          [this](const client::ObjectPtr& n, bool) {
                            std::lock_guard lock(mu_);
                            const std::string name(api::Meta(*n).name());
                            // Before priming, occupy_existing() will simply not see it.
                            for (const std::string& c : cidrs_of(*n)) pool_.release(c);
                            if (auto it = assigned_.find(name); it != assigned_.end()) {
                              pool_.release(it->second);
                              assigned_.erase(it);
                            }
                          },
                      .on_synced = nullptr});
}

void NodeIpamController::occupy_existing() {
  for (const auto& n : nodes_.cache().list()) {
    for (const std::string& c : cidrs_of(*n)) {
      if (auto r = pool_.occupy(c); !r.ok()) {
        std::fprintf(stderr, "warning node-ipam-controller: node %s: %s\n", std::string(api::Meta(*n).name()).c_str(),
                     r.error().to_string().c_str());
      }
    }
  }
  primed_ = true;
}

Result<void> NodeIpamController::reconcile(const std::string& key) {
  std::lock_guard lock(mu_);
  if (!primed_) occupy_existing();  // the caches are synced before workers run
  client::ObjectPtr node = nodes_.cache().get(key);
  if (!node) return Ok();
  std::vector<std::string> have = cidrs_of(*node);
  if (!have.empty()) {
    for (const std::string& c : have) (void)pool_.occupy(c);
    if (auto it = assigned_.find(key); it != assigned_.end()) {
      if (it->second != have.front()) pool_.release(it->second);  // someone else set it first
      assigned_.erase(it);
    }
    return Ok();
  }
  std::string cidr;
  if (auto it = assigned_.find(key); it != assigned_.end()) {
    cidr = it->second;  // patched before; the cache has not caught up (or the patch failed)
  } else {
    KL_ASSIGN_OR_RETURN(cidr, pool_.allocate_next());
    assigned_[key] = cidr;
  }
  json::object patch{{"metadata", json::object{{"uid", api::Meta(*node).uid()}}},
                     {"spec", json::object{{"podCIDR", cidr}, {"podCIDRs", json::array{json::value(cidr)}}}}};
  auto r = client_->patch(nodes_ref(key), client::PatchType::kMerge, json::value(std::move(patch)));
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kNotFound) {
      pool_.release(cidr);
      assigned_.erase(key);
      return Ok();
    }
    return std::move(r).error().context("set podCIDR " + cidr + " on node " + key);
  }
  std::fprintf(stderr, "node-ipam-controller: node %s: podCIDR %s\n", key.c_str(), cidr.c_str());
  return Ok();
}

}  // namespace kernlet::controllers
