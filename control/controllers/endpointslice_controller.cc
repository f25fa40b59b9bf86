#include "control/controllers/endpointslice_controller.h"

#include <set>

#include "api/object.h"
#include "control/controllers/controller_events.h"
#include "control/controllers/endpoints.h"

namespace kernlet::controllers {
namespace {

client::ResourceRef slices_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("discovery.k8s.io", "v1", "endpointslices", std::move(ns), std::move(name));
}
client::ResourceRef endpoints_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("", "v1", "endpoints", std::move(ns), std::move(name));
}

// The parts of a slice this controller owns; equal parts mean no write.
bool same_slice(const json::object& have, const json::object& want) {
  for (std::string_view k : {"addressType", "endpoints", "ports"}) {
    const json::value* a = json::find(have, k);
    const json::value* b = json::find(want, k);
    const bool a_empty = a == nullptr || a->is_null() || (a->is_array() && a->as_array().empty());
    const bool b_empty = b == nullptr || b->is_null() || (b->is_array() && b->as_array().empty());
    if (a_empty != b_empty || (!a_empty && *a != *b)) return false;
  }
  const json::object* hl = api::Meta(have).labels();
  const json::object* wl = api::Meta(want).labels();
  if (wl != nullptr) {
    for (const auto& [k, v] : *wl) {
      const json::value* x = hl != nullptr ? json::find(*hl, k) : nullptr;
      if (x == nullptr || *x != v) return false;
    }
  }
  return true;
}

}  // namespace

EndpointSliceController::EndpointSliceController(SharedInformers& informers, int workers)
    : Controller("endpointslice-controller", workers),
      client_(informers.client()),
      events_(informers.events("endpoint-slice-controller")),
      services_(informers.get(client::ResourceRef("", "v1", "services"))),
      pods_(informers.get(client::ResourceRef("", "v1", "pods"))),
      slices_(informers.get(slices_ref())),
      endpoints_(informers.get(endpoints_ref())) {
  auto svc = [this](const client::ObjectPtr& s) { enqueue(client::object_key(*s)); };
  services_.add_handler({.on_add = svc,
                         .on_update = [svc](const client::ObjectPtr&, const client::ObjectPtr& n) { svc(n); },
                         .on_delete = nullptr,
                         .on_synced = nullptr});
  pods_.add_handler({.on_add = [this](const client::ObjectPtr& p) { enqueue_services_selecting(*p); },
                     .on_update =
                         [this](const client::ObjectPtr& o, const client::ObjectPtr& n) {
                           enqueue_services_selecting(*o);
                           enqueue_services_selecting(*n);
                         },
                     .on_delete = [this](const client::ObjectPtr& p, bool) { enqueue_services_selecting(*p); },
                     .on_synced = nullptr});
  // Someone else changing our slices: put them back.
  slices_.add_handler({.on_add = nullptr,
                       .on_update =
                           [this](const client::ObjectPtr&, const client::ObjectPtr& s) {
                             if (auto n = api::Meta(*s).label("kubernetes.io/service-name")) {
                               enqueue(std::string(api::Meta(*s).namespace_()) + "/" + std::string(*n));
                             }
                           },
                       .on_delete =
                           [this](const client::ObjectPtr& s, bool) {
                             if (auto n = api::Meta(*s).label("kubernetes.io/service-name")) {
                               enqueue(std::string(api::Meta(*s).namespace_()) + "/" + std::string(*n));
                             }
                           },
                       .on_synced = nullptr});
}

void EndpointSliceController::enqueue_services_selecting(const json::object& pod) {
  auto svcs = services_.cache().by_index("namespace", api::Meta(pod).namespace_());
  if (!svcs.ok()) return;
  for (const auto& s : *svcs) {
    if (endpoints::selects(*s, pod)) enqueue(client::object_key(*s));
  }
}

