#include "bpf/loader/sock_lb.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "api/unique_fd.h"
#include "bpf/loader/pinned_maps.h"
#include "kernlet_lb.h"
#include "sock_lb.skel.h"

namespace kernlet::bpf {

// The layouts the BPF side reads; a change here is a change of map version (_v2).
static_assert(sizeof(kl_lb_endpoint) == 24);
static_assert(offsetof(kl_lb_endpoint, port) == 16 && offsetof(kl_lb_endpoint, family) == 18 &&
              offsetof(kl_lb_endpoint, proto) == 19);
static_assert(sizeof(kl_lb_service) == 24);
static_assert(sizeof(kl_lb_slot_key) == 8);
static_assert(sizeof(kl_lb_member_key) == 32 && offsetof(kl_lb_member_key, backend) == 8);
static_assert(sizeof(kl_lb_affinity_key) == 16);
static_assert(sizeof(kl_lb_affinity) == 32);
static_assert(sizeof(kl_lb_revnat_key) == 32 && offsetof(kl_lb_revnat_key, backend) == 8);
static_assert(sizeof(kl_lb_drain_key) == 48);
static_assert(sizeof(kl_lb_stats) == 24 && offsetof(kl_lb_stats, refused) == 16);

namespace {

namespace fs = std::filesystem;

kl_lb_endpoint to_endpoint(const IpAddr& a, std::uint16_t port, std::uint8_t proto) {
  kl_lb_endpoint e{};
  std::memcpy(e.addr, a.bytes.data(), a.family == 4 ? 4 : 16);
  e.family = a.family == 4 ? KL_LB_FAMILY_V4 : KL_LB_FAMILY_V6;
  e.port = htons(port);
  e.proto = proto;
  return e;
}

kl_lb_endpoint to_endpoint(const ServiceKey& k) {
  return to_endpoint(k.vip, k.port, static_cast<std::uint8_t>(k.proto));
}

kl_lb_endpoint to_endpoint(const Backend& b) { return to_endpoint(b.addr, b.port, 0); }

Backend from_endpoint(const kl_lb_endpoint& e) {
  Backend b;
  b.addr.family = e.family == KL_LB_FAMILY_V4 ? 4 : 6;
  std::memcpy(b.addr.bytes.data(), e.addr, b.addr.family == 4 ? 4 : 16);
  b.port = ntohs(e.port);
  return b;
}

struct Installed {
  std::uint32_t service_id = 0;
  std::uint32_t backend_set = 0;
  ServiceSpec spec;
};

bool on_fs(const std::string& path, long magic) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == magic;
}

}  // namespace

Result<std::string> check_lb_cgroup(const std::string& path) {
  if (path.empty()) return Error(ErrorCode::kInvalidArgument, "service LB: no cgroup path given");
  std::error_code ec;
  fs::path canon = fs::canonical(path, ec);
  if (ec) return Error("service LB: cgroup " + path + ": " + ec.message(), ec.value());
  if (!fs::is_directory(canon)) return Error(ErrorCode::kInvalidArgument, "service LB: cgroup " + path + " is not a directory");
  if (!on_fs(canon, CGROUP2_SUPER_MAGIC))
    return Error(ErrorCode::kInvalidArgument, "service LB: " + path + " is not on a cgroup v2 filesystem");
  // The root of a hierarchy (/sys/fs/cgroup/unified, or /sys/fs/cgroup on a pure v2 host)
  // holds every process of the machine: attaching there would balance the host's traffic.
  if (canon == "/sys/fs/cgroup/unified" || canon == "/sys/fs/cgroup" ||
      !on_fs(canon.parent_path(), CGROUP2_SUPER_MAGIC))
    return Error(ErrorCode::kPermissionDenied,
                 "service LB: refusing to attach to " + canon.string() +
                     ": it is the root of a cgroup v2 hierarchy; give the pods' subtree");
  return canon.string();
}

struct SockLb::Impl {
  std::string cgroup;
  std::string pin_dir;
  UniqueFd cgroup_fd;
  sock_lb* skel = nullptr;
  std::vector<bpf_link*> cgroup_links;
  std::vector<UniqueFd> reused_links;  // pinned links from an earlier attach, updated in place
  bpf_link* iter_tcp = nullptr;
  bpf_link* iter_udp = nullptr;
  mutable std::mutex mu;
  std::map<ServiceKey, Installed> installed;
  std::uint32_t next_service_id = 1;
  std::uint32_t next_backend_set = 1;

