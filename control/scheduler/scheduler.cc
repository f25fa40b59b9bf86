#include "control/scheduler/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "api/event_name.h"
#include "api/object.h"
#include "api/objects/pod.h"
#include "api/time.h"
#include "control/controllers/pv_binder.h"
#include "control/scheduler/volume_binding.h"

namespace kernlet::scheduler {
namespace {

using client::ObjectPtr;

client::ResourceRef pods_ref(std::string ns = {}, std::string name = {}, std::string sub = {}) {
  return client::ResourceRef("", "v1", "pods", std::move(ns), std::move(name), std::move(sub));
}

json::object pod_event(const json::object& pod, std::string_view type, std::string_view reason, std::string_view message,
                       std::string_view component) {
  api::Meta m(pod);
  const std::string now = api::now_rfc3339();
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", json::object{{"name", api::event_name(m.name())}, {"namespace", m.namespace_()}}},
          {"involvedObject", json::object{{"apiVersion", "v1"},
                                          {"kind", "Pod"},
                                          {"name", m.name()},
                                          {"namespace", m.namespace_()},
                                          {"uid", m.uid()},
                                          {"resourceVersion", m.resource_version()}}},
          {"reason", reason},
          {"message", message},
          {"type", type},
          {"source", json::object{{"component", component}}},
          {"firstTimestamp", now},
          {"lastTimestamp", now},
          {"count", 1},
          {"reportingComponent", component},
          {"reportingInstance", "kernlet-control"}};
}

}  // namespace

Scheduler::Scheduler(std::shared_ptr<client::RestClient> client, SchedulerConfig config)
    : client_(std::move(client)),
      config_(std::move(config)),
      queue_(nullptr, std::make_unique<client::ItemExponentialRateLimiter>(std::chrono::seconds(1),
                                                                           std::chrono::seconds(10))),
      algorithm_(std::make_unique<GenericScheduler>(SchedulerOptions{.parallelism = config_.parallelism})) {}

Scheduler::~Scheduler() { stop(); }

bool Scheduler::ours_to_schedule(const json::object& pod) const {
  api::PodView p(pod);
  return p.spec().node_name().empty() && !p.meta().being_deleted() && !api::pod_is_terminal(p) &&
         p.spec().scheduler_name() == config_.name;
}

Result<void> Scheduler::start(std::chrono::milliseconds sync_timeout) {
  pods_ = std::make_unique<client::Informer>(std::make_shared<client::RestListerWatcher>(client_, pods_ref()),
                                             client::InformerOptions{.name = "scheduler pods"});
  nodes_ = std::make_unique<client::Informer>(
      std::make_shared<client::RestListerWatcher>(client_, client::ResourceRef("", "v1", "nodes")),
      client::InformerOptions{.name = "scheduler nodes"});
  nodes_->add_handler({.on_add = [this](const ObjectPtr& n) { on_node(n); },
                       .on_update = [this](const ObjectPtr&, const ObjectPtr& n) { on_node(n); },
                       .on_delete = [this](const ObjectPtr& n, bool) { on_node_deleted(n); },
                       .on_synced = nullptr});
  pods_->add_handler({.on_add = [this](const ObjectPtr& p) { on_pod(p); },
                      .on_update = [this](const ObjectPtr&, const ObjectPtr& p) { on_pod(p); },
                      .on_delete = [this](const ObjectPtr& p, bool) { on_pod_deleted(p); },
                      .on_synced = nullptr});
  auto informer = [this](std::string group, std::string resource, const char* name) {
    auto i = std::make_unique<client::Informer>(
        std::make_shared<client::RestListerWatcher>(client_, client::ResourceRef(std::move(group), "v1", std::move(resource))),
        client::InformerOptions{.name = name});
    // A claim bound, a volume or class added: pods waiting on their volumes may fit now.
    i->add_handler({.on_add = [this](const ObjectPtr&) { cluster_changed(); },
                    .on_update = [this](const ObjectPtr&, const ObjectPtr&) { cluster_changed(); },
                    .on_delete = nullptr,
                    .on_synced = nullptr});
    return i;
  };
  claims_ = informer("", "persistentvolumeclaims", "scheduler persistentvolumeclaims");
  volumes_ = informer("", "persistentvolumes", "scheduler persistentvolumes");
  classes_ = informer("storage.k8s.io", "storageclasses", "scheduler storageclasses");
  for (auto* i : {claims_.get(), volumes_.get(), classes_.get()}) i->start();
  for (auto* i : {claims_.get(), volumes_.get(), classes_.get()}) {
    if (!i->wait_for_sync(sync_timeout)) return Error(ErrorCode::kUnavailable, "scheduler: volumes did not sync");
  }
  // Nodes first, so that the first decisions see the whole cluster.
  nodes_->start();
  if (!nodes_->wait_for_sync(sync_timeout)) return Error(ErrorCode::kUnavailable, "scheduler: nodes did not sync");
  pods_->start();
  if (!pods_->wait_for_sync(sync_timeout)) return Error(ErrorCode::kUnavailable, "scheduler: pods did not sync");
  async_ = client_->can_request_async();
  scheduler_thread_ = std::thread([this] { schedule_loop(); });
  // With asynchronous requests the binder threads only bind pods whose claims need a PATCH
  // first (rare); a few suffice.
  const int binders = async_ ? std::min(4, config_.binders) : config_.binders;
  for (int i = 0; i < std::max(1, binders); ++i) binder_threads_.emplace_back([this] { bind_loop(); });
  if (!async_) {
    for (int i = 0; i < std::max(1, config_.event_writers); ++i) event_threads_.emplace_back([this] { event_loop(); });
  }
  return Ok();
}