Result<void> EndpointSliceController::reconcile(const std::string& key) {
  client::ObjectPtr svc = services_.cache().get(key);
  if (!svc || api::Meta(*svc).being_deleted()) return Ok();  // the garbage collector takes the slices
  auto r = sync_service(*svc);
  if (!r.ok()) {
    api::Meta m(*svc);
    events_->event(util::event_target(*svc, "v1", "Service"), events::kWarning, events::kFailedToUpdateEndpointSlices,
                   events::failed_endpoint_slices(m.namespace_(), m.name(), r.error().message()));
  }
  return r;
}

Result<void> EndpointSliceController::sync_service(const json::object& service) {
  const json::object* svc = &service;
  const json::object* sel = json::get_object(api::object_or_empty(*svc, "spec"), "selector");
  if (sel == nullptr || sel->empty()) return Ok();  // endpoints managed by hand
  const std::string ns(api::Meta(*svc).namespace_());
  const std::string name(api::Meta(*svc).name());
  KL_ASSIGN_OR_RETURN(auto pods, pods_.cache().by_index("namespace", ns));
  endpoints::Inputs in;
  in.service = svc;
  for (const auto& p : pods) in.pods.push_back(p.get());
  const std::vector<json::object> desired = endpoints::desired_endpoint_slices(in);

  KL_ASSIGN_OR_RETURN(auto existing, slices_.cache().by_index("namespace", ns));
  std::set<std::string> wanted;
  for (const json::object& want : desired) {
    const std::string slice_name(api::Meta(want).name());
    wanted.insert(slice_name);
    client::ObjectPtr have = slices_.cache().get(ns + "/" + slice_name);
    if (!have) {
      auto r = client_->create(slices_ref(ns), want);
      if (!r.ok() && r.error().code() != ErrorCode::kAlreadyExists) return r.error();
    } else if (!same_slice(*have, want)) {
      json::object next = *have;
      for (std::string_view k : {"addressType", "endpoints", "ports"}) {
        if (const json::value* v = json::find(want, k)) next[k] = *v;
      }
      json::object& labels = json::ensure_object(json::ensure_object(next, "metadata"), "labels");
      for (const auto& [k, v] : *api::Meta(want).labels()) labels[k] = v;
      auto r = client_->update(slices_ref(ns, slice_name), next);
      if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r.error();
    }
  }
  for (const auto& s : existing) {
    api::Meta m(*s);
    if (m.label("kubernetes.io/service-name") != std::optional<std::string_view>(name)) continue;
    if (m.label("endpointslice.kubernetes.io/managed-by") != std::optional<std::string_view>(endpoints::kManagedBy)) continue;
    if (wanted.contains(std::string(m.name()))) continue;
    client::DeleteOptions opts;
    opts.precondition_uid = std::string(m.uid());
    auto r = client_->remove(slices_ref(ns, std::string(m.name())), opts);
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r.error();
  }
  return sync_endpoints(endpoints::desired_endpoints(in));
}

Result<void> EndpointSliceController::sync_endpoints(const json::object& desired) {
  const std::string ns(api::Meta(desired).namespace_());
  const std::string name(api::Meta(desired).name());
  client::ObjectPtr have = endpoints_.cache().get(ns + "/" + name);
  if (!have) {
    auto r = client_->create(endpoints_ref(ns), desired);
    if (!r.ok() && r.error().code() != ErrorCode::kAlreadyExists) return r.error();
    return Ok();
  }
  const json::value* a = json::find(*have, "subsets");
  const json::value* b = json::find(desired, "subsets");
  const bool a_empty = a == nullptr || a->is_null() || (a->is_array() && a->as_array().empty());
  const bool b_empty = b == nullptr;
  if (a_empty == b_empty && (a_empty || *a == *b)) return Ok();
  json::object next = *have;
  if (b_empty) {
    next.erase("subsets");
  } else {
    next["subsets"] = *b;
  }
  auto r = client_->update(endpoints_ref(ns, name), next);
  if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r.error();
  return Ok();
}

}  // namespace kernlet::controllers