  ~Impl() {
    for (bpf_link* l : cgroup_links) bpf_link__destroy(l);
    if (iter_tcp) bpf_link__destroy(iter_tcp);
    if (iter_udp) bpf_link__destroy(iter_udp);
    if (skel) sock_lb__destroy(skel);
  }

  int fd(bpf_map* m) const { return bpf_map__fd(m); }

  Result<void> attach_programs();
  Result<void> recover();
  Result<void> drain_locked(const ServiceKey& key, const std::vector<Backend>& backends);
  Result<void> create_stats(std::uint32_t service_id);
  ServiceStats read_stats(std::uint32_t service_id) const;
  void delete_set(std::uint32_t set, const std::vector<Backend>& backends);
  std::vector<std::size_t> write_new_services(const std::vector<ServiceSpec>& specs,
                                              const std::vector<std::size_t>& which);
};

namespace {

struct CgroupProg {
  bpf_program* prog;
  const char* name;
};

}  // namespace

Result<void> SockLb::Impl::attach_programs() {
  const CgroupProg progs[] = {
      {skel->progs.kl_lb4_connect, "kl_lb4_connect"},
      {skel->progs.kl_lb4_sendmsg, "kl_lb4_sendmsg"},
      {skel->progs.kl_lb4_recvmsg, "kl_lb4_recvmsg"},
      {skel->progs.kl_lb4_getpeername, "kl_lb4_getpeername"},
      {skel->progs.kl_lb6_connect, "kl_lb6_connect"},
      {skel->progs.kl_lb6_sendmsg, "kl_lb6_sendmsg"},
      {skel->progs.kl_lb6_recvmsg, "kl_lb6_recvmsg"},
      {skel->progs.kl_lb6_getpeername, "kl_lb6_getpeername"},
  };
  for (const CgroupProg& p : progs) {
    std::string pin = pin_dir.empty() ? "" : pin_dir + "/links_v1/" + p.name;
    if (!pin.empty() && ::access(pin.c_str(), F_OK) == 0) {
      // An earlier agent's link: swap its program for ours; there is no moment without one.
      UniqueFd link(bpf_obj_get(pin.c_str()));
      if (!link) return Error::from_errno("service LB: open pinned link " + pin);
      if (bpf_link_update(link.get(), bpf_program__fd(p.prog), nullptr) != 0)
        return Error::from_errno("service LB: update pinned link " + pin + " to the new " + p.name);
      reused_links.push_back(std::move(link));
      continue;
    }
    bpf_link* l = bpf_program__attach_cgroup(p.prog, cgroup_fd.get());
    if (l == nullptr)
      return Error("service LB: attach " + std::string(p.name) + " to cgroup " + cgroup, errno);
    cgroup_links.push_back(l);
    if (!pin.empty() && bpf_link__pin(l, pin.c_str()) != 0)
      return Error("service LB: pin link " + pin, errno);
  }
  iter_tcp = bpf_program__attach_iter(skel->progs.kl_lb_drain_tcp, nullptr);
  if (iter_tcp == nullptr) return Error("service LB: create iter/tcp link (kl_lb_drain_tcp)", errno);
  iter_udp = bpf_program__attach_iter(skel->progs.kl_lb_drain_udp, nullptr);
  if (iter_udp == nullptr) return Error("service LB: create iter/udp link (kl_lb_drain_udp)", errno);
  return Ok();
}

