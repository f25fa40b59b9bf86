#include "agent/dns/pod_dns.h"

#include <algorithm>

namespace kernlet::agent::dns {

namespace {

void warn(std::vector<std::string>* w, std::string s) {
  if (w) w->push_back(std::move(s));
}

void append_unique(std::vector<std::string>& to, const std::string& v) {
  if (v.empty()) return;
  if (std::find(to.begin(), to.end(), v) == to.end()) to.push_back(v);
}

std::string option_name(const std::string& opt) { return opt.substr(0, opt.find(':')); }

// Sets `opt` ("name" or "name:value"), replacing an option of the same name in place.
void merge_option(std::vector<std::string>& to, const std::string& opt) {
  auto it = std::find_if(to.begin(), to.end(), [&](const std::string& o) { return option_name(o) == option_name(opt); });
  if (it == to.end()) {
    to.push_back(opt);
  } else {
    *it = opt;
  }
}

enum class Kind { kCluster, kHost, kNone };

Kind kind_of(const api::PodView& pod, const PodDnsSettings& s, std::vector<std::string>* warnings) {
  const auto spec = pod.spec();
  const std::string_view policy = spec.dns_policy();
  Kind k;
  if (policy == "None") {
    k = Kind::kNone;
  } else if (policy == "Default") {
    k = Kind::kHost;
  } else if (policy == "ClusterFirstWithHostNet") {
    k = Kind::kCluster;
  } else {
    if (policy != "ClusterFirst") warn(warnings, "unknown dnsPolicy \"" + std::string(policy) + "\"; using ClusterFirst");
    k = spec.host_network() ? Kind::kHost : Kind::kCluster;
  }
  if (k == Kind::kCluster && s.cluster_dns.empty()) {
    warn(warnings, "pod has dnsPolicy " + std::string(policy) +
                       " but the agent has no --cluster-dns; falling back to the node's resolv.conf (\"Default\")");
    k = Kind::kHost;
  }
  return k;
}

void apply_limits(runtime::DnsConfig& c, std::vector<std::string>* warnings) {
  if (c.servers.size() > kMaxNameservers) {
    warn(warnings, "more than " + std::to_string(kMaxNameservers) + " nameservers; kept the first " +
                       std::to_string(kMaxNameservers));
    c.servers.resize(kMaxNameservers);
  }
  size_t chars = 0, keep = 0;
  for (; keep < c.searches.size() && keep < kMaxSearchDomains; ++keep) {
    size_t add = c.searches[keep].size() + (keep == 0 ? 0 : 1);
    if (chars + add > kMaxSearchChars) break;
    chars += add;
  }
  if (keep < c.searches.size()) {
    warn(warnings, "search list over " + std::to_string(kMaxSearchDomains) + " domains or " +
                       std::to_string(kMaxSearchChars) + " characters; kept the first " + std::to_string(keep));
    c.searches.resize(keep);
  }
}

}  // namespace

runtime::DnsConfig pod_dns_config(const api::PodView& pod, const PodDnsSettings& s, std::vector<std::string>* warnings) {
  runtime::DnsConfig c;
  switch (kind_of(pod, s, warnings)) {
    case Kind::kCluster: {
      for (const auto& ip : s.cluster_dns) append_unique(c.servers, ip);
      if (!s.cluster_domain.empty()) {
        append_unique(c.searches, std::string(pod.meta().namespace_()) + ".svc." + s.cluster_domain);
        append_unique(c.searches, "svc." + s.cluster_domain);
        append_unique(c.searches, s.cluster_domain);
      }
      for (const auto& d : s.host.searches)
        if (d != ".") append_unique(c.searches, d);
      c.options = {"ndots:5"};
      break;
    }
    case Kind::kHost:
      for (const auto& ip : s.host.nameservers) append_unique(c.servers, ip);
      for (const auto& d : s.host.searches)
        if (d != ".") append_unique(c.searches, d);
      for (const auto& o : s.host.options) merge_option(c.options, o);
      break;
    case Kind::kNone:
      break;
  }
  if (const json::object* dc = pod.spec().dns_config()) {
    if (const json::array* ns = json::get_array(*dc, "nameservers"))
      for (const auto& v : *ns)
        if (v.is_string()) append_unique(c.servers, std::string(v.as_string()));
    if (const json::array* ss = json::get_array(*dc, "searches"))
      for (const auto& v : *ss)
        if (v.is_string()) append_unique(c.searches, std::string(v.as_string()));
    if (const json::array* os = json::get_array(*dc, "options")) {
      for (const auto& v : *os) {
        if (!v.is_object()) continue;
        std::string name(json::get_string(v.as_object(), "name"));
        if (name.empty()) continue;
        const json::value* value = json::find(v.as_object(), "value");
        if (value != nullptr && value->is_string() && !value->as_string().empty())
          name += ":" + std::string(value->as_string());
        merge_option(c.options, name);
      }
    }
  }
  apply_limits(c, warnings);
  return c;
}

}  // namespace kernlet::agent::dns
