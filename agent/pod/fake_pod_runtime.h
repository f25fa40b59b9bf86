// FakePodRuntime: PodRuntime in memory, for unit tests of the sync logic. Tests make
// containers exit (exit()), make pulls or starts fail, and read what was called.
// Thread-safe.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/pod/pod_runtime.h"

namespace kernlet::agent {

class FakePodRuntime final : public PodRuntime {
 public:
  // Wall-clock time in unix ns for created/started/finished stamps.
  std::function<int64_t()> now_ns = [] { return int64_t{1'700'000'000'000'000'000}; };

  // --- test controls ---
  void add_image(const std::string& ref, const std::string& id = "sha256:1111");
  void fail_pull(const std::string& ref, const std::string& message);  // until cleared
  void clear_pull_failure(const std::string& ref);
  // Pulls of `ref` fail ("unauthorized: <user>") unless made with `username`'s credentials.
  void require_credentials(const std::string& ref, const std::string& username);
  // The username of every pull in order ("" for an anonymous one).
  std::vector<std::string> pull_users() const;
  // The next start of container `name` fails at `step` with `message`.
  void fail_next_start(const std::string& name, StartFailure step, const std::string& message);
  // Ends a running instance with `exit_code` (and `signal`).
  void exit(const std::string& id, int exit_code, int signal = 0, bool oom = false);
  // Kills the sandbox holder: the sandbox is no longer ready, its containers end.
  void kill_sandbox(const std::string& pod_uid);
  // The id of the latest instance of container `name` of the pod, "" when none.
  std::string latest(const std::string& pod_uid, const std::string& name);
  int starts() const;
  int pulls() const;
  std::vector<std::string> stopped() const;  // ids passed to stop_container, in order
  std::vector<ContainerConfig> started_configs() const;
  // The config the pod's sandbox was last created with (nullopt: never created).
  std::optional<SandboxConfig> sandbox_config(const std::string& pod_uid) const;
  // The pod IP the pod's /etc/hosts was last written with ("" if never).
  std::string hosts_ip(const std::string& pod_uid) const;

  // --- PodRuntime ---
  Result<SandboxStatus> ensure_sandbox(const SandboxConfig& config) override;
  SandboxStatus sandbox_status(const std::string& pod_uid) override;
  Result<void> stop_sandbox(const std::string& pod_uid) override;
  Result<void> write_hosts(const SandboxConfig& config, const std::string& pod_ip) override;
  std::optional<ImageInfo> image_status(const std::string& ref) override;
  Result<ImageInfo> pull_image(const std::string& ref, const images::RegistryOptions& options) override;
  std::optional<StartError> start_container(const ContainerConfig& config) override;
  std::vector<ContainerInfo> list_containers(const std::string& pod_uid) override;
  std::vector<std::string> list_pods() override;
  Result<runtime::ContainerStatus> stop_container(const std::string& id, std::chrono::milliseconds grace) override;
  Result<void> remove_container(const std::string& id) override;
  Result<void> remove_pod(const std::string& pod_uid) override;
  void ensure_log_pump(const std::string&, const std::string&) override {}
  Result<ExecResult> exec(const std::string& id, const std::vector<std::string>& command,
                          std::chrono::milliseconds timeout) override;

 private:
  struct Sandbox {
    bool ready = true;
    int creations = 0;
    std::optional<SandboxConfig> config;
    std::string hosts_ip;
  };
  mutable std::mutex mu_;
  std::map<std::string, ImageInfo> images_;
  std::map<std::string, std::string> pull_failures_;
  std::map<std::string, std::string> required_user_;
  std::vector<std::string> pull_users_;
  std::map<std::string, std::pair<StartFailure, std::string>> start_failures_;
  std::map<std::string, Sandbox> sandboxes_;
  std::map<std::string, ContainerInfo> containers_;
  std::vector<std::string> stopped_;
  std::vector<ContainerConfig> configs_;
  int starts_ = 0;
  int pulls_ = 0;
};

}  // namespace kernlet::agent