// Rebuilds the in-memory view from pinned maps an earlier attach left, so ids never clash
// and the next upsert knows which backends to drain.
Result<void> SockLb::Impl::recover() {
  // A loader killed during a drain leaves its (VIP, backend) pairs behind; the next drain's
  // iterators would destroy sockets of backends that came back meanwhile.
  kl_lb_drain_key dk{};
  while (bpf_map_get_next_key(fd(skel->maps.kl_lb_drain_v1), nullptr, &dk) == 0)
    if (bpf_map_delete_elem(fd(skel->maps.kl_lb_drain_v1), &dk) != 0) break;
  kl_lb_endpoint key{}, next{};
  kl_lb_endpoint* prev = nullptr;
  while (bpf_map_get_next_key(fd(skel->maps.kl_lb_services_v1), prev, &next) == 0) {
    key = next;
    prev = &key;
    kl_lb_service svc{};
    if (bpf_map_lookup_elem(fd(skel->maps.kl_lb_services_v1), &key, &svc) != 0) continue;
    Installed in;
    in.service_id = svc.service_id;
    in.backend_set = svc.backend_set;
    Backend vip = from_endpoint(key);
    in.spec.key = ServiceKey{vip.addr, vip.port, static_cast<Protocol>(key.proto)};
    in.spec.affinity = (svc.flags & KL_LB_FLAG_AFFINITY) != 0;
    in.spec.affinity_timeout_seconds = svc.affinity_timeout;
    for (std::uint32_t i = 0; i < svc.count; ++i) {
      kl_lb_slot_key sk{svc.backend_set, i};
      kl_lb_endpoint be{};
      if (bpf_map_lookup_elem(fd(skel->maps.kl_lb_slots_v1), &sk, &be) == 0)
        in.spec.backends.push_back(from_endpoint(be));
    }
    next_service_id = std::max(next_service_id, svc.service_id + 1);
    next_backend_set = std::max(next_backend_set, svc.backend_set + 1);
    installed[in.spec.key] = std::move(in);
  }
  // Counters: keep those of recovered services (an upgrade from an agent without counters
  // gets fresh ones), drop those of services removed while no agent was looking.
  std::set<std::uint32_t> ids;
  for (const auto& [_, in] : installed) {
    ids.insert(in.service_id);
    KL_TRY(create_stats(in.service_id));
  }
  std::uint32_t id = 0, next_id = 0;
  std::uint32_t* prev_id = nullptr;
  std::vector<std::uint32_t> stale;
  while (bpf_map_get_next_key(fd(skel->maps.kl_lb_stats_v1), prev_id, &next_id) == 0) {
    id = next_id;
    prev_id = &id;
    if (!ids.count(id)) stale.push_back(id);
  }
  for (std::uint32_t s : stale) bpf_map_delete_elem(fd(skel->maps.kl_lb_stats_v1), &s);
  return Ok();
}

// A zeroed counter entry for a service, unless one exists (kept across an agent restart).
Result<void> SockLb::Impl::create_stats(std::uint32_t service_id) {
  std::vector<kl_lb_stats> zero(static_cast<std::size_t>(std::max(libbpf_num_possible_cpus(), 1)));
  if (bpf_map_update_elem(fd(skel->maps.kl_lb_stats_v1), &service_id, zero.data(), BPF_NOEXIST) != 0 &&
      errno != EEXIST)
    return Error::from_errno("service LB: create counters of service id " + std::to_string(service_id) +
                             " in kl_lb_stats_v1");
  return Ok();
}

ServiceStats SockLb::Impl::read_stats(std::uint32_t service_id) const {
  std::vector<kl_lb_stats> per(static_cast<std::size_t>(std::max(libbpf_num_possible_cpus(), 1)));
  ServiceStats out;
  if (bpf_map_lookup_elem(fd(skel->maps.kl_lb_stats_v1), &service_id, per.data()) != 0) return out;
  for (const kl_lb_stats& c : per) {
    out.connects += c.connects;
    out.sendmsgs += c.sendmsgs;
    out.refused += c.refused;
  }
  return out;
}

SockLb::SockLb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SockLb::~SockLb() = default;

const std::string& SockLb::cgroup_path() const { return impl_->cgroup; }

