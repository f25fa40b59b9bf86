#include "agent/dns/dns_records.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "api/objects/endpoint_slice.h"
#include "api/objects/service.h"

namespace kernlet::agent::dns {

namespace {

struct Ip {
  int family = 0;  // 4 or 6; 0 when the text was no address
  std::string text;  // canonical
};

Ip parse_ip(std::string_view s) {
  std::string str(s);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (::inet_pton(AF_INET, str.c_str(), buf) == 1 && ::inet_ntop(AF_INET, buf, out, sizeof out))
    return {4, out};
  if (::inet_pton(AF_INET6, str.c_str(), buf) == 1 && ::inet_ntop(AF_INET6, buf, out, sizeof out))
    return {6, out};
  return {};
}

// The endpoint host label for an address without a hostname: 10.244.1.5 -> 10-244-1-5.
std::string dashed(const std::string& ip) {
  std::string out = ip;
  std::replace(out.begin(), out.end(), '.', '-');
  std::replace(out.begin(), out.end(), ':', '-');
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void warn(std::vector<std::string>* w, std::string s) {
  if (w) w->push_back(std::move(s));
}

}  // namespace

std::string normalize_name(std::string_view name) {
  while (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return lower(name);
}

std::string reverse_name(std::string_view ip) {
  std::string s(ip);
  unsigned char b[16];
  if (::inet_pton(AF_INET, s.c_str(), b) == 1)
    return std::to_string(b[3]) + "." + std::to_string(b[2]) + "." + std::to_string(b[1]) + "." +
           std::to_string(b[0]) + ".in-addr.arpa";
  if (::inet_pton(AF_INET6, s.c_str(), b) == 1) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 15; i >= 0; --i) {
      out += hex[b[i] & 0xf];
      out += '.';
      out += hex[b[i] >> 4];
      out += '.';
    }
    return out + "ip6.arpa";
  }
  return "";
}

void DnsRecords::add(DnsRecord r) {
  auto& v = names_[r.name];
  if (std::find(v.begin(), v.end(), r) == v.end()) v.push_back(r);
  if (in_domain(r.name)) add_node(r.name);
}

// Marks `name` and its ancestors down to the domain as existing (empty non-terminals).
void DnsRecords::add_node(std::string_view name) {
  const std::string& d = options_.cluster_domain;
  while (true) {
    if (!nodes_.emplace(name).second) return;
    if (name.size() <= d.size()) return;
    size_t dot = name.find('.');
    if (dot == std::string_view::npos) return;
    name.remove_prefix(dot + 1);
  }
}

bool DnsRecords::in_domain(std::string_view name) const {
  const std::string& d = options_.cluster_domain;
  if (d.empty()) return false;
  if (name == d) return true;
  return name.size() > d.size() && name.ends_with(d) && name[name.size() - d.size() - 1] == '.';
}

std::shared_ptr<const DnsRecords> DnsRecords::build(const std::vector<client::ObjectPtr>& services,
                                                    const std::vector<client::ObjectPtr>& endpoint_slices,
                                                    const DnsRecordsOptions& options, uint32_t serial,
                                                    std::vector<std::string>* warnings) {
  std::shared_ptr<DnsRecords> r(new DnsRecords());
  r->options_ = options;
  r->options_.cluster_domain = normalize_name(options.cluster_domain);
  r->serial_ = serial;
  const std::string& domain = r->options_.cluster_domain;
  r->add_node("svc." + domain);

  std::map<std::string, std::vector<const json::object*>> slices_of;  // "ns/service" -> slices
  for (const auto& s : endpoint_slices) {
    api::EndpointSliceView v(*s);
    auto svc = v.service_name();
    if (!svc) continue;
    slices_of[std::string(v.meta().namespace_()) + "/" + std::string(*svc)].push_back(s.get());
  }

  for (const auto& obj : services) {
    api::ServiceView svc(*obj);
    const auto spec = svc.spec();
    const std::string ns = lower(svc.meta().namespace_()), name = lower(svc.meta().name());
    if (ns.empty() || name.empty()) continue;
    const std::string key = std::string(svc.meta().namespace_()) + "/" + std::string(svc.meta().name());
    const std::string base = name + "." + ns + ".svc." + domain;
    r->add_node(base);

    if (spec.type() == "ExternalName") {
      std::string target = normalize_name(spec.external_name());
      if (target.empty()) {
        warn(warnings, "service " + key + ": ExternalName without externalName");
        continue;
      }
      r->add({base, kTypeCname, target});
      continue;
    }

    const bool headless = spec.is_headless();
    if (!headless) {
      for (auto text : spec.cluster_ips()) {
        if (text.empty() || text == "None") continue;
        Ip ip = parse_ip(text);
        if (ip.family == 0) {
          warn(warnings, "service " + key + ": clusterIP \"" + std::string(text) + "\" is no address");
          continue;
        }
        r->add({base, ip.family == 4 ? kTypeA : kTypeAaaa, ip.text});
        r->add({reverse_name(ip.text), kTypePtr, base});
      }
      for (const auto& p : spec.ports()) {
        if (p.name().empty() || p.port() <= 0 || p.port() > 65535) continue;
        r->add({"_" + lower(p.name()) + "._" + lower(p.protocol()) + "." + base, kTypeSrv, base, 0, 100,
                static_cast<uint16_t>(p.port())});
      }
    }

    // Endpoints: every service's give PTR and host records; a headless service's also
    // answer for the service name and its SRV.
    const bool all = spec.publish_not_ready_addresses();
    for (const json::object* so : slices_of[key]) {
      api::EndpointSliceView slice(*so);
      if (slice.address_type() != "IPv4" && slice.address_type() != "IPv6") continue;
      for (const auto& ep : slice.endpoints()) {
        if (!all && !ep.conditions().ready()) continue;
        for (auto text : ep.addresses()) {
          Ip ip = parse_ip(text);
          if (ip.family == 0) {
            warn(warnings, "service " + key + ": endpoint address \"" + std::string(text) + "\" is no address");
            continue;
          }
          const uint16_t type = ip.family == 4 ? kTypeA : kTypeAaaa;
          std::string host = lower(ep.hostname().value_or(""));
          if (host.empty() || host.find('.') != std::string::npos) host = dashed(ip.text);
          const std::string host_name = host + "." + base;
          r->add({host_name, type, ip.text});
          r->add({reverse_name(ip.text), kTypePtr, host_name});
          if (!headless) continue;
          r->add({base, type, ip.text});
          for (const auto& p : slice.ports()) {
            auto port = p.port();
            if (p.name().empty() || !port || *port <= 0 || *port > 65535) continue;
            r->add({"_" + lower(p.name()) + "._" + lower(p.protocol()) + "." + base, kTypeSrv, host_name, 0, 100,
                    static_cast<uint16_t>(*port)});
          }
        }
      }
    }
  }
  return r;
}

LookupResult DnsRecords::lookup(std::string_view qname, uint16_t qtype) const {
  LookupResult out;
  const std::string name = normalize_name(qname);
  const bool ours = in_domain(name);
  if (ours && name == options_.cluster_domain && (qtype == kTypeSoa || qtype == kTypeAny)) {
    out.status = LookupStatus::kAnswer;
    out.answers.push_back({name, kTypeSoa, ""});
    if (qtype == kTypeSoa) return out;
  }
  auto it = names_.find(name);
  if (it == names_.end()) {
    if (!out.answers.empty()) return out;
    if (!ours) return out;  // kNotOurs: a reverse name of no cluster address, or any other name
    out.status = nodes_.count(name) ? LookupStatus::kNoData : LookupStatus::kNxDomain;
    return out;
  }
  for (const auto& rec : it->second) {
    // A CNAME answers every type (RFC 1034 3.6.2); the client follows it.
    if (rec.type == qtype || qtype == kTypeAny || rec.type == kTypeCname) out.answers.push_back(rec);
  }
  if (out.answers.empty()) {
    out.status = LookupStatus::kNoData;
    return out;
  }
  out.status = LookupStatus::kAnswer;
  // The SRV targets' addresses, so the client needs no second query.
  std::set<std::string> done;
  for (const auto& rec : out.answers) {
    if (rec.type != kTypeSrv || !done.insert(rec.value).second) continue;
    auto t = names_.find(rec.value);
    if (t == names_.end()) continue;
    for (const auto& a : t->second)
      if (a.type == kTypeA || a.type == kTypeAaaa) out.additional.push_back(a);
  }
  return out;
}

std::vector<DnsRecord> DnsRecords::all() const {
  std::vector<DnsRecord> out;
  for (const auto& [_, v] : names_) out.insert(out.end(), v.begin(), v.end());
  std::sort(out.begin(), out.end(), [](const DnsRecord& a, const DnsRecord& b) {
    return std::tie(a.name, a.type, a.value, a.port) < std::tie(b.name, b.type, b.value, b.port);
  });
  return out;
}

}  // namespace kernlet::agent::dns
