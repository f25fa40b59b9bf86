#include "control/apiserver/pod_logs.h"

#include <cctype>
#include <charconv>
#include <vector>

#include "api/time.h"

namespace kernlet::apiserver {
namespace {

std::vector<std::string> names(const json::object& spec, std::string_view field) {
  std::vector<std::string> out;
  const json::array* list = json::get_array(spec, field);
  if (list == nullptr) return out;
  for (const auto& c : *list) {
    if (c.is_object()) out.emplace_back(json::get_string(c.get_object(), "name"));
  }
  return out;
}

// Go's %s of a []string: "[a b]".
std::string go_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

std::string escape_segment(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::variant<std::string, api::Status> pod_log_container(const json::object& pod, const RequestInfo& info) {
  static const json::object kEmpty;
  const json::object* spec = json::get_object(pod, "spec");
  if (spec == nullptr) spec = &kEmpty;
  const std::string& name = info.name;
  std::vector<std::string> containers = names(*spec, "containers");
  std::vector<std::string> inits = names(*spec, "initContainers");
  std::vector<std::string> ephemeral = names(*spec, "ephemeralContainers");
  std::string container(info.param("container").value_or(""));
  if (container.empty()) {
    if (containers.size() == 1) {
      container = containers.front();
    } else if (containers.empty()) {
      return api::Status::bad_request("a container name must be specified for pod " + name);
    } else {
      std::string msg = "a container name must be specified for pod " + name + ", choose one of: " + go_list(containers);
      if (!inits.empty()) msg += " or one of the init containers: " + go_list(inits);
      if (!ephemeral.empty()) msg += " or one of the ephemeral containers: " + go_list(ephemeral);
      return api::Status::bad_request(msg);
    }
  } else {
    bool found = false;
    for (const auto* list : {&containers, &inits, &ephemeral}) {
      for (const auto& c : *list) found = found || c == container;
    }
    if (!found) return api::Status::bad_request("container " + container + " is not valid for pod " + name);
  }
  if (json::get_string(*spec, "nodeName").empty()) {
    return api::Status::bad_request("pod " + name + " does not have a host assigned");
  }
  return container;
}

std::variant<NodeTarget, api::Status> kubelet_endpoint(const json::object& node) {
  static const json::object kEmpty;
  const json::object* status = json::get_object(node, "status");
  if (status == nullptr) status = &kEmpty;
  NodeTarget t;
  std::string hostname;
  if (const json::array* addrs = json::get_array(*status, "addresses")) {
    for (const auto& a : *addrs) {
      if (!a.is_object()) continue;
      std::string_view type = json::get_string(a.get_object(), "type");
      std::string_view address = json::get_string(a.get_object(), "address");
      if (type == "InternalIP" && t.host.empty()) t.host = address;
      if (type == "Hostname" && hostname.empty()) hostname = address;
    }
  }
  if (t.host.empty()) t.host = hostname;
  const json::object* metadata = json::get_object(node, "metadata");
  const std::string name(metadata != nullptr ? json::get_string(*metadata, "name") : "");
  if (t.host.empty()) return api::Status(500, "", "node " + name + " has no InternalIP or Hostname address");
  if (const json::object* d = json::get_object(*status, "daemonEndpoints")) {
    if (const json::object* k = json::get_object(*d, "kubeletEndpoint")) {
      auto it = k->find("Port");
      if (it != k->end() && it->value().is_int64() && it->value().as_int64() > 0 && it->value().as_int64() < 65536) {
        t.port = static_cast<uint16_t>(it->value().as_int64());
      }
    }
  }
  return t;
}

std::variant<std::string, api::Status> kubelet_log_target(std::string_view ns, std::string_view pod,
                                                          std::string_view container, const RequestInfo& info) {
  std::string query;
  auto add = [&](std::string_view k, const std::string& v) { query += (query.empty() ? "?" : "&") + std::string(k) + "=" + v; };
  for (std::string_view b : {"follow", "previous", "timestamps"}) {
    auto v = info.bool_param(b);
    if (!v.ok()) return api::Status::bad_request(v.error().message());
    if (*v) add(b, "true");
  }
  for (std::string_view i : {"tailLines", "sinceSeconds", "limitBytes"}) {
    auto v = info.int_param(i);
    if (!v.ok()) return api::Status::bad_request(v.error().message());
    if (*v) add(i, std::to_string(**v));
  }
  if (auto since = info.param("sinceTime"); since && !since->empty()) {
    if (!api::parse_rfc3339(*since).ok()) {
      return api::Status::bad_request("invalid sinceTime \"" + std::string(*since) + "\": not an RFC 3339 time");
    }
    add("sinceTime", escape_segment(*since));
  }
  return "/containerLogs/" + escape_segment(ns) + "/" + escape_segment(pod) + "/" + escape_segment(container) + query;
}

namespace {

// The kubelet URL of an exec (with a command) or an attach (without).
std::variant<std::string, api::Status> kubelet_stream_target(std::string_view endpoint, bool command,
                                                             std::string_view ns, std::string_view pod,
                                                             std::string_view container, const RequestInfo& info) {
  std::string query;
  auto add = [&](std::string_view k, std::string_view v) {
    query += (query.empty() ? "?" : "&") + std::string(k) + "=" + escape_segment(v);
  };
  if (command) {
    auto [first, last] = info.query.equal_range("command");
    if (first == last) return api::Status::bad_request("you must specify at least one command for the container");
    for (auto it = first; it != last; ++it) add("command", it->second);
  }
  bool any = false;
  // PodExecOptions' and PodAttachOptions' names, and the kubelet's for them.
  for (auto [option, kubelet] : {std::pair<std::string_view, std::string_view>{"stdin", "input"},
                                 {"stdout", "output"},
                                 {"stderr", "error"},
                                 {"tty", "tty"}}) {
    auto v = info.bool_param(option);
    if (!v.ok()) return api::Status::bad_request(v.error().message());
    if (!*v) continue;
    add(kubelet, "1");
    any = any || option != "tty";
  }
  if (!any) return api::Status::bad_request("you must specify at least one of stdin, stdout, stderr");
  return std::string(endpoint) + escape_segment(ns) + "/" + escape_segment(pod) + "/" + escape_segment(container) +
         query;
}

}  // namespace

std::variant<std::string, api::Status> kubelet_exec_target(std::string_view ns, std::string_view pod,
                                                           std::string_view container, const RequestInfo& info) {
  return kubelet_stream_target("/exec/", true, ns, pod, container, info);
}

std::variant<std::string, api::Status> kubelet_attach_target(std::string_view ns, std::string_view pod,
                                                             std::string_view container, const RequestInfo& info) {
  return kubelet_stream_target("/attach/", false, ns, pod, container, info);
}

std::variant<std::string, api::Status> kubelet_port_forward_target(std::string_view ns, std::string_view pod,
                                                                   const RequestInfo& info) {
  std::string query;
  auto [first, last] = info.query.equal_range("ports");
  for (auto it = first; it != last; ++it) {
    std::string_view rest = it->second;
    while (!rest.empty()) {  // a repeated parameter, or a comma-separated list
      const std::size_t comma = rest.find(',');
      const std::string one(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      int port = 0;
      auto [end, ec] = std::from_chars(one.data(), one.data() + one.size(), port);
      if (one.empty() || ec != std::errc() || end != one.data() + one.size() || port < 1 || port > 65535) {
        return api::Status::bad_request("invalid port \"" + one + "\": must be a number in 1..65535");
      }
      query += (query.empty() ? "?" : "&") + std::string("port=") + one;
    }
  }
  return "/portForward/" + escape_segment(ns) + "/" + escape_segment(pod) + query;
}

std::optional<api::Status> port_forward_refusal(const json::object& pod) {
  static const json::object kEmpty;
  const json::object* spec = json::get_object(pod, "spec");
  const json::object* status = json::get_object(pod, "status");
  const json::object* meta = json::get_object(pod, "metadata");
  const std::string name(json::get_string(meta != nullptr ? *meta : kEmpty, "name"));
  if (spec == nullptr || json::get_string(*spec, "nodeName").empty()) {
    return api::Status::bad_request("pod " + name + " does not have a host assigned");
  }
  std::string phase(json::get_string(status != nullptr ? *status : kEmpty, "phase"));
  if (phase != "Running") {
    if (phase.empty()) phase = "Pending";
    return api::Status::bad_request("unable to forward port because pod is not running. Current status=" + phase);
  }
  return std::nullopt;
}

}  // namespace kernlet::apiserver
