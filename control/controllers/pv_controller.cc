#include "control/controllers/pv_controller.h"

#include <cstdio>

#include "api/event_name.h"
#include "api/object.h"
#include "api/objects/storage.h"
#include "api/time.h"

namespace kernlet::controllers {
namespace {

constexpr std::string_view kClaimPrefix = "claim:";
constexpr std::string_view kVolumePrefix = "volume:";

client::ResourceRef claims_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("", "v1", "persistentvolumeclaims", std::move(ns), std::move(name));
}
client::ResourceRef volumes_ref(std::string name = {}) {
  return client::ResourceRef("", "v1", "persistentvolumes", {}, std::move(name));
}

// A write that lost a race (the object changed or went away) is retried from the cache
// on the next sync; only other errors are errors.
bool benign(const Error& e) { return e.code() == ErrorCode::kNotFound; }

std::string claim_key_of_volume(const json::object& volume) {
  const json::object* ref = json::get_object(api::object_or_empty(volume, "spec"), "claimRef");
  if (ref == nullptr) return "";
  return std::string(json::get_string(*ref, "namespace")) + "/" + std::string(json::get_string(*ref, "name"));
}

}  // namespace

PersistentVolumeController::PersistentVolumeController(SharedInformers& informers, int workers)
    : Controller("persistentvolume-binder-controller", workers),
      client_(informers.client()),
      events_(informers.events("persistentvolume-controller")),
      claims_(informers.get(claims_ref())),
      volumes_(informers.get(volumes_ref())),
      classes_(informers.get(client::ResourceRef("storage.k8s.io", "v1", "storageclasses"))),
      pods_(informers.get(client::ResourceRef("", "v1", "pods"))),
      nodes_(informers.get(client::ResourceRef("", "v1", "nodes"))) {
  auto claim = [this](const client::ObjectPtr& c) {
    enqueue_claim(api::Meta(*c).namespace_(), api::Meta(*c).name());
  };
  claims_.add_handler({.on_add = claim,
                       .on_update = [claim](const client::ObjectPtr&, const client::ObjectPtr& c) { claim(c); },
                       .on_delete =
                           [this](const client::ObjectPtr& c, bool) {
                             const std::string key = client::object_key(*c);
                             forget_event(std::string(kClaimPrefix) + key);
                             // Its volume is released now.
                             const std::string_view v = json::get_string(api::object_or_empty(*c, "spec"), "volumeName");
                             if (!v.empty()) enqueue_volume(v);
                             for (const auto& vol : volumes_.cache().list()) {
                               if (claim_key_of_volume(*vol) == key) enqueue_volume(api::Meta(*vol).name());
                             }
                           },
                       .on_synced = nullptr});
  // A volume changing may let a waiting claim bind; its own claim syncs too.
  auto volume = [this](const client::ObjectPtr& v) {
    enqueue_volume(api::Meta(*v).name());
    const std::string ck = claim_key_of_volume(*v);
    if (!ck.empty()) enqueue(std::string(kClaimPrefix) + ck);
    enqueue_unbound_claims();
  };
  volumes_.add_handler({.on_add = volume,
                        .on_update = [volume](const client::ObjectPtr&, const client::ObjectPtr& v) { volume(v); },
                        .on_delete =
                            [this](const client::ObjectPtr& v, bool) {
                              forget_event(std::string(kVolumePrefix) + std::string(api::Meta(*v).name()));
                              const std::string ck = claim_key_of_volume(*v);
                              if (!ck.empty()) enqueue(std::string(kClaimPrefix) + ck);
                              const std::string_view name = api::Meta(*v).name();
                              for (const auto& c : claims_.cache().list()) {
                                if (json::get_string(api::object_or_empty(*c, "spec"), "volumeName") == name) {
                                  enqueue(std::string(kClaimPrefix) + client::object_key(*c));
                                }
                              }
                            },
                        .on_synced = nullptr});
  classes_.add_handler({.on_add = [this](const client::ObjectPtr&) { enqueue_unbound_claims(); },
                        .on_update = [this](const client::ObjectPtr&, const client::ObjectPtr&) { enqueue_unbound_claims(); },
                        .on_delete = nullptr,
                        .on_synced = nullptr});
  // A claim whose selected node was not in the cache yet binds once it is.
  nodes_.add_handler({.on_add =
                          [this](const client::ObjectPtr& n) {
                            for (const auto& c : claims_.cache().list()) {
                              if (api::Meta(*c).annotation(pv::kAnnSelectedNode) ==
                                      std::optional<std::string_view>(api::Meta(*n).name()) &&
                                  !api::Meta(*c).annotation(pv::kAnnBindCompleted)) {
                                enqueue(std::string(kClaimPrefix) + client::object_key(*c));
                              }
                            }
                          },
                      .on_update = nullptr,
                      .on_delete = nullptr,
                      .on_synced = nullptr});
  // Pods hold claims (pvc-protection): a pod finishing or going lets a deleted claim go.
  auto pod = [this](const client::ObjectPtr& p) {
    for (const std::string& c : pv::pod_claims(*p)) enqueue_claim(api::Meta(*p).namespace_(), c);
  };
  pods_.add_handler({.on_add = nullptr,
                     .on_update = [pod](const client::ObjectPtr&, const client::ObjectPtr& p) { pod(p); },
                     .on_delete = [pod](const client::ObjectPtr& p, bool) { pod(p); },
                     .on_synced = nullptr});
}

