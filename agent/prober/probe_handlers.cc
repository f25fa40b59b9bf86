#include "agent/prober/probe_handlers.h"

#include <charconv>

#include "api/objects/pod.h"

namespace kernlet::agent {

using api::ContainerView;
using api::HandlerView;
using api::HttpGetView;
using api::IntOrString;
using api::ProbeView;

const char* probe_type_name(ProbeType t) {
  switch (t) {
    case ProbeType::kLiveness: return "Liveness";
    case ProbeType::kReadiness: return "Readiness";
    case ProbeType::kStartup: return "Startup";
  }
  return "Unknown";
}

Result<int> resolve_container_port(const api::IntOrString& port, const json::object& container) {
  int64_t n = -1;
  if (port.is_int) {
    n = port.int_value;
  } else if (auto named = ContainerView(container).find_port(port.str_value)) {
    n = *named;
  } else {
    // The kubelet's last try: a number written as a string.
    const char* b = port.str_value.data();
    const char* e = b + port.str_value.size();
    auto [ptr, ec] = std::from_chars(b, e, n);
    if (ec != std::errc() || ptr != e || port.str_value.empty())
      return Error(ErrorCode::kInvalidArgument, "port " + std::string(port.str_value) + " not found");
  }
  if (n > 0 && n < 65536) return static_cast<int>(n);
  return Error(ErrorCode::kInvalidArgument, "invalid port number: " + std::to_string(n));
}

std::string probe_host(std::string_view host, const ProbeTarget& target) {
  if (!host.empty()) return std::string(host);
  if (!target.pod_ip.empty()) return target.pod_ip;
  return "127.0.0.1";
}

Result<HttpGetRequest> http_request_for(const json::object& http_get, const ProbeTarget& target,
                                        const char* user_agent) {
  HttpGetView h(http_get);
  auto port = h.port();
  if (!port) return Error(ErrorCode::kInvalidArgument, "httpGet.port is not set");
  HttpGetRequest req;
  KL_ASSIGN_OR_RETURN(req.port, resolve_container_port(*port, target.container));
  req.scheme = std::string(h.scheme());
  req.host = probe_host(h.host(), target);
  req.path = std::string(h.path());
  for (const auto& [name, value] : h.http_headers()) req.headers.emplace_back(name, value);
  req.user_agent = user_agent;
  return req;
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

ProbeResult HandlerProbeRunner::run(const ProbeTarget& target, const json::object& probe) {
  ProbeView p(probe);
  const auto timeout = std::chrono::seconds(p.timeout_seconds());
  HandlerView h = p.handler();
  switch (h.kind()) {
    case HandlerView::Kind::Exec: {
      std::vector<std::string> argv;
      for (auto a : h.exec_command()) argv.emplace_back(a);
      auto out = runtime_.exec(target.container_id, argv, timeout);
      if (!out.ok()) {
        // ExecProbeTimeout (on since 1.20): a timeout is a failure with this text.
        if (out.error().code() == ErrorCode::kDeadlineExceeded)
          return {ProbeOutcome::kFailure, "command " + go_quote(join_command(argv)) + " timed out"};
        return {ProbeOutcome::kError, out.error().to_string()};
      }
      std::string text = std::move(out->output);
      if (text.size() > 10 * 1024) text.resize(10 * 1024);
      return {out->exit_code == 0 ? ProbeOutcome::kSuccess : ProbeOutcome::kFailure, std::move(text)};
    }
    case HandlerView::Kind::HttpGet: {
      auto req = http_request_for(h.http_get()->raw(), target, kProbeUserAgent);
      if (!req.ok()) return {ProbeOutcome::kError, req.error().to_string()};
      return http_probe(target.netns_path, *req, timeout);
    }
    case HandlerView::Kind::TcpSocket: {
      auto port_spec = h.tcp_socket_port();
      if (!port_spec) return {ProbeOutcome::kError, "tcpSocket.port is not set"};
      auto port = resolve_container_port(*port_spec, target.container);
      if (!port.ok()) return {ProbeOutcome::kError, port.error().to_string()};
      return tcp_probe(target.netns_path, probe_host(h.tcp_socket_host(), target), *port, timeout);
    }
    case HandlerView::Kind::Grpc: {
      auto port = h.grpc_port();
      if (!port || *port <= 0 || *port > 65535)
        return {ProbeOutcome::kError, "invalid port number: " + std::to_string(port.value_or(0))};
      return grpc_probe(target.netns_path, probe_host("", target), static_cast<int>(*port),
                        std::string(h.grpc_service()), timeout);
    }
    case HandlerView::Kind::Sleep:
    case HandlerView::Kind::None:
      break;
  }
  return {ProbeOutcome::kError, "missing probe handler for " + target.pod_namespace + "/" +
                                    target.pod_name + ":" + target.container_name};
}

}  // namespace kernlet::agent