Result<std::unique_ptr<SockLb>> SockLb::attach(const Options& options) {
  auto impl = std::make_unique<Impl>();
  KL_ASSIGN_OR_RETURN(impl->cgroup, check_lb_cgroup(options.cgroup_path));
  impl->cgroup_fd = UniqueFd(::open(impl->cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!impl->cgroup_fd) return Error::from_errno("service LB: open cgroup " + impl->cgroup);

  impl->pin_dir = options.pin_dir;
  if (!impl->pin_dir.empty()) {
    std::error_code ec;
    fs::create_directories(impl->pin_dir + "/links_v1", ec);
    if (ec) return Error("service LB: create pin directory " + impl->pin_dir + ": " + ec.message(), ec.value());
    if (!on_fs(impl->pin_dir, BPF_FS_MAGIC))
      return Error(ErrorCode::kInvalidArgument, "service LB: pin directory " + impl->pin_dir + " is not on a bpf filesystem");
  }

  impl->skel = sock_lb__open();
  if (impl->skel == nullptr) return Error("service LB: open the sock_lb BPF object", errno);
  if (!impl->pin_dir.empty()) {
    bpf_map* m;
    bpf_object__for_each_map(m, impl->skel->obj) {
      std::string p = impl->pin_dir + "/" + bpf_map__name(m);
      if (bpf_map__set_pin_path(m, p.c_str()) != 0)
        return Error("service LB: set pin path " + p, errno);
    }
  }
  KL_ASSIGN_OR_RETURN(PinnedMapUpgrade upgrade, PinnedMapUpgrade::prepare(impl->skel->obj, "service LB"));
  if (int err = sock_lb__load(impl->skel); err != 0)
    return Error("service LB: load sock_lb programs (verifier or pinned map layout; see libbpf's log)", -err);
  KL_TRY(upgrade.finish(impl->skel->obj));  // before the links switch to the new programs
  KL_TRY(impl->attach_programs());
  KL_TRY(impl->recover());
  return std::unique_ptr<SockLb>(new SockLb(std::move(impl)));
}

void SockLb::Impl::delete_set(std::uint32_t set, const std::vector<Backend>& backends) {
  for (std::uint32_t i = 0; i < backends.size(); ++i) {
    kl_lb_slot_key sk{set, i};
    bpf_map_delete_elem(fd(skel->maps.kl_lb_slots_v1), &sk);
    kl_lb_member_key mk{};
    mk.backend_set = set;
    mk.backend = to_endpoint(backends[i]);
    bpf_map_delete_elem(fd(skel->maps.kl_lb_members_v1), &mk);
  }
}

namespace {

Result<void> validate(const ServiceSpec& s) {
  const std::string name = "service " + s.key.to_string();
  if (s.key.vip.family != 4 && s.key.vip.family != 6)
    return Error(ErrorCode::kInvalidArgument, name + ": address family " + std::to_string(s.key.vip.family));
  if (s.key.port == 0) return Error(ErrorCode::kInvalidArgument, name + ": port 0");
  if (s.backends.size() > KL_LB_MAX_SLOTS / 4)
    return Error(ErrorCode::kResourceExhausted, name + ": " + std::to_string(s.backends.size()) + " backends is more than a service may have");
  std::set<Backend> seen;
  for (const auto* list : {&s.backends, &s.terminating}) {
    for (const Backend& b : *list) {
      if (b.addr.family != s.key.vip.family)
        return Error(ErrorCode::kInvalidArgument, name + ": backend " + b.to_string() + " is not of the VIP's address family");
      if (b.port == 0) return Error(ErrorCode::kInvalidArgument, name + ": backend " + b.to_string() + " has port 0");
      if (!seen.insert(b).second)
        return Error(ErrorCode::kInvalidArgument, name + ": backend " + b.to_string() + " is listed twice");
    }
  }
  return Ok();
}

std::vector<Backend> gone(const ServiceSpec& before, const ServiceSpec* after) {
  std::set<Backend> keep;
  if (after != nullptr) {
    keep.insert(after->backends.begin(), after->backends.end());
    keep.insert(after->terminating.begin(), after->terminating.end());
  }
  std::vector<Backend> out;
  for (const auto* list : {&before.backends, &before.terminating})
    for (const Backend& b : *list)
      if (!keep.count(b)) out.push_back(b);
  return out;
}

}  // namespace

Result<void> SockLb::upsert(const ServiceSpec& spec) {
  KL_TRY(validate(spec));
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  const std::string name = "service " + spec.key.to_string();
  auto it = m.installed.find(spec.key);
  Installed next;
  next.spec = spec;
  next.service_id = it != m.installed.end() ? it->second.service_id : m.next_service_id++;
  next.backend_set = m.next_backend_set++;
  if (m.next_backend_set == 0) m.next_backend_set = 1;

  // 1. The new backend set, under a generation no reader uses yet.
  for (std::uint32_t i = 0; i < spec.backends.size(); ++i) {
    kl_lb_slot_key sk{next.backend_set, i};
    kl_lb_endpoint be = to_endpoint(spec.backends[i]);
    kl_lb_member_key mk{};
    mk.backend_set = next.backend_set;
    mk.backend = be;
    if (bpf_map_update_elem(m.fd(m.skel->maps.kl_lb_slots_v1), &sk, &be, BPF_ANY) != 0 ||
        bpf_map_update_elem(m.fd(m.skel->maps.kl_lb_members_v1), &mk, &i, BPF_ANY) != 0) {
      Error e = Error::from_errno(name + ": write backend " + spec.backends[i].to_string() +
                                  " to kl_lb_slots_v1/kl_lb_members_v1");
      m.delete_set(next.backend_set, spec.backends);
      return e;
    }
  }
  // A new service's counters exist before the first connect() can find it (an installed
  // one has them: from its first upsert, or from recover()).
  if (auto r = it == m.installed.end() ? m.create_stats(next.service_id) : Result<void>(Ok()); !r.ok()) {
    m.delete_set(next.backend_set, spec.backends);
    return std::move(r).error().context(name);
  }
  // 2. Flip the service to it in one map write.
  kl_lb_endpoint key = to_endpoint(spec.key);
  kl_lb_service val{};
  val.service_id = next.service_id;
  val.backend_set = next.backend_set;
  val.count = static_cast<std::uint32_t>(spec.backends.size());
  val.flags = spec.affinity ? KL_LB_FLAG_AFFINITY : 0;
  val.affinity_timeout = spec.affinity_timeout_seconds;
  if (bpf_map_update_elem(m.fd(m.skel->maps.kl_lb_services_v1), &key, &val, BPF_ANY) != 0) {
    Error e = Error::from_errno(name + ": write kl_lb_services_v1");
    m.delete_set(next.backend_set, spec.backends);
    return e;
  }
  // 3. The old set is unreachable now; delete it and drain what left.
  std::vector<Backend> left;
  if (it != m.installed.end()) {
    m.delete_set(it->second.backend_set, it->second.spec.backends);
    left = gone(it->second.spec, &spec);
  }
  m.installed[spec.key] = std::move(next);
  return m.drain_locked(spec.key, left);
}

namespace {

// One BPF_MAP_UPDATE_BATCH of `n` entries; on failure *done is how many the kernel wrote
// (the first ones).
Result<void> update_batch(int map_fd, const void* keys, const void* values, std::uint32_t n, const char* map,
                          std::uint32_t* done) {
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY, .flags = 0);
  std::uint32_t count = n;
  *done = n;
  if (n == 0) return Ok();
  if (bpf_map_update_batch(map_fd, keys, values, &count, &opts) != 0) {
    Error e = Error::from_errno(std::string("service LB: batch update of ") + std::to_string(n) + " entries of " + map);
    *done = count;
    return e;
  }
  return Ok();
}

}  // namespace

