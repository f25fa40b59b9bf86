// RealPodRuntime: PodRuntime over the in-process runtime: ContainerRuntime (state under
// <root>/runtime), ImageStore (<root>/images), CgroupV2Driver (pod-<uid>/ctr-<id> under the
// cgroup root) and one LogPump fed by per-container FIFOs under <root>/pods/<uid>/io/<id>/,
// so output is never lost while the agent is down.
//
// Thread-safety: every method may be called from any thread. Work on one pod holds that
// pod's lock (pod_locks_, keyed by uid), so the sandboxes and containers of different pods
// are created, stopped and removed at the same time (ContainerRuntime allows calls about
// different pods at once) while the calls about one pod stay in order. Shared parts guard
// themselves: the image store, the cgroup driver and the log pump are thread-safe, and
// pumped_ has pump_mu_. Waiting for a container to end (the grace period of a stop, an
// exec) happens outside any lock, on a pidfd of our own.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "agent/pod/keyed_mutex.h"
#include "agent/pod/pod_runtime.h"
#include "runtime/cgroups/cgroup_fs.h"
#include "runtime/cgroups/cgroup_v2_driver.h"
#include "runtime/images/image_store.h"
#include "runtime/logs/log_pump.h"

namespace kernlet::agent {

struct RealPodRuntimeOptions {
  std::string root_dir = "/var/lib/kernlet/agent";  // runtime/, images/, pods/ below it
  std::string cgroup_root;                          // "": default_agent_cgroup_root()
};

// /sys/fs/cgroup/kernlet-agent on a pure cgroup2 host, /sys/fs/cgroup/unified/kernlet-agent
// on a hybrid one.
std::string default_agent_cgroup_root();

class RealPodRuntime final : public PodRuntime {
 public:
  // Opens the stores, re-adopts sandboxes and containers (ContainerRuntime::recover),
  // opens the cgroup driver and starts the log pump. Errors name the path.
  static Result<std::unique_ptr<RealPodRuntime>> open(const RealPodRuntimeOptions& options);
  ~RealPodRuntime() override;

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
  void ensure_log_pump(const std::string& id, const std::string& log_path) override;
  Result<ExecResult> exec(const std::string& id, const std::vector<std::string>& command,
                          std::chrono::milliseconds timeout) override;
  // Starts `spec` in running container `id` under the pod's lock and returns at once (the
  // kubelet API's exec streams it). Errors as ContainerRuntime::exec.
  Result<std::unique_ptr<runtime::ExecSession>> start_exec(const std::string& id, const runtime::ExecSpec& spec);

  // One kubelet API attach session to running container `id`: its live output (the log
  // pump's fan-out; with a tty, the terminal's output), and with `want_input` a writer of
  // its stdin (with a tty, a dup of the pty master: input, and TIOCSWINSZ for resizes).
  // `input` stays invalid when the container has no stdin, when a stdinOnce stdin has
  // been closed already, or for a tty after an agent restart (the terminal did not
  // survive). Errors: kConflict when the container is not running or its output has
  // ended (a tty container after a restart), kNotFound for an unknown id.
  struct Attachment {
    logs::LogPump::Subscription output;
    runtime::UniqueFd input;
    bool tty = false;
    bool stdin_once = false;
  };
  Result<Attachment> attach(const std::string& id, bool want_input);
  // The end of an attach session's output (LogPump::unsubscribe). Thread-safe.
  void detach(uint64_t subscription);
  // The end of the input of an attach session that had a stdinOnce container's input:
  // that stdin is closed for good (the container reads EOF; with a tty, later sessions get
  // no input).
  void close_stdin_once(const std::string& id);

  images::ImageStore& images() { return *images_; }
  const cgroups::ControllerReport& cgroup_report() const { return cgroups_->controllers(); }
  const std::string& root_dir() const { return options_.root_dir; }

 private:
  RealPodRuntime() = default;
  std::string io_dir(const std::string& pod_uid, const std::string& id) const;
  std::optional<bool> oom_killed_locked(const std::string& pod_uid, const std::string& id);
  // The lock of the pod a container id belongs to (the id itself when it is not ours).
  KeyedMutex::Guard lock_container(const std::string& id);
  Result<void> remove_container_locked(const std::string& id, const std::string& pod_uid);

  RealPodRuntimeOptions options_;
  std::unique_ptr<images::ImageStore> images_;
  std::unique_ptr<cgroups::RealCgroupFs> cgfs_;
  std::optional<cgroups::CgroupV2Driver> cgroups_;
  std::unique_ptr<logs::LogPump> pump_;
  KeyedMutex pod_locks_;  // by pod uid: one caller at a time per pod into rt_
  std::unique_ptr<runtime::ContainerRuntime> rt_;
  std::mutex pump_mu_;  // guards pumped_
  std::set<std::string> pumped_;
  // The stdin and tty of containers started by this agent (not re-adopted ones): a tty
  // container's pty master is the runtime's; `once_writer` is the writer that keeps a
  // stdinOnce container's stdin open until the first attach session ends.
  struct Stdio {
    bool tty = false;
    bool open_stdin = false;
    bool stdin_once = false;
    runtime::UniqueFd once_writer;
  };
  std::mutex stdio_mu_;  // guards stdio_
  std::map<std::string, Stdio> stdio_;
  std::mutex pull_mu_;  // one pull at a time keeps the store's tmp/ and the network calm
};

}  // namespace kernlet::agent
