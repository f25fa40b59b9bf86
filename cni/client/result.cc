#include "cni/client/result.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace kernlet::cni {
namespace {

Error invalid(std::string_view what, const std::string& field, std::string_view problem) {
  return Error(ErrorCode::kInvalidArgument,
               std::string(what) + ": result field " + field + ": " + std::string(problem));
}

Result<std::vector<std::string>> string_list(const json::object& o, std::string_view key,
                                             std::string_view what, const std::string& path) {
  std::vector<std::string> out;
  const json::value* v = json::find(o, key);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return invalid(what, path + std::string(key), "not an array");
  for (const auto& e : v->get_array()) {
    if (!e.is_string()) return invalid(what, path + std::string(key), "not an array of strings");
    out.emplace_back(e.get_string());
  }
  return out;
}

Result<Dns> parse_dns(const json::object& doc, std::string_view what) {
  Dns dns;
  const json::value* v = json::find(doc, "dns");
  if (v == nullptr || v->is_null()) return dns;
  if (!v->is_object()) return invalid(what, "dns", "not an object");
  const json::object& o = v->get_object();
  KL_ASSIGN_OR_RETURN(dns.nameservers, string_list(o, "nameservers", what, "dns."));
  KL_ASSIGN_OR_RETURN(dns.search, string_list(o, "search", what, "dns."));
  KL_ASSIGN_OR_RETURN(dns.options, string_list(o, "options", what, "dns."));
  dns.domain = std::string(json::get_string(o, "domain"));
  return dns;
}

Result<Route> parse_route(const json::value& v, std::string_view what, const std::string& path) {
  if (!v.is_object()) return invalid(what, path, "not an object");
  const json::object& o = v.get_object();
  Route r;
  r.dst = std::string(json::get_string(o, "dst"));
  if (r.dst.empty()) return invalid(what, path + ".dst", "missing");
  r.gw = std::string(json::get_string(o, "gw"));
  r.mtu = json::get_int(o, "mtu");
  r.priority = json::get_int(o, "priority");
  return r;
}

Result<void> parse_routes(const json::value* v, std::string_view what, const std::string& path,
                          std::vector<Route>& out) {
  if (v == nullptr || v->is_null()) return Ok();
  if (!v->is_array()) return invalid(what, path, "not an array");
  const json::array& a = v->get_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    KL_ASSIGN_OR_RETURN(Route r, parse_route(a[i], what, path + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(r));
  }
  return Ok();
}

// 0.1.0 / 0.2.0: {"ip4": {"ip", "gateway", "routes"}, "ip6": {...}, "dns"}.
Result<void> parse_legacy(const json::object& doc, std::string_view what, NetworkResult& r) {
  for (const char* family : {"ip4", "ip6"}) {
    const json::value* v = json::find(doc, family);
    if (v == nullptr || v->is_null()) continue;
    if (!v->is_object()) return invalid(what, family, "not an object");
    const json::object& o = v->get_object();
    IpConfig ip;
    ip.address = std::string(json::get_string(o, "ip"));
    if (ip.address.empty()) return invalid(what, std::string(family) + ".ip", "missing");
    ip.gateway = std::string(json::get_string(o, "gateway"));
    r.ips.push_back(std::move(ip));
    KL_TRY(parse_routes(json::find(o, "routes"), what, std::string(family) + ".routes", r.routes));
  }
  return Ok();
}

// 0.3.0 - 1.1.0: {"interfaces", "ips", "routes", "dns"}; before 1.0.0 each ip also had
// "version": "4"|"6", which 1.0.0 dropped (the address says it).
Result<void> parse_current(const json::object& doc, std::string_view what, NetworkResult& r) {
  if (const json::value* v = json::find(doc, "interfaces"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) return invalid(what, "interfaces", "not an array");
    const json::array& a = v->get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::string path = "interfaces[" + std::to_string(i) + "]";
      if (!a[i].is_object()) return invalid(what, path, "not an object");
      const json::object& o = a[i].get_object();
      Interface itf;
      itf.name = std::string(json::get_string(o, "name"));
      if (itf.name.empty()) return invalid(what, path + ".name", "missing");
      itf.mac = std::string(json::get_string(o, "mac"));
      itf.mtu = json::get_int(o, "mtu");
      itf.sandbox = std::string(json::get_string(o, "sandbox"));
      itf.socket_path = std::string(json::get_string(o, "socketPath"));
      itf.pci_id = std::string(json::get_string(o, "pciID"));
      r.interfaces.push_back(std::move(itf));
    }
  }
  if (const json::value* v = json::find(doc, "ips"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) return invalid(what, "ips", "not an array");
    const json::array& a = v->get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::string path = "ips[" + std::to_string(i) + "]";
      if (!a[i].is_object()) return invalid(what, path, "not an object");
      const json::object& o = a[i].get_object();
      IpConfig ip;
      ip.address = std::string(json::get_string(o, "address"));
      if (ip.address.empty()) return invalid(what, path + ".address", "missing");
      ip.gateway = std::string(json::get_string(o, "gateway"));
      ip.interface = json::get_int(o, "interface");
      if (ip.interface &&
          (*ip.interface < 0 || *ip.interface >= static_cast<int64_t>(r.interfaces.size()))) {
        return invalid(what, path + ".interface",
                       "index " + std::to_string(*ip.interface) + " is not in interfaces");
      }
      r.ips.push_back(std::move(ip));
    }
  }
  return parse_routes(json::find(doc, "routes"), what, "routes", r.routes);
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

