#include "agent/cmd/agent_csi.h"

#include <dirent.h>

#include <algorithm>
#include <cstdio>

#include "api/object.h"
#include "csi/node/provisioner.h"

namespace kernlet::agent {

namespace {

using client::ResourceRef;

constexpr std::chrono::milliseconds kCallTimeout{std::chrono::seconds(30)};
constexpr std::chrono::milliseconds kQuickTimeout{std::chrono::seconds(5)};

// Informer list items may lack kind/apiVersion; Events need them.
json::object with_kind(const json::object& o, std::string_view api_version, std::string_view kind) {
  json::object c = o;
  c["apiVersion"] = std::string(api_version);
  c["kind"] = std::string(kind);
  return c;
}

bool claim_bound(const client::ObjectPtr& c) {
  if (!c) return false;
  const json::object* status = json::get_object(*c, "status");
  return status != nullptr && json::get_string(*status, "phase") == "Bound";
}

std::unique_ptr<client::Informer> informer(const std::shared_ptr<client::RestClient>& c, ResourceRef ref,
                                           std::string name) {
  client::InformerOptions io;
  io.name = std::move(name);
  io.max_backoff = std::chrono::milliseconds(10'000);
  return std::make_unique<client::Informer>(std::make_shared<client::RestListerWatcher>(c, std::move(ref)), io);
}

}  // namespace

AgentCsi::AgentCsi(std::shared_ptr<client::RestClient> client, EventRecorder* recorder, csi::Mounter& mounter,
                   AgentCsiOptions options)
    : client_(std::move(client)), recorder_(recorder), opts_(std::move(options)) {
  csi::CsiNodeDeps deps;
  deps.claim = [this](std::string_view ns, std::string_view name) {
    return get(ResourceRef("", "v1", "persistentvolumeclaims", std::string(ns), std::string(name)));
  };
  deps.volume = [this](std::string_view name) {
    return get(ResourceRef("", "v1", "persistentvolumes", "", std::string(name)));
  };
  deps.csi_driver = [this](std::string_view name) {
    return get(ResourceRef("storage.k8s.io", "v1", "csidrivers", "", std::string(name)));
  };
  deps.driver = [this](std::string_view name) { return node_driver(name); };
  volumes_ = std::make_unique<csi::CsiNodeVolumes>(opts_.root_dir, opts_.root_dir + "/pods", mounter, std::move(deps));
  registry_ = std::make_unique<csi::PluginRegistry>(
      opts_.root_dir + "/plugins_registry", [this](const csi::RegisteredDriver& d, bool added) { on_driver(d, added); });

  claims_ = informer(client_, ResourceRef("", "v1", "persistentvolumeclaims"), "persistentvolumeclaims");
  pvs_ = informer(client_, ResourceRef("", "v1", "persistentvolumes"), "persistentvolumes");
  classes_ = informer(client_, ResourceRef("storage.k8s.io", "v1", "storageclasses"), "storageclasses");
  csi_nodes_ = informer(client_, ResourceRef("storage.k8s.io", "v1", "csinodes"), "csinodes");
  auto wake_handler = [this] {
    client::EventHandler h;
    h.on_add = [this](const client::ObjectPtr&) { wake(); };
    h.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr&) { wake(); };
    h.on_delete = [this](const client::ObjectPtr&, bool) { wake(); };
    h.on_synced = [this] { wake(); };
    return h;
  };
  client::EventHandler ch = wake_handler();
  // A claim turning Bound: the pods waiting for it mount now rather than at their retry.
  ch.on_add = [this](const client::ObjectPtr& o) {
    if (claim_bound(o) && opts_.wake_claim) {
      api::Meta m(*o);
      opts_.wake_claim(std::string(m.namespace_()), std::string(m.name()));
    }
    wake();
  };
  ch.on_update = [this](const client::ObjectPtr& old, const client::ObjectPtr& o) {
    if (claim_bound(o) && !claim_bound(old) && opts_.wake_claim) {
      api::Meta m(*o);
      opts_.wake_claim(std::string(m.namespace_()), std::string(m.name()));
    }
    wake();
  };
  claims_->add_handler(std::move(ch));
  pvs_->add_handler(wake_handler());
  classes_->add_handler(wake_handler());
  csi_nodes_->add_handler(wake_handler());
}

AgentCsi::~AgentCsi() { stop(); }

Result<void> AgentCsi::start() {
  // Registration sockets already there (drivers that outlived an agent restart) register
  // on the registry's thread; waiting a moment for them spares the pods that are synced
  // first a "driver not found" FailedMount.
  size_t present = 0;
  if (DIR* d = ::opendir((opts_.root_dir + "/plugins_registry").c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 5 && n.ends_with(".sock")) ++present;
    }
    ::closedir(d);
  }
  KL_TRY(registry_->start());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (registry_->drivers().size() < present && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  claims_->start();
  pvs_->start();
  classes_->start();
  csi_nodes_->start();
  thread_ = std::thread([this] { run(); });
  return Ok();
}

void AgentCsi::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (registry_) registry_->stop();
  for (auto* i : {claims_.get(), pvs_.get(), classes_.get(), csi_nodes_.get()})
    if (i) i->stop();
}

