#include "agent/node/node_status.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;

const client::ResourceRef kNodes{"", "v1", "nodes"};
constexpr std::string_view kAttachDetachAnnotation = "volumes.kubernetes.io/controller-managed-attach-detach";

void log_line(char level, const std::string& msg) { std::fprintf(stderr, "%c node-status: %s\n", level, msg.c_str()); }

// Every member of `want` equals the same member of `have`; objects compare recursively (so
// members others added to `have` do not count), everything else exactly.
bool subset_equal(const json::value& want, const json::value* have) {
  if (have == nullptr) return false;
  if (want.is_object()) {
    if (!have->is_object()) return false;
    for (const auto& m : want.get_object()) {
      if (!subset_equal(m.value(), have->get_object().if_contains(m.key()))) return false;
    }
    return true;
  }
  return want == *have;
}

const json::object* find_condition_json(const json::object& status, std::string_view type) {
  const json::array* conds = json::get_array(status, "conditions");
  if (conds == nullptr) return nullptr;
  for (const auto& c : *conds) {
    if (c.is_object() && json::get_string(c.get_object(), "type") == type) return &c.get_object();
  }
  return nullptr;
}

// Whether the desired status differs from the Node's in anything we own, heartbeats aside.
bool status_differs(const json::object& current, const json::object& desired) {
  for (const auto& m : desired) {
    if (m.key() == "conditions") continue;
    if (m.key() == "addresses") {
      json::array want = m.value().as_array();
      want.erase(std::remove_if(want.begin(), want.end(),
                                [](const json::value& v) { return v.is_object() && v.get_object().contains("$patch"); }),
                 want.end());
      const json::value* have = current.if_contains("addresses");
      if (have == nullptr || !have->is_array() || have->get_array() != want) return true;
      continue;
    }
    if (!subset_equal(m.value(), current.if_contains(m.key()))) return true;
  }
  for (const auto& c : desired.at("conditions").as_array()) {
    const json::object& want = c.as_object();
    const json::object* have = find_condition_json(current, json::get_string(want, "type"));
    if (have == nullptr) return true;
    for (std::string_view k : {"status", "reason", "message", "lastTransitionTime"}) {
      if (json::get_string(want, k) != json::get_string(*have, k)) return true;
    }
  }
  return false;
}

Result<Quantity> reserved(const api::ResourceList& list, const std::string& name) {
  auto it = list.find(name);
  return it == list.end() ? Quantity() : it->second;
}

}  // namespace

int64_t EvictionThreshold::value_for(int64_t capacity) const {
  if (quantity > 0) return quantity;
  if (percentage > 0) return static_cast<int64_t>(std::llround(static_cast<double>(capacity) * percentage));
  return 0;
}

Result<NodeResources> compute_node_resources(const MachineFacts& facts, const HostUsage& usage,
                                             const NodeOptions& options) {
  NodeResources r;
  r.capacity["cpu"] = Quantity::from_milli(facts.cpus * 1000);
  r.capacity["memory"] = Quantity::from_int(facts.memory_bytes, Quantity::Format::BinarySI);
  r.capacity["pods"] = Quantity::from_int(options.max_pods);
  r.capacity["ephemeral-storage"] = Quantity::from_int(usage.fs_capacity_bytes, Quantity::Format::BinarySI);

  // The hard eviction threshold is reserved too: the kubelet evicts before it is crossed,
  // so the scheduler must not hand it out (memory.available -> memory,
  // nodefs.available -> ephemeral-storage).
  std::map<std::string, int64_t> eviction = {
      {"memory", options.eviction.memory_available.value_for(facts.memory_bytes)},
      {"ephemeral-storage", options.eviction.nodefs_available.value_for(usage.fs_capacity_bytes)},
  };
  for (const auto& [name, cap] : r.capacity) {
    Quantity q = cap;
    KL_ASSIGN_OR_RETURN(Quantity sys, reserved(options.system_reserved, name));
    KL_ASSIGN_OR_RETURN(Quantity kube, reserved(options.kube_reserved, name));
    KL_ASSIGN_OR_RETURN(q, q.sub(sys));
    KL_ASSIGN_OR_RETURN(q, q.sub(kube));
    if (auto e = eviction.find(name); e != eviction.end() && e->second > 0) {
      KL_ASSIGN_OR_RETURN(q, q.sub(Quantity::from_int(e->second, cap.format())));
    }
    if (q.sign() < 0) q = Quantity::from_int(0, cap.format());
    r.allocatable[name] = q;
  }
  return r;
}