void PersistentVolumeController::enqueue_claim(std::string_view ns, std::string_view name) {
  enqueue(std::string(kClaimPrefix) + std::string(ns) + "/" + std::string(name));
}

void PersistentVolumeController::enqueue_volume(std::string_view name) {
  enqueue(std::string(kVolumePrefix) + std::string(name));
}

void PersistentVolumeController::enqueue_unbound_claims() {
  for (const auto& c : claims_.cache().list()) {
    if (!api::Meta(*c).annotation(pv::kAnnBindCompleted)) enqueue(std::string(kClaimPrefix) + client::object_key(*c));
  }
}

Result<void> PersistentVolumeController::reconcile(const std::string& key) {
  if (key.starts_with(kClaimPrefix)) return sync_claim(key.substr(kClaimPrefix.size()));
  if (key.starts_with(kVolumePrefix)) return sync_volume(key.substr(kVolumePrefix.size()));
  return Ok();
}

Result<void> PersistentVolumeController::sync_claim(const std::string& key) {
  client::ObjectPtr claim = claims_.cache().get(key);
  if (!claim) return Ok();
  api::Meta m(*claim);
  const std::string ns(m.namespace_());
  const std::string name(m.name());

  // Protection first: a deleted claim no pod uses goes now.
  std::vector<client::ObjectPtr> pods;
  if (m.being_deleted()) {
    KL_ASSIGN_OR_RETURN(pods, pods_.cache().by_index("namespace", ns));
  }
  std::vector<const json::object*> pod_objs;
  for (const auto& p : pods) pod_objs.push_back(p.get());
  const pv::FinalizerAction protection = pv::claim_protection(*claim, pod_objs);
  if (protection != pv::FinalizerAction::kNone) {
    auto r = client_->update(claims_ref(ns, name),
                             pv::with_finalizer(*claim, pv::kPvcProtectionFinalizer,
                                                protection == pv::FinalizerAction::kAdd));
    if (!r.ok() && !benign(r.error())) return r.error();
    return Ok();  // the update comes back through the informer and syncs the rest
  }

  pv::ClaimInputs in;
  in.claim = claim.get();
  const auto volumes = volumes_.cache().list();
  for (const auto& v : volumes) in.volumes.push_back(v.get());
  client::ObjectPtr cls;
  if (const std::string c = pv::claim_class(*claim); !c.empty()) cls = classes_.cache().get(c);
  in.storage_class = cls.get();
  client::ObjectPtr node;
  if (auto n = m.annotation(pv::kAnnSelectedNode)) node = nodes_.cache().get(*n);
  in.selected_node = node.get();
  const auto classes = classes_.cache().list();
  std::vector<const json::object*> class_objs;
  for (const auto& c : classes) class_objs.push_back(c.get());
  in.default_class = pv::default_storage_class(class_objs);

  const pv::ClaimDecision d = pv::decide_claim(in);
  if (d.event) event(*claim, "PersistentVolumeClaim", *d.event);
  using A = pv::ClaimDecision::Action;
  switch (d.action) {
    case A::kNone:
      return Ok();
    case A::kBind:
      return bind(*claim, *d.volume);
    case A::kAssignClass: {
      json::object next = *claim;
      json::ensure_object(next, "spec")["storageClassName"] = d.storage_class;
      auto r = client_->update(claims_ref(ns, name), next);
      if (!r.ok() && !benign(r.error())) return r.error();
      return Ok();
    }
    case A::kProvision: {
      auto r = client_->update(claims_ref(ns, name), pv::claim_with_provisioner(*claim, d.provisioner));
      if (!r.ok() && !benign(r.error())) return r.error();
      return Ok();
    }
    case A::kPending:
    case A::kLost:
    case A::kBound: {
      const std::string_view phase = d.action == A::kPending ? "Pending" : d.action == A::kLost ? "Lost" : "Bound";
      if (pv::claim_status_is(*claim, phase, nullptr)) return Ok();
      auto r = client_->update_status(claims_ref(ns, name), pv::claim_with_status(*claim, phase, nullptr));
      if (!r.ok() && !benign(r.error())) return r.error();
      return Ok();
    }
  }
  return Ok();
}