Result<std::optional<json::object>> AgentCsi::get(const ResourceRef& ref) {
  auto r = client_->get(ref);
  if (r.ok()) return std::optional<json::object>(std::move(*r));
  if (r.error().code() == ErrorCode::kNotFound) return std::optional<json::object>();
  return r.error();
}

void AgentCsi::on_driver(const csi::RegisteredDriver& d, bool added) {
  std::fprintf(stderr, "I agent: CSI driver %s %s (%s)\n", d.name.c_str(), added ? "registered" : "gone",
               d.endpoint.c_str());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!added) {
      drivers_.erase(d.name);
    } else {
      auto c = csi::CsiClient::connect(d.endpoint);
      if (!c.ok()) {
        std::fprintf(stderr, "E agent: CSI driver %s: %s\n", d.name.c_str(), c.error().to_string().c_str());
        return;
      }
      Driver drv;
      drv.reg = d;
      drv.client = std::shared_ptr<csi::CsiClient>(std::move(*c));
      drivers_[d.name] = std::move(drv);
    }
    drivers_changed_ = true;
  }
  wake();
}

Result<std::shared_ptr<csi::NodeDriver>> AgentCsi::node_driver(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = drivers_.find(std::string(name));
  if (it == drivers_.end()) return Error(ErrorCode::kNotFound, "CSI driver " + std::string(name) + " not registered");
  return csi::node_driver_of(it->second.client);
}

void AgentCsi::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void AgentCsi::run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(10), [this] { return wake_ || stop_; });
      if (stop_) return;
      wake_ = false;
    }
    reconcile();
  }
}

void AgentCsi::reconcile() {
  sync_drivers();
  if (auto r = publish_csi_node(); !r.ok())
    std::fprintf(stderr, "E agent: CSINode %s: %s\n", opts_.node_name.c_str(), r.error().to_string().c_str());
  provision_claims();
  delete_released();
  auto swept = volumes_->unstage_unused();
  if (!swept.ok()) {
    std::fprintf(stderr, "E agent: unstage unused CSI volumes: %s\n", swept.error().to_string().c_str());
  } else if (*swept > 0) {
    std::fprintf(stderr, "I agent: unstaged %d CSI volume(s) no pod uses\n", *swept);
  }
}

