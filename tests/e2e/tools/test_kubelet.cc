// kernlet-test-kubelet: the real KubeletServer (agent/server) over a directory of CRI
// log files, for e2e tests of the API server's pods/log proxy before the agent runs pods.
//
//   kernlet-test-kubelet --address IP --port N --cert F --key F --client-ca F --logs DIR
//
// A container's log is DIR/<namespace>/<pod>/<container>.log (rotated files beside it);
// it counts as running while DIR/<namespace>/<pod>/<container>.running exists, and its
// previous instance is <container>.previous.log. Prints "ready <port>" once listening;
// runs until SIGTERM/SIGINT.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/server/kubelet_server.h"

namespace {

namespace fs = std::filesystem;
using namespace kernlet;

class DirectoryLogSource : public agent::LogSource {
 public:
  explicit DirectoryLogSource(fs::path root) : root_(std::move(root)) {}
  Result<agent::ContainerLogInfo> locate(std::string_view ns, std::string_view pod, std::string_view container,
                                         bool previous) override {
    fs::path dir = root_ / std::string(ns) / std::string(pod);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Error(ErrorCode::kNotFound, "pod \"" + std::string(pod) + "\" does not exist");
    std::string c(container);
    fs::path log = dir / (c + (previous ? ".previous.log" : ".log"));
    if (!fs::exists(log, ec)) {
      if (previous && fs::exists(dir / (c + ".log"), ec)) {
        return Error(ErrorCode::kInvalidArgument,
                     "previous terminated container \"" + c + "\" in pod \"" + std::string(pod) + "\" not found");
      }
      return Error(ErrorCode::kNotFound,
                   "container \"" + c + "\" not found in pod \"" + std::string(pod) + "\"");
    }
    agent::ContainerLogInfo info;
    info.path = log.string();
    if (!previous) {
      fs::path marker = dir / (c + ".running");
      info.running = [marker] {
        std::error_code e;
        return fs::exists(marker, e);
      };
    }
    return info;
  }

 private:
  fs::path root_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  agent::KubeletServerOptions o;
  std::string cert, key, ca, logs;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--address") o.address = v;
    else if (a == "--port") o.port = static_cast<uint16_t>(std::stoi(v));
    else if (a == "--cert") cert = v;
    else if (a == "--key") key = v;
    else if (a == "--client-ca") ca = v;
    else if (a == "--logs") logs = v;
    else {
      std::fprintf(stderr, "kernlet-test-kubelet: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  o.cert_pem = slurp(cert);
  o.key_pem = slurp(key);
  o.client_ca_pem = slurp(ca);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  agent::KubeletServer server(o, std::make_shared<DirectoryLogSource>(logs), [] { return json::array(); });
  if (auto s = server.start(); !s.ok()) {
    std::fprintf(stderr, "kernlet-test-kubelet: %s\n", s.error().to_string().c_str());
    return 1;
  }
  std::printf("ready %u\n", server.port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  server.stop();
  return 0;
}