void Scheduler::stop() {
  if (pods_) pods_->stop();
  if (nodes_) nodes_->stop();
  for (auto* i : {claims_.get(), volumes_.get(), classes_.get()}) {
    if (i != nullptr) i->stop();
  }
  queue_.shut_down();
  {
    std::lock_guard lk(bind_mu_);
    stopping_ = true;
  }
  bind_cv_.notify_all();
  if (scheduler_thread_.joinable()) scheduler_thread_.join();
  for (auto& t : binder_threads_) {
    if (t.joinable()) t.join();
  }
  binder_threads_.clear();
  {
    // Started bindings are answered by the transport, also when it stops; their
    // callbacks use this object.
    std::unique_lock lk(bind_mu_);
    bind_slot_cv_.wait(lk, [&] { return bindings_in_flight_ == 0; });
  }
  {
    std::unique_lock lk(event_mu_);
    events_stopping_ = true;
    events_.clear();  // unwritten Events are dropped, as a stopping broadcaster's are
    event_cv_.notify_all();
    event_cv_.wait(lk, [&] { return events_in_flight_ == 0; });
  }
  for (auto& t : event_threads_) {
    if (t.joinable()) t.join();
  }
  event_threads_.clear();
}

void Scheduler::emit_event(std::string namespace_, json::object event) {
  {
    std::lock_guard lk(event_mu_);
    if (events_stopping_) return;
    if (async_ && events_in_flight_ < std::max(1, config_.event_writers)) {
      ++events_in_flight_;  // a free slot: sent at once, below
    } else if (events_.size() >= config_.max_queued_events) {
      ++events_dropped_;
      return;
    } else {
      events_.emplace_back(std::move(namespace_), std::move(event));
      if (!async_) event_cv_.notify_one();
      return;
    }
  }
  send_event(std::move(namespace_), std::move(event));
}

void Scheduler::send_event(std::string namespace_, json::object event) {
  // Fire and forget, as upstream's broadcaster: the answer is not decoded. Its arrival
  // passes the slot on to the next queued Event; the slot is held until then, so stop()
  // waits for whatever this callback still does with the scheduler.
  const std::string path = client::ResourceRef("", "v1", "events", std::move(namespace_)).path();
  client_->request_async("POST", path, boost::json::serialize(event), [this](Result<client::Response> res) {
    std::pair<std::string, json::object> next;
    {
      std::lock_guard lk(event_mu_);
      // A failed delivery (the server stopping) is not followed by the next one: that one
      // would fail at once too, and answer inside this call, once per queued Event.
      if (!res.ok() || events_stopping_ || events_.empty()) {
        --events_in_flight_;
        event_cv_.notify_all();
        return;
      }
      next = std::move(events_.front());
      events_.pop_front();
    }
    send_event(std::move(next.first), std::move(next.second));
  });
}