// NodeGetInfo of new drivers, their CSIDriver objects and the Node's topology labels.
void AgentCsi::sync_drivers() {
  std::vector<Driver> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!drivers_changed_) return;
    drivers_changed_ = false;
    for (const auto& [name, d] : drivers_)
      if (!d.info_known || !d.object_checked) todo.push_back(d);
  }
  bool again = false;
  for (Driver& d : todo) {
    if (!d.info_known) {
      auto info = d.client->node_get_info({kQuickTimeout});
      if (!info.ok()) {
        std::fprintf(stderr, "E agent: CSI driver %s: %s\n", d.reg.name.c_str(), info.error().to_string().c_str());
        again = true;
        continue;
      }
      d.info = *info;
      d.info_known = true;
      // The kubelet labels the Node with the driver's topology, so PV nodeAffinity matches.
      if (d.info.accessible_topology && !d.info.accessible_topology->empty()) {
        json::object labels;
        for (const auto& [k, v] : *d.info.accessible_topology) labels[k] = v;
        json::object meta;
        meta["labels"] = std::move(labels);
        json::object patch;
        patch["metadata"] = std::move(meta);
        auto r = client_->patch(ResourceRef("", "v1", "nodes", "", opts_.node_name), client::PatchType::kMerge,
                                json::value(std::move(patch)));
        if (!r.ok()) {
          std::fprintf(stderr, "E agent: label node %s with CSI topology: %s\n", opts_.node_name.c_str(),
                       r.error().to_string().c_str());
          d.info_known = false;
          again = true;
          continue;
        }
      }
    }
    if (!d.object_checked) {
      ResourceRef ref("storage.k8s.io", "v1", "csidrivers", "", d.reg.name);
      auto existing = get(ref);
      if (!existing.ok()) {
        again = true;
      } else if (*existing) {
        d.object_checked = true;
      } else {
        auto caps = d.client->controller_get_capabilities({kQuickTimeout});
        json::object spec;
        spec["attachRequired"] = caps.ok() && caps->publish_unpublish_volume;
        spec["podInfoOnMount"] = false;
        spec["fsGroupPolicy"] = "ReadWriteOnceWithFSType";
        spec["volumeLifecycleModes"] = json::array{json::value("Persistent")};
        json::object meta;
        meta["name"] = d.reg.name;
        json::object obj;
        obj["apiVersion"] = "storage.k8s.io/v1";
        obj["kind"] = "CSIDriver";
        obj["metadata"] = std::move(meta);
        obj["spec"] = std::move(spec);
        auto r = client_->create(ResourceRef("storage.k8s.io", "v1", "csidrivers"), obj);
        if (r.ok() || r.error().code() == ErrorCode::kAlreadyExists) {
          d.object_checked = true;
          if (r.ok()) std::fprintf(stderr, "I agent: created CSIDriver %s\n", d.reg.name.c_str());
        } else {
          std::fprintf(stderr, "E agent: create CSIDriver %s: %s\n", d.reg.name.c_str(), r.error().to_string().c_str());
          again = true;
        }
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (Driver& d : todo) {
    auto it = drivers_.find(d.reg.name);
    if (it == drivers_.end() || it->second.client != d.client) continue;  // gone or re-registered meanwhile
    it->second.info = d.info;
    it->second.info_known = d.info_known;
    it->second.object_checked = d.object_checked;
  }
  if (again) drivers_changed_ = true;
}

// CSINode <node>: spec.drivers = the registered drivers with their node ids and topology keys.
Result<void> AgentCsi::publish_csi_node() {
  json::array drivers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, d] : drivers_) {
      if (!d.info_known) continue;
      json::object e;
      e["name"] = name;
      e["nodeID"] = d.info.node_id;
      json::array keys;
      if (d.info.accessible_topology)
        for (const auto& [k, v] : *d.info.accessible_topology) keys.push_back(json::value(k));
      e["topologyKeys"] = std::move(keys);
      if (d.info.max_volumes_per_node > 0) {
        json::object alloc;
        alloc["count"] = d.info.max_volumes_per_node;
        e["allocatable"] = std::move(alloc);
      }
      drivers.push_back(std::move(e));
    }
  }
  std::string text = json::dump(drivers);
  if (text == published_node_) return Ok();
  ResourceRef ref("storage.k8s.io", "v1", "csinodes", "", opts_.node_name);
  KL_ASSIGN_OR_RETURN(std::optional<json::object> current, get(ref));
  if (!current) {
    KL_ASSIGN_OR_RETURN(std::optional<json::object> node, get(ResourceRef("", "v1", "nodes", "", opts_.node_name)));
    json::object meta;
    meta["name"] = opts_.node_name;
    if (node) {
      // Owned by the Node, as the kubelet makes it: deleting the Node collects it.
      json::object owner;
      owner["apiVersion"] = "v1";
      owner["kind"] = "Node";
      owner["name"] = opts_.node_name;
      owner["uid"] = std::string(api::Meta(*node).uid());
      meta["ownerReferences"] = json::array{json::value(std::move(owner))};
    }
    json::object spec;
    spec["drivers"] = drivers;
    json::object obj;
    obj["apiVersion"] = "storage.k8s.io/v1";
    obj["kind"] = "CSINode";
    obj["metadata"] = std::move(meta);
    obj["spec"] = std::move(spec);
    auto r = client_->create(ResourceRef("storage.k8s.io", "v1", "csinodes"), obj);
    if (!r.ok()) return std::move(r).error();
  } else {
    json::object updated = *current;
    json::ensure_object(updated, "spec")["drivers"] = drivers;
    auto r = client_->update(ref, updated);
    if (!r.ok()) return std::move(r).error();
  }
  published_node_ = text;
  return Ok();
}

std::vector<AgentCsi::DriverTarget> AgentCsi::known_drivers() {
  std::vector<DriverTarget> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, d] : drivers_)
    if (d.info_known) out.push_back({name, d.client, d.info.accessible_topology.value_or(csi::TopologySegments{})});
  return out;
}

