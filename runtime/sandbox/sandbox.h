// Pod sandboxes: one small holder process per pod (kernlet-pod-holder, exec'd from a sealed
// memfd) that lives in the pod's network, IPC and UTS namespaces, is PID 1 of the pod's PID
// namespace, reaps the pod's containers and records their exit status in the state dir.
// See docs/architecture.md, "Sandboxes and containers".
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/result.h"
#include "runtime/sandbox/linux.h"
#include "runtime/sandbox/pod_files.h"

namespace kernlet::runtime {

struct SandboxSpec {
  std::string id;         // unique on the node; names the state dir ([A-Za-z0-9_.-]+)
  std::string name;       // pod name; the default hostname
  std::string pod_namespace;
  std::string uid;
  std::string hostname;   // empty: name
  bool host_network = false;  // also means the host's UTS namespace, as in Kubernetes
  bool host_ipc = false;
  bool host_pid = false;
  bool share_process_namespace = false;
  std::string pod_ip;     // for /etc/hosts; may be empty
  DnsConfig dns;          // empty servers: the host's /etc/resolv.conf is copied
  std::vector<HostAlias> host_aliases;
  std::string cgroup_path;  // optional cgroup v2 leaf for the holder process
};

enum class PodNamespace { kNet, kIpc, kUts, kPid };

// A sandbox this process created or adopted. Not thread-safe (its pod's caller serialises
// its use); owned by SandboxManager, at a stable address until remove().
class Sandbox {
 public:
  const SandboxSpec& spec() const { return spec_; }
  const std::string& id() const { return spec_.id; }
  const std::string& dir() const { return dir_; }
  pid_t holder_pid() const { return holder_pid_; }
  int holder_pidfd() const { return pidfd_.get(); }
  // The pod namespace's fd, or -1 when the pod uses the host's (or the holder is gone).
  int ns_fd(PodNamespace ns) const;
  // A path naming the pod's network namespace (for CNI), "" for hostNetwork.
  std::string netns_path() const;
  std::string hosts_path() const { return dir_ + "/hosts"; }
  std::string hostname_path() const { return dir_ + "/hostname"; }
  std::string resolv_conf_path() const { return dir_ + "/resolv.conf"; }
  // Whether containers of this pod share one PID namespace (the holder's).
  bool shares_pid_namespace() const { return spec_.share_process_namespace; }
  // Whether the holder is still running (it was alive when last checked and has not exited).
  bool ready() const;

  // Fds kept by the holder, so they outlive the driver (a tty container's pty master: its
  // terminal hangs up, SIGHUP, when the last master fd closes). The holder holds both ends
  // of a datagram socketpair (its fds 8 and 9) and never reads them; each kept fd is a
  // datagram in flight, SCM_RIGHTS with `tag` as payload. The driver sends on one end and
  // reads the other (a restarted driver gets them with pidfd_getfd). Not thread-safe (the
  // pod's caller serialises), as the rest of Sandbox.
  // Keeps a dup of `fd` under `tag` (≤ 200 bytes). Errors: the holder has no keeper (one
  // started by an older runtime), sendmsg.
  Result<void> keep_fd(const std::string& tag, int fd);
  // A dup of the fd kept under `tag` (it stays kept). kNotFound when there is none.
  Result<UniqueFd> kept_fd(const std::string& tag);
  // Closes the fd kept under `tag`; none is fine.
  Result<void> drop_kept_fd(const std::string& tag);

 private:
  friend class SandboxManager;
  SandboxSpec spec_;
  std::string dir_;
  pid_t holder_pid_ = 0;
  uint64_t holder_start_ = 0;
  bool our_child_ = false;
  UniqueFd pidfd_;
  UniqueFd net_, ipc_, uts_, pid_;
  // The keeper's ends: ours since create, or taken from the holder after a restart.
  Result<void> open_keeper();
  // Every kept (tag, fd), read off the queue; put back what is to stay with requeue().
  Result<std::vector<std::pair<std::string, UniqueFd>>> drain_kept();
  Result<void> send_kept(const std::string& tag, int fd);
  UniqueFd keep_send_, keep_recv_;
};

// Creates, stops, removes and re-adopts sandboxes under <state_root>/sandboxes/<id>.
// Thread-safety: calls about different sandboxes may run at once (the map is guarded; each
// sandbox's work touches only its own state dir and processes). Calls about the same
// sandbox (and the use of its Sandbox*) must be serialised by the caller; recover() runs
// before any other call.
class SandboxManager {
 public:
  explicit SandboxManager(std::string state_root);

  // Writes the pod's /etc files and starts its holder in fresh namespaces (those not taken
  // from the host). Errors: kAlreadyExists, kInvalidArgument, or the failing syscall.
  Result<Sandbox*> create(const SandboxSpec& spec);
  // Rewrites the pod's /etc/hosts once its address is known (the network is set up after
  // the sandbox exists): the pod IP line (with `fqdn` when not empty) and `aliases`. The
  // file is replaced atomically; containers started afterwards bind the new one. Nothing
  // to do for hostNetwork sandboxes (they carry the node's file). Errors: kNotFound, or
  // the write.
  Result<void> write_hosts(const std::string& id, const std::string& pod_ip, const std::string& fqdn,
                           const std::vector<HostAlias>& aliases);
  // Kills the holder (which ends every process in the pod's PID namespace) and waits for it.
  Result<void> stop(const std::string& id);
  // stop, then remove the state dir.
  Result<void> remove(const std::string& id);
  Sandbox* find(const std::string& id);
  // Loads every sandbox in the state dir; re-opens the namespaces of those whose holder
  // (same pid and start time) still runs. Returns the ids found.
  Result<std::vector<std::string>> recover();

  const std::string& state_root() const { return root_; }
  std::string containers_dir() const { return root_ + "/containers"; }

 private:
  Result<void> open_namespaces(Sandbox& sb);
  std::string root_;
  mutable std::mutex mu_;  // guards sandboxes_ (the map, not the entries)
  std::map<std::string, std::unique_ptr<Sandbox>> sandboxes_;
};

// Whether `id` is usable as a state dir name.
bool valid_object_id(const std::string& id);

}  // namespace kernlet::runtime