void Scheduler::event_loop() {
  for (;;) {
    std::pair<std::string, json::object> job;
    {
      std::unique_lock lk(event_mu_);
      event_cv_.wait(lk, [&] { return events_stopping_ || !events_.empty(); });
      if (events_stopping_) return;
      job = std::move(events_.front());
      events_.pop_front();
    }
    // Fire and forget, as upstream's broadcaster: the answer is not decoded (a parse per
    // Event that nobody reads); a failed write is as lost as before.
    const std::string path = client::ResourceRef("", "v1", "events", std::move(job.first)).path();
    (void)client_->request("POST", path, boost::json::serialize(job.second));
  }
}

SchedulerStats Scheduler::stats() const {
  return {scheduled_.load(), unschedulable_attempts_.load(), bind_failures_.load(), events_dropped_.load()};
}

void Scheduler::on_pod(const ObjectPtr& obj) {
  const std::string key = client::object_key(*obj);
  api::PodView pod(*obj);
  if (!pod.spec().node_name().empty()) {
    auto info = parse_pod(*obj);
    if (!info.ok()) {
      std::fprintf(stderr, "warning scheduler: pod %s: %s\n", key.c_str(), info.error().to_string().c_str());
      return;
    }
    std::lock_guard lk(state_mu_);
    state_.add_pod(std::make_shared<PodInfo>(std::move(*info)));  // replaces an assumption
    unschedulable_.erase(key);
    last_message_.erase(key);
    return;
  }
  if (ours_to_schedule(*obj)) {
    {
      std::lock_guard lk(state_mu_);
      if (unschedulable_.contains(key)) return;  // waits for a cluster change or its back-off
    }
    queue_.add(key);
  }
}

void Scheduler::on_pod_deleted(const ObjectPtr& obj) {
  const std::string key = client::object_key(*obj);
  bool freed = false;
  {
    std::lock_guard lk(state_mu_);
    freed = state_.remove_pod(key);
    unschedulable_.erase(key);
    last_message_.erase(key);
  }
  queue_.forget(key);
  if (freed) cluster_changed();
}

void Scheduler::on_node(const ObjectPtr& obj) {
  auto info = parse_node(*obj);
  if (!info.ok()) {
    std::fprintf(stderr, "warning scheduler: %s\n", info.error().to_string().c_str());
    return;
  }
  {
    std::lock_guard lk(state_mu_);
    state_.upsert_node(std::move(*info));
  }
  cluster_changed();
}

void Scheduler::on_node_deleted(const ObjectPtr& obj) {
  std::lock_guard lk(state_mu_);
  state_.remove_node(api::Meta(*obj).name());
}

void Scheduler::cluster_changed() {
  std::set<std::string> retry;
  {
    std::lock_guard lk(state_mu_);
    retry.swap(unschedulable_);
  }
  for (const std::string& key : retry) queue_.add(key);
}

void Scheduler::schedule_loop() {
  while (auto key = queue_.get()) {
    schedule_one(*key);
    queue_.done(*key);
  }
}