void AgentCsi::provision_claims() {
  if (!claims_->has_synced() || !classes_->has_synced() || !pvs_->has_synced()) return;
  std::vector<DriverTarget> targets = known_drivers();
  if (targets.empty()) return;
  std::vector<client::ObjectPtr> classes = classes_->cache().list();
  std::vector<client::ObjectPtr> nodes = csi_nodes_->cache().list();
  std::vector<const json::object*> node_ptrs;
  for (const auto& n : nodes) node_ptrs.push_back(n.get());
  for (const client::ObjectPtr& claim : claims_->cache().list()) {
    api::Meta cm(*claim);
    const json::object* spec = json::get_object(*claim, "spec");
    std::string cls;
    if (auto a = cm.annotation("volume.beta.kubernetes.io/storage-class")) cls = std::string(*a);
    else if (spec) cls = std::string(json::get_string(*spec, "storageClassName"));
    const json::object* sc = nullptr;
    for (const auto& c : classes)
      if (api::Meta(*c).name() == cls) sc = c.get();
    for (const DriverTarget& t : targets) {
      std::string immediate = csi::immediate_provisioning_node(node_ptrs, t.name);
      auto plan = csi::plan_provision(*claim, sc, t.name, opts_.node_name, t.topology, immediate);
      std::string label = std::string(cm.namespace_()) + "/" + std::string(cm.name());
      json::object event_obj = with_kind(*claim, "v1", "PersistentVolumeClaim");
      if (!plan.ok()) {
        recorder_->event(event_obj, "Warning", "ProvisioningFailed", plan.error().message());
        continue;
      }
      if (!*plan) continue;
      if (pvs_->cache().get((*plan)->pv_name)) continue;  // made already; the controller binds it
      auto vol = t.client->create_volume((*plan)->params, {kCallTimeout});
      if (!vol.ok()) {
        std::string msg = "failed to provision volume with StorageClass \"" + cls + "\": " + vol.error().message();
        std::fprintf(stderr, "E agent: claim %s: %s\n", label.c_str(), msg.c_str());
        recorder_->event(event_obj, "Warning", "ProvisioningFailed", msg);
        continue;
      }
      json::object pv = csi::make_provisioned_pv(*claim, *sc, t.name, **plan, *vol);
      auto created = client_->create(ResourceRef("", "v1", "persistentvolumes"), pv);
      if (!created.ok() && created.error().code() != ErrorCode::kAlreadyExists) {
        std::fprintf(stderr, "E agent: claim %s: create PV %s: %s\n", label.c_str(), (*plan)->pv_name.c_str(),
                     created.error().to_string().c_str());
        recorder_->event(event_obj, "Warning", "ProvisioningFailed",
                         "create persistentvolume " + (*plan)->pv_name + ": " + created.error().message());
        continue;
      }
      std::fprintf(stderr, "I agent: claim %s: provisioned %s (%s)\n", label.c_str(), (*plan)->pv_name.c_str(),
                   vol->volume_id.c_str());
      recorder_->event(event_obj, "Normal", "ProvisioningSucceeded",
                       "Successfully provisioned volume " + (*plan)->pv_name);
    }
  }
}

void AgentCsi::delete_released() {
  if (!pvs_->has_synced()) return;
  std::vector<DriverTarget> targets = known_drivers();
  for (const client::ObjectPtr& pv : pvs_->cache().list()) {
    for (const DriverTarget& t : targets) {
      if (!csi::should_delete_pv(*pv, t.name, t.topology)) continue;
      api::Meta m(*pv);
      std::string name(m.name());
      const json::object* csi = json::get_object(*json::get_object(*pv, "spec"), "csi");
      std::string handle(json::get_string(*csi, "volumeHandle"));
      json::object event_obj = with_kind(*pv, "v1", "PersistentVolume");
      auto r = t.client->delete_volume(handle, {}, {kCallTimeout});
      if (!r.ok()) {
        // Still staged somewhere here (a pod's teardown pending): the next pass retries.
        std::fprintf(stderr, "E agent: delete volume %s (%s): %s\n", name.c_str(), handle.c_str(),
                     r.error().to_string().c_str());
        recorder_->event(event_obj, "Warning", "VolumeFailedDelete", r.error().message());
        continue;
      }
      client::DeleteOptions opts;
      auto d = client_->remove(ResourceRef("", "v1", "persistentvolumes", "", name), opts);
      if (!d.ok() && d.error().code() != ErrorCode::kNotFound) {
        std::fprintf(stderr, "E agent: delete PV %s: %s\n", name.c_str(), d.error().to_string().c_str());
        continue;
      }
      std::fprintf(stderr, "I agent: deleted volume %s (%s)\n", name.c_str(), handle.c_str());
    }
  }
}

}  // namespace kernlet::agent