PressureSignals observe_pressure(const HostUsage& usage, const EvictionThresholds& t) {
  PressureSignals p;
  if (t.memory_available.enabled()) {
    p.memory = usage.memory_available_bytes < t.memory_available.value_for(usage.memory_capacity_bytes);
  }
  if (t.nodefs_available.enabled()) {
    p.disk = usage.fs_available_bytes < t.nodefs_available.value_for(usage.fs_capacity_bytes);
  }
  if (t.pid_available.enabled()) {
    p.pid = usage.pid_max - usage.pids_in_use < t.pid_available.value_for(usage.pid_max);
  }
  return p;
}

std::vector<ConditionState> node_conditions(const PressureSignals& p, const std::vector<std::string>& not_ready) {
  std::vector<ConditionState> out;
  out.push_back(p.memory ? ConditionState{"MemoryPressure", "True", "KubeletHasInsufficientMemory",
                                          "kubelet has insufficient memory available"}
                         : ConditionState{"MemoryPressure", "False", "KubeletHasSufficientMemory",
                                          "kubelet has sufficient memory available"});
  out.push_back(p.disk ? ConditionState{"DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure"}
                       : ConditionState{"DiskPressure", "False", "KubeletHasNoDiskPressure",
                                        "kubelet has no disk pressure"});
  out.push_back(p.pid ? ConditionState{"PIDPressure", "True", "KubeletHasInsufficientPID",
                                       "kubelet has insufficient PID available"}
                      : ConditionState{"PIDPressure", "False", "KubeletHasSufficientPID",
                                       "kubelet has sufficient PID available"});
  if (not_ready.empty()) {
    out.push_back({"Ready", "True", "KubeletReady", "kernlet is posting ready status"});
  } else {
    std::string msg;
    for (const auto& m : not_ready) {
      if (!msg.empty()) msg += ", ";
      msg += m;
    }
    out.push_back({"Ready", "False", "KubeletNotReady", msg});
  }
  return out;
}

json::object condition_json(const ConditionState& c, const json::object* existing, api::TimePoint now) {
  std::string now_text = api::format_rfc3339(now);
  std::string transition = now_text;
  if (existing != nullptr && json::get_string(*existing, "status") == c.status) {
    std::string_view t = json::get_string(*existing, "lastTransitionTime");
    if (!t.empty()) transition = std::string(t);
  }
  return json::object{{"type", c.type},
                      {"status", c.status},
                      {"lastHeartbeatTime", now_text},
                      {"lastTransitionTime", transition},
                      {"reason", c.reason},
                      {"message", c.message}};
}

NodeStatusManager::NodeStatusManager(std::shared_ptr<client::RestClient> client, NodeOptions options,
                                     std::shared_ptr<HostInfo> host, std::shared_ptr<WallClock> clock)
    : client_(std::move(client)), opt_(std::move(options)), host_(std::move(host)), clock_(std::move(clock)) {
  if (!client_) throw std::invalid_argument("NodeStatusManager: null client");
  if (opt_.node_name.empty()) throw std::invalid_argument("NodeStatusManager: empty node name");
  if (!host_) host_ = std::make_shared<LinuxHostInfo>();
  if (!clock_) clock_ = SystemWallClock::shared();
  if (opt_.hostname.empty()) opt_.hostname = opt_.node_name;
  ref_ = kNodes.named(opt_.node_name);
  NodeLeaseOptions lo = opt_.lease;
  lo.node_name = opt_.node_name;
  lo.clock = clock_;
  lo.node_uid = [this] { return node_uid(); };
  lease_ = std::make_unique<NodeLease>(client_, std::move(lo));
}

NodeStatusManager::~NodeStatusManager() { stop(); }

void NodeStatusManager::start() {
  {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  }
  if (opt_.run_lease) lease_->start();
}

void NodeStatusManager::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  lease_->stop();
}

void NodeStatusManager::sync_now() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void NodeStatusManager::set_readiness(const std::string& source, std::optional<std::string> not_ready_message) {
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    auto it = not_ready_.find(source);
    if (not_ready_message) {
      if (it == not_ready_.end() || it->second != *not_ready_message) {
        not_ready_[source] = std::move(*not_ready_message);
        changed = true;
      }
    } else if (it != not_ready_.end()) {
      not_ready_.erase(it);
      changed = true;
    }
  }
  if (changed) sync_now();
}

std::optional<json::object> NodeStatusManager::node() const {
  std::lock_guard lock(mu_);
  return node_;
}

std::string NodeStatusManager::node_uid() const {
  std::lock_guard lock(mu_);
  return node_ ? std::string(api::Meta(*node_).uid()) : std::string();
}

std::string NodeStatusManager::pod_cidr() const {
  std::lock_guard lock(mu_);
  if (!node_) return "";
  const json::object* spec = json::get_object(*node_, "spec");
  return spec ? std::string(json::get_string(*spec, "podCIDR")) : std::string();
}