bool is_v4(std::string_view address) {
  std::string host(address.substr(0, address.find('/')));
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1;
}

}  // namespace

Result<NetworkResult> parse_result(const json::object& doc, std::string_view what) {
  NetworkResult r;
  r.cni_version = std::string(json::get_string(doc, "cniVersion"));
  if (r.cni_version.empty()) return invalid(what, "cniVersion", "missing");
  if (compare_versions(r.cni_version, "0.1.0") < 0 || compare_versions(r.cni_version, "1.1.0") > 0) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(what) + ": result cniVersion " + r.cni_version + " is not supported");
  }
  if (compare_versions(r.cni_version, "0.3.0") < 0) {
    KL_TRY(parse_legacy(doc, what, r));
  } else {
    KL_TRY(parse_current(doc, what, r));
  }
  KL_ASSIGN_OR_RETURN(r.dns, parse_dns(doc, what));
  r.raw = doc;
  return r;
}

Result<NetworkResult> parse_result_text(std::string_view text, std::string_view what) {
  auto doc = json::parse_object(text, "result");
  if (!doc.ok()) {
    return Error(ErrorCode::kInvalidArgument, std::string(what) + ": " + doc.error().to_string());
  }
  return parse_result(*doc, what);
}

json::object to_json_v1(const NetworkResult& r) {
  json::object doc;
  doc["cniVersion"] = "1.0.0";
  if (!r.interfaces.empty()) {
    json::array a;
    for (const auto& i : r.interfaces) {
      json::object o;
      o["name"] = i.name;
      if (!i.mac.empty()) o["mac"] = i.mac;
      if (i.mtu) o["mtu"] = *i.mtu;
      if (!i.sandbox.empty()) o["sandbox"] = i.sandbox;
      if (!i.socket_path.empty()) o["socketPath"] = i.socket_path;
      if (!i.pci_id.empty()) o["pciID"] = i.pci_id;
      a.emplace_back(std::move(o));
    }
    doc["interfaces"] = std::move(a);
  }
  if (!r.ips.empty()) {
    json::array a;
    for (const auto& ip : r.ips) {
      json::object o;
      o["address"] = ip.address;
      if (!ip.gateway.empty()) o["gateway"] = ip.gateway;
      if (ip.interface) o["interface"] = *ip.interface;
      a.emplace_back(std::move(o));
    }
    doc["ips"] = std::move(a);
  }
  if (!r.routes.empty()) {
    json::array a;
    for (const auto& rt : r.routes) {
      json::object o;
      o["dst"] = rt.dst;
      if (!rt.gw.empty()) o["gw"] = rt.gw;
      if (rt.mtu) o["mtu"] = *rt.mtu;
      if (rt.priority) o["priority"] = *rt.priority;
      a.emplace_back(std::move(o));
    }
    doc["routes"] = std::move(a);
  }
  const Dns& d = r.dns;
  if (!d.nameservers.empty() || !d.domain.empty() || !d.search.empty() || !d.options.empty()) {
    json::object o;
    if (!d.nameservers.empty()) o["nameservers"] = strings(d.nameservers);
    if (!d.domain.empty()) o["domain"] = d.domain;
    if (!d.search.empty()) o["search"] = strings(d.search);
    if (!d.options.empty()) o["options"] = strings(d.options);
    doc["dns"] = std::move(o);
  }
  return doc;
}

