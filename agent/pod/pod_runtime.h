// PodRuntime: what the pod workers need from a container runtime, as one small interface.
// RealPodRuntime (real_pod_runtime.h) implements it over runtime/ in-process; FakePodRuntime
// (fake_pod_runtime.h) implements it in memory for the unit tests of the sync logic.
//
// Naming, which makes restart safety need no extra record: a pod's sandbox id is its uid,
// and each run of a container is a runtime container with id `<pod uid>_<name>_<attempt>`
// (attempt 0, 1, 2, ...). After an agent restart the containers of a pod, their restart
// counts (the latest attempt) and their exit codes are read back from the runtime's own state.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/result.h"
#include "runtime/cgroups/cgroup_settings.h"
#include "runtime/container/container_runtime.h"
#include "runtime/container/container_spec.h"
#include "runtime/images/image_config.h"
#include "runtime/images/oci.h"
#include "runtime/images/registry_client.h"
#include "runtime/sandbox/pod_files.h"

namespace kernlet::agent {

// `<pod uid>_<name>_<attempt>`.
std::string container_instance_id(std::string_view pod_uid, std::string_view name, int attempt);

struct InstanceName {
  std::string pod_uid;
  std::string name;
  int attempt = 0;
};
// The parts of a container instance id; nullopt for an id this agent did not make.
std::optional<InstanceName> parse_container_instance_id(std::string_view id);

// An image present on the node.
struct ImageInfo {
  std::string ref;  // as resolved (canonical)
  std::string id;   // "sha256:<config digest hex>"
  images::ImageConfig config;
  std::vector<std::string> layer_dirs;  // lowest first
  int64_t size = 0;
};

struct SandboxConfig {
  std::string pod_uid;
  std::string name;
  std::string namespace_;
  std::string hostname;
  bool host_network = false;
  bool host_ipc = false;
  bool host_pid = false;
  bool share_process_namespace = false;
  runtime::DnsConfig dns;
  std::vector<runtime::HostAlias> host_aliases;
  std::string hostname_fqdn;  // for /etc/hosts, when the pod has a subdomain; else ""
  cgroups::Resources resources;  // the pod cgroup's
};

struct SandboxStatus {
  bool exists = false;
  bool ready = false;       // the holder runs
  std::string netns_path;   // for CNI; "" for hostNetwork
  pid_t holder_pid = 0;
};

// Everything a container needs, already resolved by the worker (env, identity, security).
struct ContainerConfig {
  std::string pod_uid;
  std::string name;
  int attempt = 0;
  ImageInfo image;
  runtime::ProcessSpec process;  // stdio is the runtime's business (log FIFOs)
  std::vector<runtime::BindMount> mounts;
  bool read_only_rootfs = false;
  bool privileged = false;
  cgroups::Resources resources;
  std::string log_path;  // the CRI log file of this attempt
  // The container's stdin and stdinOnce (its tty is process.tty): whether fd 0 is a stream
  // the kubelet API's attach writes to, and whether that stream ends with the first
  // attach session.
  bool open_stdin = false;
  bool stdin_once = false;
  std::string id() const { return container_instance_id(pod_uid, name, attempt); }
};

// One container instance as the runtime sees it.
struct ContainerInfo {
  std::string id;
  std::string pod_uid;
  std::string name;
  int attempt = 0;
  runtime::ContainerStatus status;
  std::optional<bool> oom_killed;  // nullopt: cannot be observed here
};

struct ExecResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, bounded
  bool timed_out = false;
};

// Which step of create+start failed: the kubelet's waiting reasons.
enum class StartFailure { kCreate, kRun };

struct StartError {
  StartFailure step = StartFailure::kCreate;
  Error error;
};

class PodRuntime {
 public:
  virtual ~PodRuntime() = default;

  // Creates the pod's cgroup and sandbox when missing. Errors: the sandbox could not be
  // created (FailedCreatePodSandBox). Thread-safe.
  virtual Result<SandboxStatus> ensure_sandbox(const SandboxConfig& config) = 0;
  // The sandbox of `pod_uid` as it is now. Thread-safe.
  virtual SandboxStatus sandbox_status(const std::string& pod_uid) = 0;
  // Stops the sandbox's holder (every process of the pod ends) but keeps its state, so the
  // containers' records stay readable (terminal pods). Thread-safe.
  virtual Result<void> stop_sandbox(const std::string& pod_uid) = 0;
  // Writes the pod's /etc/hosts with its address (known once the network is set up, after
  // the sandbox exists), `config`'s hostname FQDN and aliases. Thread-safe.
  virtual Result<void> write_hosts(const SandboxConfig& config, const std::string& pod_ip) = 0;

  // The image when present. Thread-safe.
  virtual std::optional<ImageInfo> image_status(const std::string& ref) = 0;
  // Pulls the image (blocking; not under the runtime lock). Thread-safe.
  virtual Result<ImageInfo> pull_image(const std::string& ref, const images::RegistryOptions& options) = 0;

  // Creates and starts one container instance (log FIFOs, cgroup leaf, create, start).
  // Thread-safe.
  virtual std::optional<StartError> start_container(const ContainerConfig& config) = 0;
  // Every container instance of the pod (any state), ordered by name then attempt.
  // Thread-safe.
  virtual std::vector<ContainerInfo> list_containers(const std::string& pod_uid) = 0;
  // The uids of every pod that has a sandbox or a container here. Thread-safe.
  virtual std::vector<std::string> list_pods() = 0;
  // SIGTERM, waits up to `grace` (without holding the runtime lock), then kills; returns
  // the final status. A container that has already exited just returns its status.
  // Thread-safe.
  virtual Result<runtime::ContainerStatus> stop_container(const std::string& id, std::chrono::milliseconds grace) = 0;
  // Removes an exited instance (state, FIFOs, cgroup leaf). Thread-safe.
  virtual Result<void> remove_container(const std::string& id) = 0;
  // Kills whatever still runs and removes everything of the pod: containers, sandbox,
  // cgroups, FIFOs. Log files are not touched. Thread-safe.
  virtual Result<void> remove_pod(const std::string& pod_uid) = 0;
  // Makes sure the instance's output is pumped into `log_path` (after an agent restart the
  // FIFOs of re-adopted containers are opened again). Idempotent. Thread-safe.
  virtual void ensure_log_pump(const std::string& id, const std::string& log_path) = 0;
  // Runs `command` in a running container; `timeout` bounds it. Thread-safe.
  virtual Result<ExecResult> exec(const std::string& id, const std::vector<std::string>& command,
                                  std::chrono::milliseconds timeout) = 0;
};

}  // namespace kernlet::agent