Result<void> PersistentVolumeController::bind(const json::object& claim, const json::object& volume) {
  const std::string vname(api::Meta(volume).name());
  api::Meta cm(claim);
  const std::string ns(cm.namespace_());
  const std::string cname(cm.name());
  // 1. The volume's claimRef, then its phase.
  json::object v = pv::bind_volume_to_claim(volume, claim);
  if (v != volume) {
    KL_ASSIGN_OR_RETURN(v, client_->update(volumes_ref(vname), v));
  }
  if (api::PersistentVolumeView(v).status().phase() != "Bound") {
    KL_ASSIGN_OR_RETURN(v, client_->update_status(volumes_ref(vname),
                                                  pv::volume_with_phase(v, "Bound", "", api::now_rfc3339())));
  }
  // 2. The claim's volumeName and annotations, then its status.
  json::object c = pv::bind_claim_to_volume(claim, v);
  if (c != claim) {
    KL_ASSIGN_OR_RETURN(c, client_->update(claims_ref(ns, cname), c));
  }
  if (!pv::claim_status_is(c, "Bound", &v)) {
    KL_TRY(client_->update_status(claims_ref(ns, cname), pv::claim_with_status(c, "Bound", &v)));
    forget_event(std::string(kClaimPrefix) + ns + "/" + cname);
  }
  return Ok();
}

Result<void> PersistentVolumeController::sync_volume(const std::string& name) {
  client::ObjectPtr volume = volumes_.cache().get(name);
  if (!volume) return Ok();
  const pv::FinalizerAction protection = pv::volume_protection(*volume);
  if (protection != pv::FinalizerAction::kNone) {
    auto r = client_->update(volumes_ref(name), pv::with_finalizer(*volume, pv::kPvProtectionFinalizer,
                                                                   protection == pv::FinalizerAction::kAdd));
    if (!r.ok() && !benign(r.error())) return r.error();
    return Ok();
  }
  client::ObjectPtr claim;
  if (const std::string ck = claim_key_of_volume(*volume); !ck.empty()) claim = claims_.cache().get(ck);
  // The claim cache may lag behind a claim just created; ask the server before declaring
  // a bound volume released, as upstream does.
  const json::object* ref = json::get_object(api::object_or_empty(*volume, "spec"), "claimRef");
  if (!claim && ref != nullptr && !json::get_string(*ref, "uid").empty()) {
    auto got = client_->get(claims_ref(std::string(json::get_string(*ref, "namespace")),
                                       std::string(json::get_string(*ref, "name"))));
    if (got.ok()) {
      claim = std::make_shared<const json::object>(std::move(*got));
    } else if (got.error().code() != ErrorCode::kNotFound) {
      return got.error();
    }
  }
  const pv::VolumeDecision d = pv::decide_volume({volume.get(), claim.get()});
  if (d.event) event(*volume, "PersistentVolume", *d.event);
  using A = pv::VolumeDecision::Action;
  switch (d.action) {
    case A::kNone:
      return Ok();
    case A::kEnqueueClaim:
      if (const std::string ck = claim_key_of_volume(*volume); !ck.empty()) enqueue(std::string(kClaimPrefix) + ck);
      return Ok();
    case A::kPhase: {
      auto r = client_->update_status(volumes_ref(name), pv::volume_with_phase(*volume, d.phase, d.message,
                                                                              api::now_rfc3339()));
      if (!r.ok() && !benign(r.error())) return r.error();
      return Ok();
    }
    case A::kUnbind: {
      json::object v = *volume;
      json::ensure_object(v, "spec").erase("claimRef");
      api::MutableMeta(v).remove_annotation(pv::kAnnBoundByController);
      auto r = client_->update(volumes_ref(name), v);
      if (!r.ok()) return benign(r.error()) ? Ok() : Result<void>(r.error());
      auto s = client_->update_status(volumes_ref(name), pv::volume_with_phase(*r, "Available", "", api::now_rfc3339()));
      if (!s.ok() && !benign(s.error())) return s.error();
      return Ok();
    }
  }
  return Ok();
}

void PersistentVolumeController::event(const json::object& obj, std::string_view kind, const pv::Event& e) {
  api::Meta m(obj);
  const bool namespaced = !m.namespace_().empty();
  const std::string key = (namespaced ? std::string(kClaimPrefix) + client::object_key(obj)
                                      : std::string(kVolumePrefix) + std::string(m.name()));
  {
    std::lock_guard lk(events_mu_);
    std::string said = e.reason + "\n" + e.message;
    auto [it, inserted] = last_event_.try_emplace(key, said);
    if (!inserted && it->second == said) return;  // said already: no Event storm on resyncs
    it->second = std::move(said);
  }
  events_->event(util::event_target(obj, "v1", kind), e.type, e.reason, e.message);
}

void PersistentVolumeController::forget_event(const std::string& key) {
  std::lock_guard lk(events_mu_);
  last_event_.erase(key);
}

}  // namespace kernlet::controllers
