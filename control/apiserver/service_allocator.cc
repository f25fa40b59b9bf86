#include "control/apiserver/service_allocator.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "api/object.h"
#include "api/validation.h"

namespace kernlet::apiserver {
namespace {

constexpr std::string_view kKubernetesServiceKey = "default/kubernetes";

enum class IpParse { kOk, kLeadingZero, kInvalid };

// Strict dotted-quad IPv4: four decimal parts 0-255. Leading zeros are reported apart
// because Kubernetes' validation has its own message for them.
IpParse parse_ipv4(std::string_view s, uint32_t& out) {
  uint32_t v = 0;
  bool leading_zero = false;
  for (int part = 0; part < 4; ++part) {
    std::size_t dot = s.find('.');
    if ((part < 3) != (dot != std::string_view::npos)) return IpParse::kInvalid;
    std::string_view p = part < 3 ? s.substr(0, dot) : s;
    if (p.empty() || p.size() > 3) return IpParse::kInvalid;
    unsigned n = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (ec != std::errc() || end != p.data() + p.size() || n > 255) return IpParse::kInvalid;
    if (p.size() > 1 && p[0] == '0') leading_zero = true;
    v = (v << 8) | n;
    if (part < 3) s.remove_prefix(dot + 1);
  }
  out = v;
  return leading_zero ? IpParse::kLeadingZero : IpParse::kOk;
}

std::string format_ipv4(uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 8) & 0xff) +
         "." + std::to_string(v & 0xff);
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t n = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

// Upstream's calculateRangeOffset: min(max(lo, size/step), hi), 0 for ranges of lo or less.
std::size_t static_band(uint64_t size, uint64_t lo, uint64_t hi, uint64_t step) {
  if (size <= lo) return 0;
  return static_cast<std::size_t>(std::clamp(size / step, lo, hi));
}

// Go's %#v of a []string.
std::string go_string_slice(const std::vector<std::string>& v) {
  std::string s = "[]string{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) s += ", ";
    s += api::go_quote(v[i]);
  }
  return s + "}";
}

api::StatusCause invalid_cause(std::string field, std::string go_value, std::string_view detail) {
  return {std::string(api::field_error_type::kInvalid), "Invalid value: " + go_value + ": " + std::string(detail),
          std::move(field)};
}

std::string owner_key(const json::object& svc) {
  const json::object* meta = json::get_object(svc, "metadata");
  if (meta == nullptr) return "/";
  return std::string(json::get_string(*meta, "namespace")) + "/" + std::string(json::get_string(*meta, "name"));
}

std::string_view type_of(const json::object& spec) { return json::get_string(spec, "type", "ClusterIP"); }
bool needs_node_ports(std::string_view type) { return type == "NodePort" || type == "LoadBalancer"; }
bool should_allocate_node_ports(const json::object& spec) {
  std::string_view t = type_of(spec);
  return t == "NodePort" || (t == "LoadBalancer" && json::get_bool_or(spec, "allocateLoadBalancerNodePorts", true));
}
bool needs_health_check(const json::object& spec) {
  return type_of(spec) == "LoadBalancer" && json::get_string(spec, "externalTrafficPolicy") == "Local";
}

// clusterIPs[0] when set, else clusterIP.
std::string primary_ip(const json::object& spec) {
  if (const json::array* ips = json::get_array(spec, "clusterIPs"); ips != nullptr && !ips->empty()) {
    if ((*ips)[0].is_string() && !(*ips)[0].get_string().empty()) return std::string((*ips)[0].get_string());
  }
  return std::string(json::get_string(spec, "clusterIP"));
}

// The clusterIPs a message shows (Kubernetes prints the whole slice).
std::vector<std::string> cluster_ips_for_message(const json::object& spec, const std::string& ip) {
  std::vector<std::string> out;
  if (const json::array* ips = json::get_array(spec, "clusterIPs"))
    for (const auto& v : *ips)
      if (v.is_string()) out.emplace_back(v.get_string());
  if (out.empty()) out.push_back(ip);
  return out;
}

int64_t node_port_of(const json::object& p) { return json::get_int_or(p, "nodePort", 0); }