Result<json::object> convert_result(const NetworkResult& r, std::string_view version) {
  if (compare_versions(version, "0.3.0") < 0 || compare_versions(version, "1.1.0") > 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "cannot convert a CNI result to version " + std::string(version));
  }
  json::object doc = to_json_v1(r);
  doc["cniVersion"] = version;
  if (compare_versions(version, "1.0.0") < 0) {
    if (json::array* ips = json::get_array(doc, "ips")) {
      for (auto& ip : *ips) {
        json::object& o = ip.as_object();
        o["version"] = is_v4(json::get_string(o, "address")) ? "4" : "6";
      }
    }
  }
  return doc;
}

std::vector<std::string> pod_ips(const NetworkResult& r) {
  std::vector<std::string> v4;
  std::vector<std::string> v6;
  for (const auto& ip : r.ips) {
    if (ip.interface && r.interfaces[static_cast<std::size_t>(*ip.interface)].sandbox.empty()) {
      continue;  // a host-side address (the bridge's own, say)
    }
    std::string host = ip.address.substr(0, ip.address.find('/'));
    auto& list = is_v4(host) ? v4 : v6;
    if (std::find(v4.begin(), v4.end(), host) == v4.end() &&
        std::find(v6.begin(), v6.end(), host) == v6.end()) {
      list.push_back(std::move(host));
    }
  }
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

std::optional<PluginError> parse_plugin_error(std::string_view text) {
  auto doc = json::parse(text);
  if (!doc.ok() || !doc->is_object()) return std::nullopt;
  const json::object& o = doc->get_object();
  auto code = json::get_int(o, "code");
  if (!code) return std::nullopt;
  PluginError e;
  e.code = *code;
  e.msg = std::string(json::get_string(o, "msg"));
  e.details = std::string(json::get_string(o, "details"));
  return e;
}

std::string_view error_code_name(int64_t code) {
  switch (static_cast<CniErrorCode>(code)) {
    case CniErrorCode::kIncompatibleVersion: return "incompatible CNI version";
    case CniErrorCode::kUnsupportedField: return "unsupported field in network configuration";
    case CniErrorCode::kUnknownContainer: return "container unknown or does not exist";
    case CniErrorCode::kInvalidEnvironment: return "invalid necessary environment variables";
    case CniErrorCode::kIoFailure: return "I/O failure";
    case CniErrorCode::kDecodeFailure: return "failed to decode content";
    case CniErrorCode::kInvalidNetworkConfig: return "invalid network config";
    case CniErrorCode::kTryAgainLater: return "try again later";
    case CniErrorCode::kPluginNotAvailable: return "plugin not available";
    case CniErrorCode::kPluginNotAvailableLimited:
      return "plugin not available, existing containers may have limited connectivity";
  }
  return "plugin-specific error";
}

ErrorCode to_error_code(int64_t code) {
  switch (static_cast<CniErrorCode>(code)) {
    case CniErrorCode::kTryAgainLater:
    case CniErrorCode::kPluginNotAvailable:
    case CniErrorCode::kPluginNotAvailableLimited: return ErrorCode::kUnavailable;
    case CniErrorCode::kUnknownContainer: return ErrorCode::kNotFound;
    case CniErrorCode::kIncompatibleVersion:
    case CniErrorCode::kUnsupportedField:
    case CniErrorCode::kInvalidEnvironment:
    case CniErrorCode::kDecodeFailure:
    case CniErrorCode::kInvalidNetworkConfig: return ErrorCode::kInvalidArgument;
    case CniErrorCode::kIoFailure: break;
  }
  return ErrorCode::kUnknown;
}

int compare_versions(std::string_view a, std::string_view b) {
  auto parts = [](std::string_view s) {
    std::array<int, 3> p{0, 0, 0};
    for (std::size_t i = 0; i < 3 && !s.empty(); ++i) {
      std::size_t dot = s.find('.');
      std::string_view part = s.substr(0, dot);
      std::from_chars(part.data(), part.data() + part.size(), p[i]);
      s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    }
    return p;
  };
  auto pa = parts(a);
  auto pb = parts(b);
  for (std::size_t i = 0; i < 3; ++i) {
    if (pa[i] != pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return 0;
}

}  // namespace kernlet::cni
