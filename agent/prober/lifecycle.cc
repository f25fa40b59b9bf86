#include "agent/prober/lifecycle.h"

#include <strings.h>

#include <condition_variable>
#include <mutex>

#include "agent/prober/net_probe.h"
#include "agent/prober/probe_handlers.h"
#include "api/objects/pod.h"

namespace kernlet::agent {

using api::ContainerView;
using api::HandlerView;
using api::HttpGetView;
using api::IntOrString;
using api::ProbeView;

namespace {

// format.Pod: name_namespace(uid).
std::string format_pod(const HandlerTarget& t) {
  return t.pod_name + "_" + t.pod_namespace + "(" + t.pod_uid + ")";
}

// Go's %v of a []string: [a b c].
std::string go_list(const std::vector<std::string>& v) { return "[" + join_command(v) + "]"; }

std::string where(const HandlerTarget& t) {
  return " for Container " + go_quote(t.container_name) + " in Pod " + go_quote(format_pod(t)) +
         " failed - error: ";
}

}  // namespace

Result<void> run_lifecycle_handler(ProbeRuntime& runtime, const json::object& handler,
                                   const HandlerTarget& target, std::chrono::milliseconds timeout,
                                   std::stop_token stop) {
  HandlerView h(handler);
  switch (h.kind()) {
    case HandlerView::Kind::Exec: {
      std::vector<std::string> argv;
      for (auto a : h.exec_command()) argv.emplace_back(a);
      auto out = runtime.exec(target.container_id, argv, timeout);
      std::string err, output;
      if (!out.ok()) {
        err = out.error().code() == ErrorCode::kDeadlineExceeded
                  ? "command '" + join_command(argv) + "' timed out"
                  : out.error().to_string();
      } else if (out->exit_code != 0) {
        output = out->output;
        err = "command '" + join_command(argv) + "' exited with " + std::to_string(out->exit_code) +
              ": " + output;
      } else {
        return Ok();
      }
      return Error("Exec lifecycle hook (" + go_list(argv) + ")" + where(target) + err +
                   ", message: " + go_quote(output));
    }
    case HandlerView::Kind::HttpGet: {
      // The path as written (the kubelet prints the field, "" when unset).
      std::string path(json::get_string(h.http_get()->raw(), "path"));
      auto req = http_request_for(h.http_get()->raw(), target, kLifecycleUserAgent);
      if (!req.ok())
        return Error("HTTP lifecycle hook (" + path + ")" + where(target) + req.error().message());
      // Only delivery counts: the kubelet ignores the status code of a hook's response.
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      auto resp = http_get(target.netns_path, *req, deadline);
      if (!resp.ok() && resp.error().message().find(kHttpResponseToHttps) != std::string::npos) {
        // The kubelet retries a hook over plain HTTP when an HTTPS server answered in HTTP,
        // without the Authorization header.
        HttpGetRequest plain = *req;
        plain.scheme = "HTTP";
        std::erase_if(plain.headers, [](const auto& header) {
          return strcasecmp(header.first.c_str(), "Authorization") == 0;
        });
        auto retry = http_get(target.netns_path, plain, deadline);
        if (retry.ok()) return Ok();
      }
      if (!resp.ok())
        return Error("HTTP lifecycle hook (" + path + ")" + where(target) + resp.error().message());
      return Ok();
    }
    case HandlerView::Kind::Sleep: {
      int64_t seconds = h.sleep_seconds().value_or(0);
      auto want = std::chrono::seconds(seconds);
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      bool stopped = cv.wait_for(lock, stop, std::min<std::chrono::milliseconds>(want, timeout),
                                 [] { return false; });
      (void)stopped;
      if (stop.stop_requested() || want > timeout)
        return Error("Sleep lifecycle hook (" + std::to_string(seconds) + ")" + where(target) +
                     "container terminated before sleep hook finished");
      return Ok();
    }
    case HandlerView::Kind::TcpSocket:
    case HandlerView::Kind::Grpc:
    case HandlerView::Kind::None:
      break;
  }
  return Error("Cannot run handler: invalid handler: " + json::dump(handler));
}

}  // namespace kernlet::agent