std::vector<json::object*> port_objects(json::object& spec) {
  std::vector<json::object*> out;
  if (json::array* a = json::get_array(spec, "ports"))
    for (auto& v : *a)
      if (v.is_object()) out.push_back(&v.as_object());
  return out;
}

std::vector<const json::object*> port_objects(const json::object& spec) {
  std::vector<const json::object*> out;
  if (const json::array* a = json::get_array(spec, "ports"))
    for (const auto& v : *a)
      if (v.is_object()) out.push_back(&v.as_object());
  return out;
}

std::vector<uint32_t> minus(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<uint32_t> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

void sort_unique(std::vector<uint32_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

// ---------------------------------------------------------------- AllocationResult

AllocationResult AllocationResult::invalid(std::vector<api::StatusCause> causes) {
  AllocationResult r;
  r.ok_ = false;
  r.causes_ = std::move(causes);
  return r;
}

AllocationResult AllocationResult::internal(std::string message) {
  AllocationResult r;
  r.ok_ = false;
  r.message_ = std::move(message);
  return r;
}

Error AllocationResult::error() const {
  if (causes_.empty()) return Error(ErrorCode::kResourceExhausted, message_);
  auto one = [](const api::StatusCause& c) { return c.field.empty() ? c.message : c.field + ": " + c.message; };
  if (causes_.size() == 1) return Error(ErrorCode::kInvalidArgument, one(causes_[0]));
  std::string msg = "[";
  for (std::size_t i = 0; i < causes_.size(); ++i) msg += (i > 0 ? ", " : "") + one(causes_[i]);
  return Error(ErrorCode::kInvalidArgument, msg + "]");
}

api::Status AllocationResult::to_status(std::string_view service_name) const {
  if (causes_.empty()) return api::Status::internal_error(message_);
  return api::Status::invalid("", "Service", service_name, causes_);
}

// ---------------------------------------------------------------- bitmap

void ServiceAllocator::Bitmap::reset(std::size_t n) {
  words.assign((n + 63) / 64, 0);
  size = n;
  count = 0;
}

void ServiceAllocator::Bitmap::set(std::size_t i) {
  if (test(i)) return;
  words[i / 64] |= uint64_t{1} << (i % 64);
  ++count;
}

void ServiceAllocator::Bitmap::clear(std::size_t i) {
  if (!test(i)) return;
  words[i / 64] &= ~(uint64_t{1} << (i % 64));
  --count;
}

// ---------------------------------------------------------------- ServiceAllocator

// What a Service object claims: indexes into ips_ and ports_, sorted and unique.
struct ServiceAllocator::Held {
  std::vector<uint32_t> ips;
  std::vector<uint32_t> ports;
};

// The values one allocate/update has taken so far, given back if it fails.
struct ServiceAllocator::Op {
  std::vector<uint32_t> ips;
  std::vector<uint32_t> ports;
};

Result<std::unique_ptr<ServiceAllocator>> ServiceAllocator::create(std::string_view service_cidr,
                                                                   std::string_view node_port_range) {
  // --- the service CIDR
  std::string cidr_q = api::go_quote(service_cidr);
  if (service_cidr.find(':') != std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument,
                 "invalid service CIDR " + cidr_q + ": only IPv4 service CIDRs are supported");
  std::size_t slash = service_cidr.find('/');
  uint32_t addr = 0;
  std::optional<int64_t> prefix =
      slash == std::string_view::npos ? std::nullopt : parse_int(service_cidr.substr(slash + 1));
  if (slash == std::string_view::npos || parse_ipv4(service_cidr.substr(0, slash), addr) != IpParse::kOk ||
      !prefix || *prefix < 0 || *prefix > 32 || service_cidr.substr(slash + 1).size() > 2)
    return Error(ErrorCode::kInvalidArgument, "invalid service CIDR " + cidr_q + ": expected an IPv4 CIDR a.b.c.d/n");
  if (*prefix < 12)
    return Error(ErrorCode::kInvalidArgument, "service CIDR " + std::string(service_cidr) +
                                                  " is too large; for 32-bit addresses, the mask must be >= 12");
  if (*prefix > 30)
    return Error(ErrorCode::kInvalidArgument, "service CIDR " + std::string(service_cidr) +
                                                  " is too small: the mask must be <= 30 to leave usable addresses");
  uint32_t mask = ~uint32_t{0} << (32 - *prefix);

  // --- the node-port range: "first-last", "first+count" or one port
  std::string range_q = api::go_quote(node_port_range);
  std::optional<int64_t> first, last;
  if (std::size_t dash = node_port_range.find('-'); dash != std::string_view::npos) {
    first = parse_int(node_port_range.substr(0, dash));
    last = parse_int(node_port_range.substr(dash + 1));
  } else if (std::size_t plus = node_port_range.find('+'); plus != std::string_view::npos) {
    first = parse_int(node_port_range.substr(0, plus));
    auto n = parse_int(node_port_range.substr(plus + 1));
    if (first && n && *n >= 0) last = *first + *n;
  } else {
    first = last = parse_int(node_port_range);
  }
  if (!first || !last)
    return Error(ErrorCode::kInvalidArgument,
                 "invalid node port range " + range_q + ": expected <first>-<last>, e.g. \"30000-32767\"");
  if (*first < 1 || *last > 65535 || *first > *last)
    return Error(ErrorCode::kInvalidArgument, "invalid node port range " + range_q +
                                                  ": ports must satisfy 1 <= first <= last <= 65535");

  return std::unique_ptr<ServiceAllocator>(new ServiceAllocator(addr & mask, static_cast<int>(*prefix),
                                                                static_cast<int>(*first), static_cast<int>(*last)));
}

ServiceAllocator::ServiceAllocator(uint32_t network, int prefix, int first_port, int last_port)
    : network_(network), prefix_(prefix), first_port_(first_port), last_port_(last_port), rng_(std::random_device{}()) {
  uint64_t cidr_size = uint64_t{1} << (32 - prefix);
  ips_.bits.reset(static_cast<std::size_t>(cidr_size - 2));
  ips_.band = static_band(cidr_size, 16, 256, 16);
  ips_.bits.set(0);  // the kubernetes service IP: never dynamic
  auto port_count = static_cast<uint64_t>(last_port - first_port + 1);
  ports_.bits.reset(static_cast<std::size_t>(port_count));
  ports_.band = static_band(port_count, 16, 128, 32);
}

ServiceAllocator::~ServiceAllocator() = default;

std::string ServiceAllocator::service_cidr() const {
  return format_ipv4(network_) + "/" + std::to_string(prefix_);
}
std::string ServiceAllocator::node_port_range() const {
  return std::to_string(first_port_) + "-" + std::to_string(last_port_);
}
std::string ServiceAllocator::kubernetes_service_ip() const { return format_ipv4(network_ + 1); }

bool ServiceAllocator::ip_allocated(std::string_view ip) const {
  uint32_t v = 0;
  if (parse_ipv4(ip, v) != IpParse::kOk || v <= network_ || v - network_ - 1 >= ips_.bits.size) return false;
  std::lock_guard lock(mu_);
  return ips_.owners.contains(v - network_ - 1);
}

bool ServiceAllocator::node_port_allocated(int64_t port) const {
  if (port < first_port_ || port > last_port_) return false;
  std::lock_guard lock(mu_);
  return ports_.owners.contains(static_cast<uint32_t>(port - first_port_));
}

std::size_t ServiceAllocator::free_ips() const {
  std::lock_guard lock(mu_);
  return ips_.bits.size - ips_.bits.count;
}

std::size_t ServiceAllocator::free_node_ports() const {
  std::lock_guard lock(mu_);
  return ports_.bits.size - ports_.bits.count;
}

bool ServiceAllocator::pick(Pool& pool, std::size_t& out) {
  const Bitmap& b = pool.bits;
  if (b.count >= b.size) return false;
  // Upper band first, from a random start, wrapping; then the lower band the same way.
  auto scan = [&](std::size_t from, std::size_t n) {
    if (n == 0) return false;
    std::size_t start = std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t at = from + (start + i) % n;
      if (!b.test(at)) {
        out = at;
        return true;
      }
    }
    return false;
  };
  std::size_t band = std::min(pool.band, b.size);
  return scan(band, b.size - band) || scan(0, band);
}

ServiceAllocator::Held ServiceAllocator::held_by(const json::object& service) const {
  Held h;
  const json::object& spec = api::object_or_empty(service, "spec");
  std::string_view type = type_of(spec);
  if (type != "ExternalName") {
    uint32_t v = 0;
    if (parse_ipv4(primary_ip(spec), v) == IpParse::kOk && v > network_ && v - network_ - 1 < ips_.bits.size)
      h.ips.push_back(v - network_ - 1);
  }
  auto add_port = [&](int64_t p) {
    if (p >= first_port_ && p <= last_port_) h.ports.push_back(static_cast<uint32_t>(p - first_port_));
  };
  if (needs_node_ports(type))
    for (const json::object* p : port_objects(spec)) add_port(node_port_of(*p));
  if (needs_health_check(spec)) add_port(json::get_int_or(spec, "healthCheckNodePort", 0));
  sort_unique(h.ips);
  sort_unique(h.ports);
  return h;
}

void ServiceAllocator::release_held(const Held& h, const std::string& owner) {
  for (uint32_t i : h.ips) {
    auto it = ips_.owners.find(i);
    if (it == ips_.owners.end() || it->second != owner) continue;
    ips_.owners.erase(it);
    if (i != 0) ips_.bits.clear(i);
  }
  for (uint32_t i : h.ports) {
    auto it = ports_.owners.find(i);
    if (it == ports_.owners.end() || it->second != owner) continue;
    ports_.owners.erase(it);
    ports_.bits.clear(i);
  }
}

AllocationResult ServiceAllocator::allocate(json::object& service) {
  std::lock_guard lock(mu_);
  return apply(service, nullptr);
}

AllocationResult ServiceAllocator::update(json::object& service, const json::object& old) {
  std::lock_guard lock(mu_);
  return apply(service, &old);
}

void ServiceAllocator::release(const json::object& service) {
  std::lock_guard lock(mu_);
  release_held(held_by(service), owner_key(service));
}

void ServiceAllocator::commit_update(const json::object& service, const json::object& old) {
  std::lock_guard lock(mu_);
  Held now = held_by(service), before = held_by(old);
  release_held({minus(before.ips, now.ips), minus(before.ports, now.ports)}, owner_key(old));
}

void ServiceAllocator::rollback_update(const json::object& service, const json::object& old) {
  std::lock_guard lock(mu_);
  Held now = held_by(service), before = held_by(old);
  release_held({minus(now.ips, before.ips), minus(now.ports, before.ports)}, owner_key(service));
}

// Create (old == nullptr) and update share one path: what `old` already holds is kept,
// everything else the new object needs is taken now. Works on a copy of spec so a failure
// leaves `service` as it was; taken values are given back on failure.
AllocationResult ServiceAllocator::apply(json::object& service, const json::object* old) {
  const std::string key = owner_key(service);
  json::object spec = api::object_or_empty(service, "spec");
  const json::object& old_spec = old != nullptr ? api::object_or_empty(*old, "spec") : api::empty_object();
  const Held old_held = old != nullptr ? held_by(*old) : Held{};
  const std::string_view type = type_of(spec);
  const std::string_view old_type = old != nullptr ? type_of(old_spec) : std::string_view("ExternalName");

  Op op;
  auto revert = [&] {
    Held taken{op.ips, op.ports};
    sort_unique(taken.ips);
    sort_unique(taken.ports);
    release_held(taken, key);
  };
  auto fail = [&](AllocationResult r) {
    revert();
    return r;
  };
  auto take_ip = [&](uint32_t i) {
    if (i != 0) ips_.bits.set(i);
    ips_.owners[i] = key;
    op.ips.push_back(i);
  };
  auto take_port = [&](uint32_t i) {
    ports_.bits.set(i);
    ports_.owners[i] = key;
    op.ports.push_back(i);
  };
  auto held_port = [&](int64_t p) {
    if (p < first_port_ || p > last_port_) return false;
    auto i = static_cast<uint32_t>(p - first_port_);
    return std::binary_search(old_held.ports.begin(), old_held.ports.end(), i) ||
           std::find(op.ports.begin(), op.ports.end(), i) != op.ports.end();
  };
  // A specific node port: nullopt when taken (or already held), else portallocator's error.
  auto request_port = [&](int64_t p) -> std::optional<std::string> {
    if (held_port(p)) return std::nullopt;
    if (p < first_port_ || p > last_port_)
      return "provided port is not in the valid range. The range of valid ports is " + node_port_range();
    auto i = static_cast<uint32_t>(p - first_port_);
    if (ports_.bits.test(i)) return std::string("provided port is already allocated");
    take_port(i);
    return std::nullopt;
  };

  // ---- cluster IP
  if (type == "ExternalName") {
    // dropTypeDependentFields: a type change to ExternalName drops the IP fields it left as they were.
    if (old != nullptr && old_type != "ExternalName" && primary_ip(spec) == primary_ip(old_spec))
      for (std::string_view k : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}) spec.erase(k);
  } else {
    std::string old_ip = old_type != "ExternalName" ? primary_ip(old_spec) : "";
    std::string ip = primary_ip(spec);
    if (ip.empty() && !old_ip.empty()) ip = old_ip;  // patchAllocatedValues
    if (ip != "None") {
      std::vector<api::StatusCause> causes;
      if (const json::array* fams = json::get_array(spec, "ipFamilies"))
        for (std::size_t i = 0; i < fams->size(); ++i)
          if ((*fams)[i].is_string() && (*fams)[i].get_string() != "IPv4")
            causes.push_back(invalid_cause(api::index_path("spec.ipFamilies", i), api::go_quote((*fams)[i].get_string()),
                                           "not configured on this cluster"));
      if (json::get_string(spec, "ipFamilyPolicy") == "RequireDualStack")
        causes.push_back(invalid_cause("spec.ipFamilyPolicy", "\"RequireDualStack\"",
                                       "this cluster is not configured for dual-stack services"));
      if (!causes.empty()) return fail(AllocationResult::invalid(std::move(causes)));

      auto shown = go_string_slice(cluster_ips_for_message(spec, ip));
      if (ip.empty()) {
        std::size_t i = 0;
        if (!pick(ips_, i)) return fail(AllocationResult::internal("failed to allocate a serviceIP: range is full"));
        take_ip(static_cast<uint32_t>(i));
        ip = format_ipv4(network_ + 1 + static_cast<uint32_t>(i));
      } else if (!old_ip.empty() && ip != old_ip) {
        return fail(AllocationResult::invalid({invalid_cause("spec.clusterIPs[0]", shown, "may not change once set")}));
      } else if (ip != old_ip) {
        uint32_t v = 0;
        switch (parse_ipv4(ip, v)) {
          case IpParse::kOk: break;
          case IpParse::kLeadingZero:
            return fail(AllocationResult::invalid(
                {invalid_cause("spec.clusterIPs[0]", api::go_quote(ip), "must not have leading 0s")}));
          case IpParse::kInvalid:
            if (ip.find(':') != std::string::npos)
              return fail(AllocationResult::invalid(
                  {invalid_cause("spec.clusterIPs[0]", shown, "IPv6 is not configured on this cluster")}));
            return fail(AllocationResult::invalid({invalid_cause(
                "spec.clusterIPs[0]", api::go_quote(ip), "must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff)")}));
        }
        std::string why;
        if (v <= network_ || v - network_ - 1 >= ips_.bits.size) {
          why = "the provided IP (" + ip + ") is not in the valid range. The range of valid IPs is " + service_cidr();
        } else {
          uint32_t i = v - network_ - 1;
          bool reserved_elsewhere = i == 0 && key != kKubernetesServiceKey;
          if (reserved_elsewhere || ips_.owners.contains(i) || (i != 0 && ips_.bits.test(i)))
            why = "provided IP is already allocated";
          else
            take_ip(i);
        }
        if (!why.empty())
          return fail(AllocationResult::invalid(
              {invalid_cause("spec.clusterIPs", shown, "failed to allocate IP " + ip + ": " + why)}));
      }
      spec["clusterIP"] = json::string(ip);
      spec["clusterIPs"] = json::array{json::string(ip)};
    } else {
      spec["clusterIP"] = "None";
      if (json::get_array(spec, "clusterIPs") == nullptr || json::get_array(spec, "clusterIPs")->empty())
        spec["clusterIPs"] = json::array{"None"};
    }
  }

  // ---- node ports
  std::vector<json::object*> ports = port_objects(spec);
  if (!needs_node_ports(type)) {
    // dropTypeDependentFields: leaving NodePort/LoadBalancer drops the node ports it left as they were.
    if (old != nullptr && needs_node_ports(old_type))
      for (json::object* p : ports)
        if (int64_t np = node_port_of(*p); np != 0 && held_port(np)) p->erase("nodePort");
  } else {
    if (old != nullptr && needs_node_ports(old_type)) {
      // patchAllocatedValues: a port left without nodePort keeps the one its name had, unless
      // another port of the new object already uses that value.
      std::set<int64_t> old_used, used;
      std::map<std::string, int64_t, std::less<>> by_name;
      for (const json::object* p : port_objects(old_spec)) {
        old_used.insert(node_port_of(*p));
        by_name[std::string(json::get_string(*p, "name"))] = node_port_of(*p);
      }
      for (const json::object* p : ports)
        if (old_used.contains(node_port_of(*p))) used.insert(node_port_of(*p));
      for (json::object* p : ports) {
        if (node_port_of(*p) != 0) continue;
        auto it = by_name.find(json::get_string(*p, "name"));
        if (it != by_name.end() && it->second != 0 && !used.contains(it->second)) (*p)["nodePort"] = it->second;
      }
    }
    // The same node port twice for one protocol (validation's Duplicate check).
    std::vector<api::StatusCause> causes;
    std::set<std::pair<std::string, int64_t>, std::less<>> seen;
    for (std::size_t i = 0; i < ports.size(); ++i) {
      int64_t np = node_port_of(*ports[i]);
      if (np == 0) continue;
      if (!seen.emplace(std::string(json::get_string(*ports[i], "protocol", "TCP")), np).second)
        causes.push_back({std::string(api::field_error_type::kDuplicate), "Duplicate value: " + std::to_string(np),
                          api::index_path("spec.ports", i) + ".nodePort"});
    }
    if (!causes.empty()) return fail(AllocationResult::invalid(std::move(causes)));

    const bool allocate_new = should_allocate_node_ports(spec);
    std::map<int64_t, int64_t> by_port;  // service port -> node port: 53/TCP and 53/UDP share one
    for (std::size_t i = 0; i < ports.size(); ++i) {
      json::object& p = *ports[i];
      int64_t np = node_port_of(p);
      if (np == 0 && !allocate_new) continue;  // no new ports, but requested ones are honoured
      const int64_t port = json::get_int_or(p, "port", 0);
      const std::string field = api::index_path("spec.ports", i) + ".nodePort";
      int64_t shared = by_port[port];
      if (shared != 0 && (np == 0 || np == shared)) {
        p["nodePort"] = shared;
        continue;
      }
      int64_t want = np;
      if (want == 0)  // a later port with the same number may name the node port
        for (const json::object* q : ports)
          if (json::get_int_or(*q, "port", 0) == port && node_port_of(*q) != 0) {
            want = node_port_of(*q);
            break;
          }
      if (want != 0) {
        if (auto err = request_port(want))
          return fail(AllocationResult::invalid({invalid_cause(field, std::to_string(want), *err)}));
      } else {
        std::size_t idx = 0;
        if (!pick(ports_, idx)) return fail(AllocationResult::internal("failed to allocate a nodePort: range is full"));
        take_port(static_cast<uint32_t>(idx));
        want = first_port_ + static_cast<int64_t>(idx);
      }
      p["nodePort"] = want;
      if (shared == 0) by_port[port] = want;
    }
  }

  // ---- health check node port (LoadBalancer, externalTrafficPolicy Local)
  const int64_t old_hc = old != nullptr && needs_health_check(old_spec) ? json::get_int_or(old_spec, "healthCheckNodePort", 0) : 0;
  if (needs_health_check(spec)) {
    int64_t hc = json::get_int_or(spec, "healthCheckNodePort", 0);
    if (hc == 0) hc = old_hc;
    if (hc != 0 && hc != old_hc) {
      // A port this operation just gave to spec.ports is not free for the health check.
      bool just_taken = hc >= first_port_ && hc <= last_port_ &&
                        std::find(op.ports.begin(), op.ports.end(), static_cast<uint32_t>(hc - first_port_)) != op.ports.end();
      std::optional<std::string> err =
          just_taken ? std::optional<std::string>("provided port is already allocated") : request_port(hc);
      if (err)
        return fail(AllocationResult::internal("failed to allocate requested HealthCheck NodePort " + std::to_string(hc) +
                                               ": " + *err));
    } else if (hc == 0) {
      std::size_t idx = 0;
      if (!pick(ports_, idx))
        return fail(AllocationResult::internal("failed to allocate a HealthCheck NodePort 0: range is full"));
      take_port(static_cast<uint32_t>(idx));
      hc = first_port_ + static_cast<int64_t>(idx);
    }
    spec["healthCheckNodePort"] = hc;
  } else if (old_hc != 0 && json::get_int_or(spec, "healthCheckNodePort", 0) == old_hc) {
    spec.erase("healthCheckNodePort");
  }

  service["spec"] = std::move(spec);
  return {};
}