bool NodeStatusManager::registered() const {
  std::lock_guard lock(mu_);
  return registered_;
}

int64_t NodeStatusManager::posts() const {
  std::lock_guard lock(mu_);
  return posts_;
}

void NodeStatusManager::remember(json::object node) {
  std::lock_guard lock(mu_);
  node_ = std::move(node);
  registered_ = true;
}

void NodeStatusManager::run() {
  auto backoff = 100ms;
  for (;;) {
    auto r = sync_status();
    std::chrono::milliseconds wait = opt_.check_interval;
    if (!r.ok()) {
      log_line('W', r.error().to_string());
      if (!registered()) {
        wait = std::min<std::chrono::milliseconds>(backoff, opt_.check_interval);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 7s);
      }
    } else {
      backoff = 100ms;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [this] { return stopping_ || wake_; });
    if (stopping_) return;
    wake_ = false;
  }
}

Result<void> NodeStatusManager::load_facts() {
  if (facts_) return Ok();
  auto f = read_machine_facts(*host_);
  if (!f.ok()) return std::move(f).error().context("read machine facts for node " + opt_.node_name);
  facts_ = std::move(*f);
  return Ok();
}

Result<std::string> NodeStatusManager::internal_ip() {
  if (!opt_.node_ip.empty()) return opt_.node_ip;
  // As the kubelet without --node-ip and a cloud: the address of the interface that holds
  // the default route (the one other nodes most likely reach us through).
  KL_ASSIGN_OR_RETURN(std::string routes, host_->read_file("/proc/net/route"));
  auto iface = default_route_interface(routes);
  if (!iface) return Error("no IPv4 default route in /proc/net/route; set the node IP");
  KL_ASSIGN_OR_RETURN(auto addrs, host_->interface_ipv4(*iface));
  if (addrs.empty()) return Error("default route interface " + *iface + " has no IPv4 address; set the node IP");
  return addrs.front();
}

json::object NodeStatusManager::default_labels() const {
  const std::string& arch = facts_ ? facts_->architecture : std::string();
  json::object labels{{"kubernetes.io/hostname", opt_.hostname},
                      {"kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", arch},
                      {"beta.kubernetes.io/os", "linux"},
                      {"beta.kubernetes.io/arch", arch}};
  for (const auto& [k, v] : opt_.labels) labels[k] = v;
  return labels;
}

Result<json::object> NodeStatusManager::desired_status(const json::object& current, const HostUsage& usage,
                                                       api::TimePoint now) {
  const MachineFacts& f = *facts_;
  KL_ASSIGN_OR_RETURN(NodeResources res, compute_node_resources(f, usage, opt_));
  json::object capacity, allocatable;
  for (const auto& [k, q] : res.capacity) capacity[k] = q.to_string();
  for (const auto& [k, q] : res.allocatable) allocatable[k] = q.to_string();

  // A signal under pressure stays so for the transition period after it was last seen.
  PressureSignals seen = observe_pressure(usage, opt_.eviction);
  auto hold = [&](bool now_seen, std::optional<api::TimePoint>& last) {
    if (now_seen) last = now;
    return last && now - *last < opt_.pressure_transition_period;
  };
  PressureSignals p{hold(seen.memory, memory_pressure_seen_), hold(seen.disk, disk_pressure_seen_),
                    hold(seen.pid, pid_pressure_seen_)};
  std::vector<std::string> not_ready;
  {
    std::lock_guard lock(mu_);
    for (const auto& [source, msg] : not_ready_) not_ready.push_back(msg);
  }
  json::array conditions;
  for (const auto& c : node_conditions(p, not_ready)) {
    conditions.push_back(condition_json(c, find_condition_json(current, c.type), now));
  }

  json::array addresses;
  auto ip = internal_ip();
  if (ip.ok()) {
    addresses.push_back(json::object{{"type", "InternalIP"}, {"address", *ip}});
    warned_no_ip_ = false;
  } else if (!warned_no_ip_) {
    log_line('W', "node " + opt_.node_name + ": no InternalIP: " + ip.error().to_string());
    warned_no_ip_ = true;
  }
  addresses.push_back(json::object{{"type", "Hostname"}, {"address", opt_.hostname}});
  // addresses merge by type under strategic merge; the list is ours, so replace it whole.
  addresses.push_back(json::object{{"$patch", "replace"}});

  json::object node_info{{"machineID", f.machine_id},
                         {"systemUUID", f.system_uuid},
                         {"bootID", f.boot_id},
                         {"kernelVersion", f.kernel_version},
                         {"osImage", f.os_image},
                         {"containerRuntimeVersion", "kernlet://" + opt_.runtime_version},
                         {"kubeletVersion", opt_.version},
                         {"kubeProxyVersion", opt_.version},
                         {"operatingSystem", "linux"},
                         {"architecture", f.architecture}};
  return json::object{
      {"capacity", std::move(capacity)},
      {"allocatable", std::move(allocatable)},
      {"conditions", std::move(conditions)},
      {"addresses", std::move(addresses)},
      {"daemonEndpoints", json::object{{"kubeletEndpoint", json::object{{"Port", opt_.kubelet_port}}}}},
      {"nodeInfo", std::move(node_info)},
  };
}