void Scheduler::schedule_one(const std::string& key) {
  ObjectPtr obj = pods_->cache().get(key);
  if (!obj || !ours_to_schedule(*obj)) {
    queue_.forget(key);
    return;
  }
  auto info = parse_pod(*obj);
  if (!info.ok()) {
    record_unschedulable(obj, info.error().message());
    queue_.forget(key);
    return;
  }
  std::shared_ptr<PodInfo> assumed;
  std::string failure;
  std::optional<std::string> volume_failure = add_volume_requirements(*obj, *info);
  {
    std::lock_guard lk(state_mu_);
    if (volume_failure) {
      // Unschedulable on every node, as upstream's VolumeBinding PreFilter says it.
      const std::size_t n = state_.node_count();
      failure = n == 0 ? "no nodes available to schedule pods"
                       : "0/" + std::to_string(n) + " nodes are available: " + *volume_failure + ".";
      unschedulable_.insert(key);
    }
  }
  if (volume_failure) {
    ++unschedulable_attempts_;
    record_unschedulable(obj, failure);
    queue_.add_rate_limited(key);
    return;
  }
  {
    std::lock_guard lk(state_mu_);
    auto result = algorithm_->schedule(*info, state_);
    if (auto* d = std::get_if<Decision>(&result)) {
      assumed = std::make_shared<PodInfo>(std::move(*info));
      assumed->node_name = d->node;
      state_.add_pod(assumed);  // the next decision sees it
    } else {
      failure = std::get<FitError>(result).message();
      unschedulable_.insert(key);
    }
  }
  if (assumed) {
    queue_.forget(key);
    if (async_ && assumed->claims_to_select.empty()) {
      bind_async(assumed, obj);
      return;
    }
    {
      std::lock_guard lk(bind_mu_);
      to_bind_.emplace_back(assumed, obj);
    }
    bind_cv_.notify_one();
    return;
  }
  ++unschedulable_attempts_;
  record_unschedulable(obj, failure);
  queue_.add_rate_limited(key);  // also retried at once when the cluster changes
}

void Scheduler::bind_loop() {
  for (;;) {
    std::pair<std::shared_ptr<PodInfo>, ObjectPtr> job;
    {
      std::unique_lock lk(bind_mu_);
      bind_cv_.wait(lk, [&] { return stopping_ || !to_bind_.empty(); });
      if (to_bind_.empty()) return;
      job = std::move(to_bind_.front());
      to_bind_.pop_front();
    }
    bind(job.first, job.second);
  }
}

std::optional<std::string> Scheduler::add_volume_requirements(const json::object& pod, PodInfo& info) {
  if (controllers::pv::pod_claims(pod).empty()) return std::nullopt;
  std::vector<ObjectPtr> keep;  // the lookups hand out raw pointers into these
  auto hold = [&keep](ObjectPtr p) -> const json::object* {
    if (!p) return nullptr;
    keep.push_back(std::move(p));
    return keep.back().get();
  };
  VolumeLookup lookup;
  lookup.claim = [&](std::string_view ns, std::string_view name) {
    return hold(claims_->cache().get(std::string(ns) + "/" + std::string(name)));
  };
  lookup.volume = [&](std::string_view name) { return hold(volumes_->cache().get(name)); };
  lookup.storage_class = [&](std::string_view name) { return hold(classes_->cache().get(name)); };
  const auto all = volumes_->cache().list();
  for (const auto& v : all) lookup.volumes.push_back(v.get());
  auto result = pod_volumes(pod, lookup);
  if (auto* msg = std::get_if<std::string>(&result)) return *msg;
  auto& v = std::get<PodVolumes>(result);
  info.volume_requirements = std::move(v.requirements);
  info.claims_to_select = std::move(v.claims_to_select);
  return std::nullopt;
}

Result<void> Scheduler::select_node_for_claims(const PodInfo& pod) {
  for (const std::string& claim : pod.claims_to_select) {
    json::object patch{{"metadata", json::object{{"annotations", json::object{
                                                     {controllers::pv::kAnnSelectedNode, pod.node_name}}}}}};
    KL_TRY(client_->patch(client::ResourceRef("", "v1", "persistentvolumeclaims", pod.namespace_, claim),
                          client::PatchType::kMerge, json::value(std::move(patch))));
  }
  return Ok();
}