std::vector<Result<void>> SockLb::upsert_many(const std::vector<ServiceSpec>& specs) {
  std::vector<Result<void>> out(specs.size(), Ok());
  std::vector<std::size_t> bulk, single;  // indexes into specs
  {
    std::lock_guard lock(impl_->mu);
    Impl& m = *impl_;
    std::set<ServiceKey> seen;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      // Invalid specs get upsert()'s error; a key installed or listed twice needs its drain.
      bool fresh = validate(specs[i]).ok() && !m.installed.count(specs[i].key) && seen.insert(specs[i].key).second;
      (fresh ? bulk : single).push_back(i);
    }
    if (!bulk.empty()) {
      std::vector<std::size_t> failed = m.write_new_services(specs, bulk);
      single.insert(single.end(), failed.begin(), failed.end());
      std::sort(single.begin(), single.end());
    }
  }
  for (std::size_t i : single) out[i] = upsert(specs[i]);
  return out;
}

// Writes services none of which is installed, each with a fresh id and backend set, in three
// steps so a connect() never finds a service whose backends or counters are missing: all
// slots and members, then all counters, then all service entries. Returns the indexes the
// kernel refused (their entries are deleted again, for upsert() to retry and name the error).
std::vector<std::size_t> SockLb::Impl::write_new_services(const std::vector<ServiceSpec>& specs,
                                                          const std::vector<std::size_t>& which) {
  const std::size_t cpus = static_cast<std::size_t>(std::max(libbpf_num_possible_cpus(), 1));
  std::vector<Installed> news(which.size());
  std::vector<kl_lb_slot_key> slot_keys;
  std::vector<kl_lb_endpoint> slot_vals;
  std::vector<kl_lb_member_key> member_keys;
  std::vector<std::uint32_t> member_vals;
  std::vector<std::uint32_t> stat_keys;
  std::vector<kl_lb_endpoint> svc_keys;
  std::vector<kl_lb_service> svc_vals;
  for (std::size_t j = 0; j < which.size(); ++j) {
    const ServiceSpec& spec = specs[which[j]];
    Installed& in = news[j];
    in.spec = spec;
    in.service_id = next_service_id++;
    in.backend_set = next_backend_set++;
    if (next_backend_set == 0) next_backend_set = 1;
    for (std::uint32_t i = 0; i < spec.backends.size(); ++i) {
      slot_keys.push_back(kl_lb_slot_key{in.backend_set, i});
      slot_vals.push_back(to_endpoint(spec.backends[i]));
      kl_lb_member_key mk{};
      mk.backend_set = in.backend_set;
      mk.backend = slot_vals.back();
      member_keys.push_back(mk);
      member_vals.push_back(i);
    }
    stat_keys.push_back(in.service_id);
    svc_keys.push_back(to_endpoint(spec.key));
    kl_lb_service val{};
    val.service_id = in.service_id;
    val.backend_set = in.backend_set;
    val.count = static_cast<std::uint32_t>(spec.backends.size());
    val.flags = spec.affinity ? KL_LB_FLAG_AFFINITY : 0;
    val.affinity_timeout = spec.affinity_timeout_seconds;
    svc_vals.push_back(val);
  }
  // Fresh ids have no counter entry (recover() dropped stale ones; remove() deletes them),
  // so writing zeroes with BPF_ANY is what create_stats()' BPF_NOEXIST would do.
  std::vector<kl_lb_stats> zero(stat_keys.size() * cpus);
  const auto n = [](const auto& v) { return static_cast<std::uint32_t>(v.size()); };
  std::uint32_t done = 0;
  std::size_t installed_ok = 0;  // the first ones whose service entry is written
  Result<void> batch = Ok();
  auto step = [&](int map_fd, const void* keys, const void* values, std::uint32_t count, const char* map) {
    batch = update_batch(map_fd, keys, values, count, map, &done);
    return batch.ok();
  };
  bool ok = step(fd(skel->maps.kl_lb_slots_v1), slot_keys.data(), slot_vals.data(), n(slot_keys), "kl_lb_slots_v1") &&
            step(fd(skel->maps.kl_lb_members_v1), member_keys.data(), member_vals.data(), n(member_keys),
                 "kl_lb_members_v1") &&
            step(fd(skel->maps.kl_lb_stats_v1), stat_keys.data(), zero.data(), n(stat_keys), "kl_lb_stats_v1");
  if (ok) {
    ok = step(fd(skel->maps.kl_lb_services_v1), svc_keys.data(), svc_vals.data(), n(svc_keys), "kl_lb_services_v1");
    installed_ok = ok ? news.size() : std::min<std::size_t>(done, news.size());
  }
  if (!ok)  // still correct (upsert() writes the rest), only slower: say why
    std::fprintf(stderr, "W %s; writing the %zu services left one by one\n", batch.error().to_string().c_str(),
                 news.size() - installed_ok);
  std::vector<std::size_t> failed;
  for (std::size_t j = 0; j < news.size(); ++j) {
    if (j < installed_ok) {
      installed[news[j].spec.key] = std::move(news[j]);
      continue;
    }
    // Not reachable (no service entry): undo what the batches wrote of it.
    delete_set(news[j].backend_set, news[j].spec.backends);
    bpf_map_delete_elem(fd(skel->maps.kl_lb_stats_v1), &news[j].service_id);
    failed.push_back(which[j]);
  }
  return failed;
}