void ServiceAllocator::log_rebuild_conflict(const std::string& what) const {
  std::fprintf(stderr, "warning service-allocator: %s; please recreate\n", what.c_str());
}

void ServiceAllocator::rebuild(const std::vector<json::object>& services) {
  std::lock_guard lock(mu_);
  ips_.bits.reset(ips_.bits.size);
  ips_.owners.clear();
  ips_.bits.set(0);
  ports_.bits.reset(ports_.bits.size);
  ports_.owners.clear();
  for (const json::object& svc : services) {
    const std::string key = owner_key(svc);
    const json::object& spec = api::object_or_empty(svc, "spec");
    std::string_view type = type_of(spec);
    if (type != "ExternalName") {
      std::string ip = primary_ip(spec);
      uint32_t v = 0;
      if (!ip.empty() && ip != "None") {
        if (parse_ipv4(ip, v) != IpParse::kOk || v <= network_ || v - network_ - 1 >= ips_.bits.size) {
          log_rebuild_conflict("the cluster IP " + ip + " for service " + key + " is not within the service CIDR " +
                               service_cidr());
        } else if (uint32_t i = v - network_ - 1; ips_.owners.contains(i)) {
          log_rebuild_conflict("the cluster IP " + ip + " for service " + key + " was assigned to multiple services");
        } else {
          if (i != 0) ips_.bits.set(i);
          ips_.owners[i] = key;
        }
      }
    }
    std::vector<int64_t> wanted;
    if (needs_node_ports(type))
      for (const json::object* p : port_objects(spec))
        if (node_port_of(*p) != 0) wanted.push_back(node_port_of(*p));
    if (needs_health_check(spec) && json::get_int_or(spec, "healthCheckNodePort", 0) != 0)
      wanted.push_back(json::get_int_or(spec, "healthCheckNodePort", 0));
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    for (int64_t np : wanted) {
      if (np < first_port_ || np > last_port_) {
        log_rebuild_conflict("the node port " + std::to_string(np) + " for service " + key +
                             " is not within the port range " + node_port_range());
        continue;
      }
      auto i = static_cast<uint32_t>(np - first_port_);
      if (ports_.owners.contains(i)) {
        log_rebuild_conflict("the node port " + std::to_string(np) + " for service " + key +
                             " was assigned to multiple services");
        continue;
      }
      ports_.bits.set(i);
      ports_.owners[i] = key;
    }
  }
}

}  // namespace kernlet::apiserver
