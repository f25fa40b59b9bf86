#include "bpf/loader/nodeport_lb.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "bpf/loader/pinned_maps.h"
#include "kernlet_lb.h"
#include "nodeport.skel.h"

namespace kernlet::bpf {

// The layouts the BPF side reads; a change here is a change of map version (_v2).
static_assert(sizeof(kl_np_service_key) == 8 && offsetof(kl_np_service_key, port) == 4 &&
              offsetof(kl_np_service_key, proto) == 6);
static_assert(sizeof(kl_np_service) == 16);
static_assert(sizeof(kl_np_backend) == 8 && offsetof(kl_np_backend, flags) == 6);
static_assert(sizeof(kl_np_member_key) == 12 && offsetof(kl_np_member_key, port) == 8);
static_assert(sizeof(kl_np_src_range_key) == 12 && offsetof(kl_np_src_range_key, addr) == 8);
static_assert(sizeof(kl_np_ct_key) == 16 && offsetof(kl_np_ct_key, proto) == 12 &&
              offsetof(kl_np_ct_key, dir) == 13);
static_assert(sizeof(kl_np_ct) == 24 && offsetof(kl_np_ct, last_seen_ns) == 16);
static_assert(sizeof(kl_np_config) == 8);
static_assert(KL_NP_DROP_REASONS == 6);
static_assert(sizeof(kl_np_stats) == 40 && offsetof(kl_np_stats, denied) == 32);

namespace {

namespace fs = std::filesystem;

// tc filter identity: one handle and priority for both hooks, so a new agent's filter
// replaces the old one in place (BPF_TC_F_REPLACE) instead of adding a second.
constexpr std::uint32_t kTcHandle = 0x6b6c;  // "kl"
constexpr std::uint32_t kTcPriority = 0x6b6c;

std::uint32_t v4(const IpAddr& a) {
  std::uint32_t x;
  std::memcpy(&x, a.bytes.data(), 4);
  return x;
}

kl_np_service_key to_key(const ServiceKey& k) {
  kl_np_service_key out{};
  out.addr = v4(k.vip);
  out.port = htons(k.port);
  out.proto = static_cast<std::uint8_t>(k.proto);
  return out;
}

ServiceKey from_key(const kl_np_service_key& k) {
  ServiceKey out;
  out.vip.family = 4;
  std::memcpy(out.vip.bytes.data(), &k.addr, 4);
  out.port = ntohs(k.port);
  out.proto = static_cast<Protocol>(k.proto);
  return out;
}

kl_np_member_key member_key(std::uint32_t set, const Backend& b) {
  kl_np_member_key mk{};
  mk.backend_set = set;
  mk.addr = v4(b.addr);
  mk.port = htons(b.port);
  return mk;
}

kl_np_src_range_key range_key(std::uint32_t service_id, const Cidr& c) {
  kl_np_src_range_key k{};
  k.prefixlen = 32 + static_cast<std::uint32_t>(c.prefix);
  k.service_id = htonl(service_id);
  k.addr = v4(c.addr);
  return k;
}

bool on_fs(const std::string& path, long magic) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == magic;
}

// What one key holds in the maps, so an update or removal deletes exactly it.
struct Installed {
  std::uint32_t service_id = 0;
  std::uint32_t backend_set = 0;
  std::uint32_t slots = 0;
  std::vector<kl_np_member_key> members;
  std::vector<kl_np_src_range_key> ranges;
};

bool same_range(const kl_np_src_range_key& a, const kl_np_src_range_key& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

Result<void> validate(const NodePortSpec& s) {
  const std::string name = "nodeport service " + s.key.to_string();
  if (s.key.vip.family != 4) return Error(ErrorCode::kInvalidArgument, name + ": only IPv4 is supported by the tc datapath");
  if (s.key.port == 0) return Error(ErrorCode::kInvalidArgument, name + ": port 0");
  if (s.backends.size() > KL_NP_MAX_SLOTS / 4)
    return Error(ErrorCode::kResourceExhausted, name + ": " + std::to_string(s.backends.size()) + " backends is more than a service may have");
  std::set<Backend> seen;
  auto check = [&](const Backend& b) -> Result<void> {
    if (b.addr.family != 4) return Error(ErrorCode::kInvalidArgument, name + ": backend " + b.to_string() + " is not IPv4");
    if (b.port == 0) return Error(ErrorCode::kInvalidArgument, name + ": backend " + b.to_string() + " has port 0");
    if (!seen.insert(b).second) return Error(ErrorCode::kInvalidArgument, name + ": backend " + b.to_string() + " is listed twice");
    return Ok();
  };
  for (const auto& b : s.backends) KL_TRY(check(b.backend));
  for (const auto& b : s.terminating) KL_TRY(check(b));
  for (const auto& c : s.source_ranges)
    if (c.addr.family != 4 || c.prefix < 0 || c.prefix > 32)
      return Error(ErrorCode::kInvalidArgument, name + ": source range " + c.to_string() + " is not an IPv4 CIDR");
  return Ok();
}

// The inode of the calling thread's network namespace (0 if unknown).
ino_t current_netns() {
  struct stat st {};
  return ::stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

}  // namespace

struct NodePortLb::Impl {
  std::string interface;
  int ifindex = 0;
  ino_t netns = 0;  // where ifindex is valid
  bool created_qdisc = false;
  std::string pin_dir;
  nodeport* skel = nullptr;
  mutable std::mutex mu;
  std::map<ServiceKey, Installed> installed;
  std::uint32_t next_service_id = 1;
  std::uint32_t next_backend_set = 1;
  bool attached = false;

  ~Impl() {
    if (attached && pin_dir.empty()) (void)detach();
    if (skel) nodeport__destroy(skel);
  }

  int fd(bpf_map* m) const { return bpf_map__fd(m); }

  Result<void> attach();
  Result<void> detach();
  Result<void> recover();
  Result<void> create_stats(std::uint32_t service_id);
  NodePortStats read_stats(std::uint32_t service_id) const;
  void delete_installed(const Installed& in, const std::vector<kl_np_src_range_key>* keep_ranges);
};

Result<void> NodePortLb::Impl::attach() {
  ifindex = static_cast<int>(::if_nametoindex(interface.c_str()));
  if (ifindex == 0) return Error::from_errno("nodeport: interface " + interface);
  netns = current_netns();
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  int rc = bpf_tc_hook_create(&hook);
  if (rc != 0 && rc != -EEXIST) return Error("nodeport: create clsact qdisc on " + interface, -rc);
  created_qdisc = rc == 0;
  const std::pair<bpf_tc_attach_point, bpf_program*> hooks[] = {
      {BPF_TC_INGRESS, skel->progs.kl_np_ingress}, {BPF_TC_EGRESS, skel->progs.kl_np_egress}};
  for (const auto& [point, prog] : hooks) {
    hook.attach_point = point;
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(prog), .flags = BPF_TC_F_REPLACE,
                .handle = kTcHandle, .priority = kTcPriority);
    if (int err = bpf_tc_attach(&hook, &opts); err != 0)
      return Error("nodeport: attach " + std::string(bpf_program__name(prog)) + " to tc " +
                       (point == BPF_TC_INGRESS ? "ingress" : "egress") + " of " + interface,
                   -err);
    attached = true;
  }
  return Ok();
}

Result<void> NodePortLb::Impl::detach() {
  if (ifindex == 0) return Ok();
  // An ifindex means nothing in another network namespace: detaching there could remove
  // another interface's qdisc.
  if (current_netns() != netns)
    return Error(ErrorCode::kConflict,
                 "nodeport: detach from " + interface + " must run in the network namespace it was attached in");
  Result<void> result = Ok();
  for (bpf_tc_attach_point point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
    int err = bpf_tc_detach(&hook, &opts);
    if (err != 0 && err != -ENOENT && err != -ENODEV && result)
      result = Error("nodeport: detach tc filter from " + interface, -err);
  }
  if (created_qdisc) {
    // Only a qdisc this object created: another tool's clsact filters stay.
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    (void)bpf_tc_hook_destroy(&hook);
    created_qdisc = false;
  }
  attached = false;
  return result;
}

// Rebuilds what each pinned service holds, so ids never clash and updates delete exactly
// the entries the earlier agent wrote.
Result<void> NodePortLb::Impl::recover() {
  std::map<std::uint32_t, ServiceKey> by_set, by_id;
  kl_np_service_key k{}, next{};
  kl_np_service_key* prev = nullptr;
  while (bpf_map_get_next_key(fd(skel->maps.kl_np_services_v1), prev, &next) == 0) {
    k = next;
    prev = &k;
    kl_np_service svc{};
    if (bpf_map_lookup_elem(fd(skel->maps.kl_np_services_v1), &k, &svc) != 0) continue;
    Installed in;
    in.service_id = svc.service_id;
    in.backend_set = svc.backend_set;
    in.slots = svc.count;
    ServiceKey key = from_key(k);
    by_set[svc.backend_set] = key;
    by_id[svc.service_id] = key;
    next_service_id = std::max(next_service_id, svc.service_id + 1);
    next_backend_set = std::max(next_backend_set, svc.backend_set + 1);
    installed[key] = std::move(in);
  }
  kl_np_member_key mk{}, mnext{};
  kl_np_member_key* mprev = nullptr;
  while (bpf_map_get_next_key(fd(skel->maps.kl_np_members_v1), mprev, &mnext) == 0) {
    mk = mnext;
    mprev = &mk;
    if (auto it = by_set.find(mk.backend_set); it != by_set.end()) installed[it->second].members.push_back(mk);
  }
  kl_np_src_range_key rk{}, rnext{};
  kl_np_src_range_key* rprev = nullptr;
  while (bpf_map_get_next_key(fd(skel->maps.kl_np_src_ranges_v1), rprev, &rnext) == 0) {
    rk = rnext;
    rprev = &rk;
    if (auto it = by_id.find(ntohl(rk.service_id)); it != by_id.end()) installed[it->second].ranges.push_back(rk);
  }
  // Counters: those of recovered services are kept (created fresh after an upgrade from an
  // agent without them); those of services removed while no agent ran are dropped.
  for (const auto& [id, _] : by_id) KL_TRY(create_stats(id));
  std::uint32_t id = 0, next_id = 0;
  std::uint32_t* prev_id = nullptr;
  std::vector<std::uint32_t> stale;
  while (bpf_map_get_next_key(fd(skel->maps.kl_np_stats_v1), prev_id, &next_id) == 0) {
    id = next_id;
    prev_id = &id;
    if (!by_id.count(id)) stale.push_back(id);
  }
  for (std::uint32_t s : stale) bpf_map_delete_elem(fd(skel->maps.kl_np_stats_v1), &s);
  return Ok();
}

// A zeroed counter entry for a service, unless one exists (kept across an agent restart).
Result<void> NodePortLb::Impl::create_stats(std::uint32_t service_id) {
  std::vector<kl_np_stats> zero(static_cast<std::size_t>(std::max(libbpf_num_possible_cpus(), 1)));
  if (bpf_map_update_elem(fd(skel->maps.kl_np_stats_v1), &service_id, zero.data(), BPF_NOEXIST) != 0 &&
      errno != EEXIST)
    return Error::from_errno("nodeport: create counters of service id " + std::to_string(service_id) +
                             " in kl_np_stats_v1");
  return Ok();
}

NodePortStats NodePortLb::Impl::read_stats(std::uint32_t service_id) const {
  std::vector<kl_np_stats> per(static_cast<std::size_t>(std::max(libbpf_num_possible_cpus(), 1)));
  NodePortStats out;
  if (bpf_map_lookup_elem(fd(skel->maps.kl_np_stats_v1), &service_id, per.data()) != 0) return out;
  for (const kl_np_stats& c : per) {
    out.flows += c.flows;
    out.packets += c.packets;
    out.bytes += c.bytes;
    out.no_backend += c.no_backend;
    out.denied += c.denied;
  }
  return out;
}

void NodePortLb::Impl::delete_installed(const Installed& in, const std::vector<kl_np_src_range_key>* keep_ranges) {
  for (std::uint32_t i = 0; i < in.slots; ++i) {
    kl_lb_slot_key sk{in.backend_set, i};
    bpf_map_delete_elem(fd(skel->maps.kl_np_slots_v1), &sk);
  }
  for (const auto& mk : in.members) bpf_map_delete_elem(fd(skel->maps.kl_np_members_v1), &mk);
  for (const auto& rk : in.ranges) {
    bool keep = false;
    if (keep_ranges)
      for (const auto& k : *keep_ranges) keep = keep || same_range(k, rk);
    if (!keep) bpf_map_delete_elem(fd(skel->maps.kl_np_src_ranges_v1), &rk);
  }
}

NodePortLb::NodePortLb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodePortLb::~NodePortLb() = default;

Result<std::unique_ptr<NodePortLb>> NodePortLb::load(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->interface = options.interface;
  impl->pin_dir = options.pin_dir;
  if (options.snat_addr && options.snat_addr->family != 4)
    return Error(ErrorCode::kInvalidArgument, "nodeport: SNAT address " + options.snat_addr->to_string() + " is not IPv4");
  if (options.snat_port_min == 0 || options.snat_port_min > options.snat_port_max)
    return Error(ErrorCode::kInvalidArgument, "nodeport: SNAT port range " + std::to_string(options.snat_port_min) + "-" +
                                                  std::to_string(options.snat_port_max) + " is empty or starts at 0");
  if (!impl->pin_dir.empty()) {
    std::error_code ec;
    fs::create_directories(impl->pin_dir, ec);
    if (ec) return Error("nodeport: create pin directory " + impl->pin_dir + ": " + ec.message(), ec.value());
    if (!on_fs(impl->pin_dir, BPF_FS_MAGIC))
      return Error(ErrorCode::kInvalidArgument, "nodeport: pin directory " + impl->pin_dir + " is not on a bpf filesystem");
  }
  impl->skel = nodeport__open();
  if (impl->skel == nullptr) return Error("nodeport: open the nodeport BPF object", errno);
  if (!impl->pin_dir.empty()) {
    bpf_map* m;
    bpf_object__for_each_map(m, impl->skel->obj) {
      std::string p = impl->pin_dir + "/" + bpf_map__name(m);
      if (bpf_map__set_pin_path(m, p.c_str()) != 0) return Error("nodeport: set pin path " + p, errno);
    }
  }
  KL_ASSIGN_OR_RETURN(PinnedMapUpgrade upgrade, PinnedMapUpgrade::prepare(impl->skel->obj, "nodeport"));
  if (int err = nodeport__load(impl->skel); err != 0)
    return Error("nodeport: load nodeport programs (verifier or pinned map layout; see libbpf's log)", -err);
  KL_TRY(upgrade.finish(impl->skel->obj));  // before the programs are attached

  kl_np_config cfg{};
  cfg.snat_addr = options.snat_addr ? v4(*options.snat_addr) : 0;
  cfg.snat_port_min = options.snat_port_min;
  cfg.snat_port_max = options.snat_port_max;
  std::uint32_t zero = 0;
  if (bpf_map_update_elem(impl->fd(impl->skel->maps.kl_np_config_v1), &zero, &cfg, BPF_ANY) != 0)
    return Error::from_errno("nodeport: write kl_np_config_v1");
  KL_TRY(impl->recover());
  if (!impl->interface.empty()) KL_TRY(impl->attach());
  return std::unique_ptr<NodePortLb>(new NodePortLb(std::move(impl)));
}

Result<void> NodePortLb::upsert(const NodePortSpec& spec) {
  KL_TRY(validate(spec));
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  const std::string name = "nodeport service " + spec.key.to_string();
  auto it = m.installed.find(spec.key);
  Installed next;
  next.service_id = it != m.installed.end() ? it->second.service_id : m.next_service_id++;
  next.backend_set = m.next_backend_set++;
  if (m.next_backend_set == 0) m.next_backend_set = 1;
  next.slots = static_cast<std::uint32_t>(spec.backends.size());

  auto fail = [&](const std::string& what) {
    Error e = Error::from_errno(name + ": " + what);
    m.delete_installed(next, it != m.installed.end() ? &it->second.ranges : nullptr);
    return e;
  };
  // 1. The new backend set and source ranges, under keys no reader uses yet (ranges are
  //    keyed by the stable service id; a range both old and new is simply rewritten).
  const std::uint32_t one = 1;
  for (std::uint32_t i = 0; i < spec.backends.size(); ++i) {
    const NodePortBackend& b = spec.backends[i];
    kl_lb_slot_key sk{next.backend_set, i};
    kl_np_backend v{};
    v.addr = v4(b.backend.addr);
    v.port = htons(b.backend.port);
    v.flags = b.remote ? KL_NP_BACKEND_REMOTE : 0;
    if (bpf_map_update_elem(m.fd(m.skel->maps.kl_np_slots_v1), &sk, &v, BPF_ANY) != 0)
      return fail("write backend " + b.backend.to_string() + " to kl_np_slots_v1");
  }
  std::vector<Backend> members;
  for (const auto& b : spec.backends) members.push_back(b.backend);
  members.insert(members.end(), spec.terminating.begin(), spec.terminating.end());
  for (const Backend& b : members) {
    kl_np_member_key mk = member_key(next.backend_set, b);
    if (bpf_map_update_elem(m.fd(m.skel->maps.kl_np_members_v1), &mk, &one, BPF_ANY) != 0)
      return fail("write backend " + b.to_string() + " to kl_np_members_v1");
    next.members.push_back(mk);
  }
  for (const Cidr& c : spec.source_ranges) {
    kl_np_src_range_key rk = range_key(next.service_id, c);
    const std::uint8_t yes = 1;
    if (bpf_map_update_elem(m.fd(m.skel->maps.kl_np_src_ranges_v1), &rk, &yes, BPF_ANY) != 0)
      return fail("write source range " + c.to_string() + " to kl_np_src_ranges_v1");
    next.ranges.push_back(rk);
  }
  // A new service's counters exist before its first packet (an installed one has them).
  if (auto r = it == m.installed.end() ? m.create_stats(next.service_id) : Result<void>(Ok()); !r.ok()) {
    m.delete_installed(next, it != m.installed.end() ? &it->second.ranges : nullptr);
    return std::move(r).error().context(name);
  }
  // 2. Flip the service to them in one map write.
  kl_np_service_key key = to_key(spec.key);
  kl_np_service val{};
  val.service_id = next.service_id;
  val.backend_set = next.backend_set;
  val.count = next.slots;
  val.flags = (spec.local_policy ? KL_NP_FLAG_LOCAL : 0) | (spec.source_ranges.empty() ? 0 : KL_NP_FLAG_SRC_RANGES);
  if (bpf_map_update_elem(m.fd(m.skel->maps.kl_np_services_v1), &key, &val, BPF_ANY) != 0)
    return fail("write kl_np_services_v1");
  // 3. The old set is unreachable now.
  if (it != m.installed.end()) m.delete_installed(it->second, &next.ranges);
  m.installed[spec.key] = std::move(next);
  return Ok();
}

Result<void> NodePortLb::remove(const ServiceKey& key) {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  auto it = m.installed.find(key);
  if (it == m.installed.end()) return Ok();
  kl_np_service_key k = to_key(key);
  if (bpf_map_delete_elem(m.fd(m.skel->maps.kl_np_services_v1), &k) != 0 && errno != ENOENT)
    return Error::from_errno("nodeport service " + key.to_string() + ": delete from kl_np_services_v1");
  m.delete_installed(it->second, nullptr);
  std::uint32_t id = it->second.service_id;
  bpf_map_delete_elem(m.fd(m.skel->maps.kl_np_stats_v1), &id);
  m.installed.erase(it);
  return Ok();
}

std::vector<ServiceKey> NodePortLb::services() const {
  std::lock_guard lock(impl_->mu);
  std::vector<ServiceKey> out;
  for (const auto& [k, _] : impl_->installed) out.push_back(k);
  return out;
}

std::map<ServiceKey, NodePortStats> NodePortLb::stats() const {
  std::lock_guard lock(impl_->mu);
  std::map<ServiceKey, NodePortStats> out;
  for (const auto& [k, in] : impl_->installed) out[k] = impl_->read_stats(in.service_id);
  return out;
}

int NodePortLb::program_fd(Hook hook) const {
  return bpf_program__fd(hook == Hook::kIngress ? impl_->skel->progs.kl_np_ingress : impl_->skel->progs.kl_np_egress);
}

std::array<std::uint64_t, 6> NodePortLb::drops() const {
  std::array<std::uint64_t, 6> out{};
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return out;
  std::vector<std::uint64_t> per(static_cast<std::size_t>(cpus));
  for (std::uint32_t r = 0; r < KL_NP_DROP_REASONS; ++r) {
    if (bpf_map_lookup_elem(impl_->fd(impl_->skel->maps.kl_np_drops_v1), &r, per.data()) != 0) continue;
    for (std::uint64_t n : per) out[r] += n;
  }
  return out;
}

std::size_t NodePortLb::conntrack_entries() const {
  std::size_t n = 0;
  kl_np_ct_key k{}, next{};
  kl_np_ct_key* prev = nullptr;
  while (bpf_map_get_next_key(impl_->fd(impl_->skel->maps.kl_np_ct_v1), prev, &next) == 0) {
    k = next;
    prev = &k;
    ++n;
  }
  return n;
}

Result<void> NodePortLb::detach_and_unpin() {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  Result<void> result = m.detach();
  if (m.pin_dir.empty()) return result;
  bpf_map* map;
  bpf_object__for_each_map(map, m.skel->obj) {
    if (bpf_map__unpin(map, nullptr) != 0 && errno != ENOENT && result)
      result = Error("nodeport: unpin map " + std::string(bpf_map__name(map)), errno);
  }
  return result;
}

}  // namespace kernlet::bpf