Result<void> SockLb::remove(const ServiceKey& key) {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  auto it = m.installed.find(key);
  if (it == m.installed.end()) return Ok();
  kl_lb_endpoint k = to_endpoint(key);
  if (bpf_map_delete_elem(m.fd(m.skel->maps.kl_lb_services_v1), &k) != 0 && errno != ENOENT)
    return Error::from_errno("service " + key.to_string() + ": delete from kl_lb_services_v1");
  m.delete_set(it->second.backend_set, it->second.spec.backends);
  std::uint32_t id = it->second.service_id;
  bpf_map_delete_elem(m.fd(m.skel->maps.kl_lb_stats_v1), &id);
  std::vector<Backend> left = gone(it->second.spec, nullptr);
  m.installed.erase(it);
  return m.drain_locked(key, left);
}

std::vector<ServiceKey> SockLb::services() const {
  std::lock_guard lock(impl_->mu);
  std::vector<ServiceKey> out;
  for (const auto& [k, _] : impl_->installed) out.push_back(k);
  return out;
}

std::map<ServiceKey, ServiceStats> SockLb::stats() const {
  std::lock_guard lock(impl_->mu);
  std::map<ServiceKey, ServiceStats> out;
  for (const auto& [k, in] : impl_->installed) out[k] = impl_->read_stats(in.service_id);
  return out;
}

