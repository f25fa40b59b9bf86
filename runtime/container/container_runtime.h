// Containers: create (namespaces, overlayfs rootfs, mounts, pivot_root, identity; stops
// just before exec), start (exec), wait, stop, remove, status and exec into a running
// container. No shim: each container's init is reparented to its pod's holder process
// (runtime/sandbox), which reaps it and records the exit status in the state dir, so the
// driver can die and a restarted one re-adopts the containers and learns their exit codes.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/result.h"
#include "runtime/container/container_spec.h"
#include "runtime/sandbox/linux.h"
#include "runtime/sandbox/sandbox.h"

namespace kernlet::runtime {

enum class ContainerState { kCreated, kRunning, kExited, kUnknown };

struct ContainerStatus {
  std::string id;
  ContainerState state = ContainerState::kUnknown;
  pid_t pid = 0;           // host pid of the init while created or running
  int exit_code = -1;      // 128+signal when killed by a signal; -1 when not known
  int signal = 0;
  std::string reason;      // Completed, Error, OOMKilled, ContainerCannotRun, Unknown
  std::string message;     // for ContainerCannotRun: what failed
  int64_t created_ns = 0;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
};

// Kubernetes' reason for an exited container. Pure.
std::string exit_reason(int exit_code, bool oom_killed, bool cannot_run);

// A process started by ContainerRuntime::exec. Not thread-safe. The session owns the
// process: destroying it before wait() kills and reaps it (it is the driver's child, and
// nobody else would reap it).
class ExecSession {
 public:
  ~ExecSession();
  pid_t pid() const { return pid_; }
  // The pty master when the exec has a TTY, else -1 (owned by the session).
  int tty_master() const { return master_.get(); }
  // A pidfd of the process (owned by the session): readable once it has exited.
  int pidfd() const { return pidfd_.get(); }
  // Waits for the process to exit: its exit code (128+signal when killed), or
  // kDeadlineExceeded after timeout_ms (-1: forever).
  Result<int> wait(int timeout_ms = -1);
  Result<void> kill(int sig);

 private:
  friend class ContainerRuntime;
  pid_t pid_ = 0;
  UniqueFd pidfd_;
  UniqueFd master_;
  int exit_code_ = -1;
  bool reaped_ = false;
};

// The runtime for one node: sandboxes and containers under one state root.
// Thread-safety: calls about different pods may run at once — the maps of containers and
// sandboxes are guarded, and each create/start/stop/remove/exec works only on its own
// container's state dir, fds and processes (the PID namespace switch around a clone is
// per thread). Calls about the same container, or about a container and its sandbox, must
// be serialised by the caller (the agent holds a lock per pod); recover() runs first, alone.
class ContainerRuntime {
 public:
  // Prepares the state root and marks this process non-dumpable: its clones run our code
  // inside pods before exec and inherit that flag from birth, so no process of a pod can
  // open their /proc/<pid>/{exe,fd,root} (CVE-2019-5736 class).
  static Result<std::unique_ptr<ContainerRuntime>> open(const std::string& state_root);

  SandboxManager& sandboxes() { return sandboxes_; }

  // Sets the container up to the point of exec. Errors: kInvalidArgument (spec),
  // kNotFound (sandbox), kAlreadyExists, or "ContainerCannotRun: <what failed>".
  Result<void> create(const ContainerSpec& spec);
  // Execs the process; returns once it runs. A failed exec marks it ContainerCannotRun.
  Result<void> start(const std::string& id);
  // Waits until the container exits (or kDeadlineExceeded) and returns its status.
  Result<ContainerStatus> wait(const std::string& id, int timeout_ms = -1);
  // SIGTERM, then after grace_ms cgroup.kill (with a cgroup) or SIGKILL; returns the status.
  Result<ContainerStatus> stop(const std::string& id, int grace_ms);
  // Removes an exited (or never started) container's state. kConflict while running.
  Result<void> remove(const std::string& id);
  // Current status; oom_killed comes from the caller's cgroup driver (memory.events).
  Result<ContainerStatus> status(const std::string& id, bool oom_killed = false);
  // Runs a process inside a running container: its namespaces and cgroup, the spec's
  // identity, working directory and security settings, optionally on a pty.
  Result<std::unique_ptr<ExecSession>> exec(const std::string& id, const ExecSpec& spec);
  // The pty master of a container created with process.tty (owned by the runtime; -1 when
  // it has none). The pod's holder keeps a copy (Sandbox::keep_fd), so the terminal
  // survives the driver and a restarted one has it again after recover().
  int tty_master(const std::string& id);
  // Re-adopts sandboxes and containers from the state dir after a restart.
  Result<void> recover();
  std::vector<std::string> list() const;

  ~ContainerRuntime();

 private:
  struct Container;
  explicit ContainerRuntime(std::string root);
  Container* find(const std::string& id);
  Result<void> save(const Container& c);
  Result<ContainerStatus> read_status(Container& c, bool oom_killed);
  Result<void> wait_exit_record(Container& c, int timeout_ms);
  std::string root_;
  SandboxManager sandboxes_;
  UniqueFd own_pidns_;
  mutable std::mutex mu_;  // guards containers_ (the map, not the entries)
  std::map<std::string, std::unique_ptr<Container>> containers_;
};

}  // namespace kernlet::runtime