Result<void> NodeStatusManager::register_node() {
  std::lock_guard sync_lock(sync_mu_);
  KL_TRY(load_facts());
  auto usage = read_host_usage(*host_, opt_.root_dir);
  if (!usage.ok()) return std::move(usage).error().context("register node " + opt_.node_name);
  KL_ASSIGN_OR_RETURN(json::object status, desired_status(json::object(), *usage, clock_->now()));
  json::array& addrs = status["addresses"].as_array();
  addrs.erase(addrs.end() - 1);  // the $patch directive is for patches only

  json::object node{{"apiVersion", "v1"},
                    {"kind", "Node"},
                    {"metadata", json::object{{"name", opt_.node_name},
                                              {"labels", default_labels()},
                                              {"annotations", json::object{{kAttachDetachAnnotation, "true"}}}}},
                    {"spec", json::object()},
                    {"status", std::move(status)}};
  auto created = client_->create(kNodes, node);
  if (created.ok()) {
    log_line('I', "registered node " + opt_.node_name);
    last_post_.reset();  // post the full status at the first check
    remember(std::move(*created));
    return Ok();
  }
  if (created.error().code() != ErrorCode::kAlreadyExists) {
    return std::move(created).error().context("register node " + opt_.node_name);
  }
  // The Node exists (an earlier run, or made by hand): make our labels and annotation
  // true on it, as the kubelet reconciles its default labels; the status follows.
  auto existing = client_->get(ref_);
  if (!existing.ok()) return std::move(existing).error().context("register node " + opt_.node_name);
  json::object labels_patch, annotations_patch;
  api::Meta meta(*existing);
  for (const auto& m : default_labels()) {
    if (meta.label(m.key()) != std::optional<std::string_view>(m.value().as_string())) labels_patch[m.key()] = m.value();
  }
  if (meta.annotation(kAttachDetachAnnotation) != std::optional<std::string_view>("true")) {
    annotations_patch[kAttachDetachAnnotation] = "true";
  }
  last_post_.reset();
  if (labels_patch.empty() && annotations_patch.empty()) {
    remember(std::move(*existing));
    return Ok();
  }
  json::object md;
  if (!labels_patch.empty()) md["labels"] = std::move(labels_patch);
  if (!annotations_patch.empty()) md["annotations"] = std::move(annotations_patch);
  auto patched = client_->patch(ref_, client::PatchType::kMerge, json::object{{"metadata", std::move(md)}});
  if (!patched.ok()) return std::move(patched).error().context("update labels of existing node " + opt_.node_name);
  log_line('I', "node " + opt_.node_name + " existed; labels updated");
  remember(std::move(*patched));
  return Ok();
}

Result<bool> NodeStatusManager::sync_status() {
  if (!registered()) KL_TRY(register_node());
  std::lock_guard sync_lock(sync_mu_);
  auto got = client_->get(ref_);
  if (!got.ok() && got.error().code() == ErrorCode::kNotFound) {
    // Deleted under us: register again at the next attempt (the kubelet would need a
    // restart; coming back by itself is what an operator expects of a live node).
    {
      std::lock_guard lock(mu_);
      registered_ = false;
    }
    return std::move(got).error().context("node " + opt_.node_name + " was deleted; registering again");
  }
  if (!got.ok()) return std::move(got).error().context("get node " + opt_.node_name);
  auto usage = read_host_usage(*host_, opt_.root_dir);
  if (!usage.ok()) return std::move(usage).error().context("status of node " + opt_.node_name);
  api::TimePoint now = clock_->now();
  const json::object& current = api::object_or_empty(*got, "status");
  KL_ASSIGN_OR_RETURN(json::object desired, desired_status(current, *usage, now));
  bool due = !last_post_ || now - *last_post_ >= opt_.report_interval;
  if (!due && !status_differs(current, desired)) {
    remember(std::move(*got));
    return false;
  }
  auto patched = client_->patch(ref_.sub("status"), client::PatchType::kStrategicMerge,
                                json::object{{"status", std::move(desired)}});
  if (!patched.ok()) return std::move(patched).error().context("post status of node " + opt_.node_name);
  last_post_ = now;
  {
    std::lock_guard lock(mu_);
    ++posts_;
  }
  remember(std::move(*patched));
  return true;
}

}  // namespace kernlet::agent