Result<void> SockLb::drain(const ServiceKey& key, const std::vector<Backend>& backends) {
  std::lock_guard lock(impl_->mu);
  return impl_->drain_locked(key, backends);
}

namespace {

// The distinct network namespaces of the processes in a cgroup subtree, as open fds.
std::vector<UniqueFd> netns_of_subtree(const std::string& cgroup) {
  std::vector<UniqueFd> out;
  std::set<std::pair<dev_t, ino_t>> seen;
  auto visit = [&](const fs::path& dir) {
    std::ifstream procs(dir / "cgroup.procs");
    pid_t pid;
    while (procs >> pid) {
      UniqueFd ns(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns) continue;  // the process exited meanwhile
      struct stat st {};
      if (::fstat(ns.get(), &st) != 0) continue;
      if (seen.insert({st.st_dev, st.st_ino}).second) out.push_back(std::move(ns));
    }
  };
  visit(cgroup);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(cgroup, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) visit(it->path());
  }
  return out;
}

// Runs the iterator behind `link_fd` to its end in the calling thread's network namespace.
Result<void> run_iter(int link_fd, const char* what) {
  UniqueFd it(bpf_iter_create(link_fd));
  if (!it) return Error::from_errno(std::string("service LB: create ") + what + " iterator");
  char buf[256];
  for (;;) {
    ssize_t n = ::read(it.get(), buf, sizeof buf);
    if (n == 0) return Ok();
    if (n < 0 && errno != EINTR) return Error::from_errno(std::string("service LB: run ") + what + " iterator");
  }
}

}  // namespace

Result<void> SockLb::Impl::drain_locked(const ServiceKey& key, const std::vector<Backend>& backends) {
  if (backends.empty()) return Ok();
  const std::string name = "service " + key.to_string();
  std::vector<kl_lb_drain_key> keys;
  for (const Backend& b : backends) {
    kl_lb_drain_key dk{};
    dk.vip = to_endpoint(key);
    dk.backend = to_endpoint(b);
    std::uint32_t one = 1;
    if (bpf_map_update_elem(fd(skel->maps.kl_lb_drain_v1), &dk, &one, BPF_ANY) != 0) {
      Error e = Error::from_errno(name + ": drain " + b.to_string() + ": write kl_lb_drain_v1");
      for (const auto& k : keys) bpf_map_delete_elem(fd(skel->maps.kl_lb_drain_v1), &k);
      return e;
    }
    keys.push_back(dk);
  }

  Result<void> result = Ok();
  for (UniqueFd& ns : netns_of_subtree(cgroup)) {
    // setns(CLONE_NEWNET) changes only the calling thread, and this thread ends with it.
    std::thread worker([&] {
      if (::setns(ns.get(), CLONE_NEWNET) != 0) {
        result = Error::from_errno(name + ": drain: enter a pod network namespace");
        return;
      }
      if (auto r = run_iter(bpf_link__fd(iter_tcp), "iter/tcp"); !r) result = std::move(r).error().context(name);
      if (auto r = run_iter(bpf_link__fd(iter_udp), "iter/udp"); !r) result = std::move(r).error().context(name);
    });
    worker.join();
  }
  for (const auto& k : keys) bpf_map_delete_elem(fd(skel->maps.kl_lb_drain_v1), &k);
  return result;
}

Result<void> SockLb::unpin() {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  if (m.pin_dir.empty()) return Ok();
  Result<void> result = Ok();
  std::error_code ec;
  fs::remove_all(m.pin_dir + "/links_v1", ec);
  if (ec) result = Error("service LB: unpin links in " + m.pin_dir + ": " + ec.message(), ec.value());
  bpf_map* map;
  bpf_object__for_each_map(map, m.skel->obj) {
    if (bpf_map__unpin(map, nullptr) != 0 && errno != ENOENT && result)
      result = Error("service LB: unpin map " + std::string(bpf_map__name(map)), errno);
  }
  // Pinned links were attached by us; closing our fds now detaches them.
  return result;
}

}  // namespace kernlet::bpf
