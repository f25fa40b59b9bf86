// What a container is made of, as already-resolved inputs: image layers as overlayfs lower
// dirs, the process, mounts, security settings computed by the caller (seccomp program,
// capability sets), an optional cgroup v2 leaf and output fds or paths.
#pragma once

#include <linux/filter.h>
#include <stdint.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::runtime {

// The five capability sets as bit masks (bit n = capability n).
struct CapabilitySets {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;

  // The set containerd grants a non-privileged container: CHOWN, DAC_OVERRIDE, FSETID,
  // FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT,
  // KILL, AUDIT_WRITE in bounding, effective and permitted.
  static CapabilitySets containerd_default();
  // Every capability in this process's bounding set (privileged containers), as
  // containerd's WithAllCurrentCapabilities.
  static CapabilitySets all();
};

enum class Propagation { kPrivate, kHostToContainer, kBidirectional };

struct BindMount {
  std::string source;       // host path
  std::string destination;  // absolute path inside the container
  bool read_only = false;
  Propagation propagation = Propagation::kPrivate;
  bool recursive = true;
};

struct Rlimit {
  int resource;  // RLIMIT_*
  uint64_t soft;
  uint64_t hard;
};

struct ProcessSpec {
  std::vector<std::string> args;  // args[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;   // "KEY=value"; PATH and HOSTNAME are added when missing
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> supplemental_gids;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<CapabilitySets> capabilities;  // empty: containerd's default (all if privileged)
  std::vector<sock_filter> seccomp;            // empty: no filter (Unconfined)
  bool tty = false;  // a pty from the container's devpts (master: tty_master / ExecSession)
  // Standard streams: a borrowed fd (dup'd), else a path (opened O_WRONLY|O_APPEND|O_CREAT,
  // or a FIFO whose reader is already open), else /dev/null.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  std::string stdout_path;
  std::string stderr_path;
};

struct ContainerSpec {
  std::string id;          // unique on the node; names the state dir
  std::string sandbox_id;  // the pod sandbox it runs in (must exist and be ready)
  std::vector<std::string> lower_dirs;  // overlay lower layers, topmost first
  ProcessSpec process;
  std::vector<BindMount> mounts;
  bool read_only_rootfs = false;
  bool privileged = false;  // all capabilities, no masked paths, /sys read-write
  std::optional<std::vector<std::string>> masked_paths;    // empty optional: OCI defaults
  std::optional<std::vector<std::string>> readonly_paths;  // empty optional: OCI defaults
  bool pod_etc_files = true;  // bind the sandbox's /etc/hosts, /etc/hostname, /etc/resolv.conf
  std::string cgroup_path;    // optional cgroup v2 leaf (cgroup.kill on stop)
  int cgroup_fd = -1;         // or a borrowed fd of it
};

struct ExecSpec {
  ProcessSpec process;
  // As CRI's ExecSync: run as the container's own process runs (its uid, gid, supplementary
  // groups, capabilities, no_new_privs, seccomp filter, rlimits, environment and working
  // dir, as given at create); of `process` only args, tty and the standard streams count.
  bool as_container = false;
};

// The identity part of a ProcessSpec (everything but args, tty and streams) as text, kept
// in the container's state dir so an exec after a driver restart still gets it; and back.
// Errors name the line that does not parse.
std::string format_exec_identity(const ProcessSpec& p);
Result<ProcessSpec> parse_exec_identity(std::string_view text);

// The OCI runtime-spec default masked and read-only paths (what containerd applies).
const std::vector<std::string>& default_masked_paths();
const std::vector<std::string>& default_readonly_paths();

// Checks a spec before anything touches the machine; errors name the field.
Result<void> validate_container_spec(const ContainerSpec& spec);
Result<void> validate_process_spec(const ProcessSpec& p, const std::string& field);

// The paths tried for args[0]: itself if it has a '/', else each $PATH entry joined with it.
std::vector<std::string> exec_candidates(const std::string& arg0, const std::vector<std::string>& env);

// The environment a process gets: env plus PATH and HOSTNAME when missing.
std::vector<std::string> process_environment(const std::vector<std::string>& env,
                                             const std::string& hostname);

}  // namespace kernlet::runtime