namespace {

std::string binding_body(const PodInfo& pod) {
  json::object binding{{"apiVersion", "v1"},
                       {"kind", "Binding"},
                       {"metadata", json::object{{"name", pod.name}, {"namespace", pod.namespace_}, {"uid", pod.uid}}},
                       {"target", json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", pod.node_name}}}};
  return json::dump(binding);
}

}  // namespace

void Scheduler::bind_async(const std::shared_ptr<PodInfo>& pod, const ObjectPtr& obj) {
  {
    std::unique_lock lk(bind_mu_);
    bind_slot_cv_.wait(lk, [&] { return bindings_in_flight_ < std::max(1, config_.binders); });
    ++bindings_in_flight_;
  }
  client_->request_async("POST", pods_ref(pod->namespace_, pod->name, "binding").path(), binding_body(*pod),
                         [this, pod, obj](Result<client::Response> res) {
                           binding_answered(pod, obj, res);
                           std::lock_guard lk(bind_mu_);
                           --bindings_in_flight_;
                           bind_slot_cv_.notify_all();
                         });
}

void Scheduler::bind(const std::shared_ptr<PodInfo>& pod, const ObjectPtr& obj) {
  const std::string key = pod->key();
  // The claims waiting for their first consumer learn the node before the pod is bound
  // (upstream's VolumeBinding PreBind), so the provisioner can start at once.
  if (auto sel = select_node_for_claims(*pod); !sel.ok()) {
    {
      std::lock_guard lk(state_mu_);
      state_.remove_pod(key);
    }
    ++bind_failures_;
    std::fprintf(stderr, "warning scheduler: selecting node %s for the claims of %s: %s\n", pod->node_name.c_str(),
                 key.c_str(), sel.error().to_string().c_str());
    queue_.add_rate_limited(key);
    return;
  }
  binding_answered(pod, obj,
                   client_->request("POST", pods_ref(pod->namespace_, pod->name, "binding").path(), binding_body(*pod)));
}

void Scheduler::binding_answered(const std::shared_ptr<PodInfo>& pod, const ObjectPtr& obj,
                                 const Result<client::Response>& res) {
  const std::string key = pod->key();
  if (res.ok() && res->status / 100 == 2) {
    ++scheduled_;
    if (config_.emit_scheduled_events) {
      emit_event(pod->namespace_, pod_event(*obj, "Normal", "Scheduled",
                                            "Successfully assigned " + key + " to " + pod->node_name, config_.name));
    }
    return;
  }
  // The binding did not happen: drop the assumption so the node's share is free again;
  // the informer brings the pod back if it still needs a node.
  const int status = res.ok() ? res->status : 0;
  {
    std::lock_guard lk(state_mu_);
    state_.remove_pod(key);
  }
  if (status == 404 || status == 409) {
    // Gone, or bound meanwhile (by someone else): the informer's view wins.
    queue_.add(key);
    return;
  }
  ++bind_failures_;
  std::fprintf(stderr, "warning scheduler: binding %s to %s failed: %s\n", key.c_str(), pod->node_name.c_str(),
               res.ok() ? res->body.substr(0, 200).c_str() : res.error().to_string().c_str());
  queue_.add_rate_limited(key);
}

void Scheduler::record_unschedulable(const ObjectPtr& obj, const std::string& message) {
  const std::string key = client::object_key(*obj);
  {
    std::lock_guard lk(state_mu_);
    auto [it, inserted] = last_message_.try_emplace(key, message);
    if (!inserted && it->second == message) return;  // said already: no write storm on retries
    it->second = message;
  }
  api::Meta m(*obj);
  json::object patch{
      {"status", json::object{{"conditions", json::array{json::object{{"type", "PodScheduled"},
                                                                       {"status", "False"},
                                                                       {"reason", "Unschedulable"},
                                                                       {"message", message},
                                                                       {"lastProbeTime", nullptr},
                                                                       {"lastTransitionTime", api::now_rfc3339()}}}}}}};
  auto patched = client_->patch(pods_ref(std::string(m.namespace_()), std::string(m.name()), "status"),
                                client::PatchType::kStrategicMerge, json::value(std::move(patch)));
  if (!patched.ok() && patched.error().code() != ErrorCode::kNotFound) {
    std::fprintf(stderr, "warning scheduler: pod %s status: %s\n", key.c_str(), patched.error().to_string().c_str());
  }
  emit_event(std::string(m.namespace_()), pod_event(*obj, "Warning", "FailedScheduling", message, config_.name));
}

}  // namespace kernlet::scheduler
