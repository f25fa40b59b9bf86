// What the child of a container create (or exec) does, computed entirely in the parent and
// executed after clone with async-signal-safe syscalls only. build_mount_steps,
// build_process_plan and encode_init_plan/decode_init_plan are pure and unit-tested;
// run_container_init / run_exec_child (container_plan.cc) and run_init (container_child.cc,
// also compiled into the kernlet-init helper, a mode of the static holder binary) are the
// child sides.
#pragma once

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/container/child_security.h"
#include "runtime/container/container_spec.h"
#include "runtime/sandbox/child_util.h"

namespace kernlet::runtime {

enum class StepKind : uint8_t {
  kFilesystem,  // a fresh filesystem (fsopen): proc, sysfs, tmpfs, devpts, mqueue, cgroup2
  kBind,        // a bind of a host path (open_tree)
  kMask,        // /dev/null over a file, an empty read-only tmpfs over a directory
  kReadonly,    // the path bound over itself read-only
};

struct FsParam {
  const char* key;
  const char* value;  // null: a flag
};

struct MountStep {
  StepKind kind = StepKind::kBind;
  const char* fstype = nullptr;
  const char* source = nullptr;
  const char* dest = nullptr;
  FsParam params[4] = {};
  int nparams = 0;
  uint64_t attr = 0;         // MOUNT_ATTR_* for the new mount
  uint64_t propagation = 0;  // 0, MS_PRIVATE, MS_SLAVE or MS_SHARED (binds)
  bool recursive = false;
  bool dest_is_file = false;  // create a file, not a directory, when the destination is missing
  bool no_symlinks = false;   // refuse any symlink on the way (/proc, /sys, /dev: CVE-2019-19921 class)
  bool optional = false;      // skip when the destination does not exist (masks)
  bool populate_dev = false;  // make the device nodes and links of a minimal /dev in it
  // Set by the child only: a bind cloned before / was made rslave (Bidirectional binds, so
  // the clone stays a peer of the host mount), attached in place of a fresh open_tree.
  int early_src = -1;
};

// Owns the strings the steps point into.
struct MountPlan {
  std::deque<std::string> strings;
  std::vector<MountStep> steps;
  const char* keep(std::string s) { return strings.emplace_back(std::move(s)).c_str(); }
};

struct PodFiles {
  std::string hosts, hostname, resolv_conf;  // host paths; empty: not mounted
};

// The mounts of a container in order: /proc, /dev (+pts, shm, mqueue), /sys (+cgroup),
// the pod's /etc files, the spec's binds, then masked and read-only paths.
// `bind_is_file(source)` tells whether a bind source is a file (the parent stats it).
MountPlan build_mount_steps(const ContainerSpec& spec, const PodFiles& pod,
                            const std::vector<bool>& bind_is_file);

// What the child side reads of a process: plain pointers and counts, so that the init
// helper can read it from a flat buffer (encode_init_plan) without a C++ runtime.
struct ProcessView {
  const char* const* candidates = nullptr;  // where args[0] may be (tried in order)
  size_t ncandidates = 0;
  char** tramp_argv = nullptr;  // {"kernlet-exec", "3", <path slot>, args..., null}
  size_t ntramp_argv = 0;       // with the final null
  char* const* envp = nullptr;  // null-terminated
  size_t nenvp = 0;             // with the final null
  const char* cwd = "/";
  const char* arg0 = nullptr;
  const Rlimit* rlimits = nullptr;
  size_t nrlimits = 0;
  ChildSecurity security;
};

// The process half of a plan, shared by container init and exec.
struct ProcessPlan {
  std::deque<std::string> strings;
  std::vector<const char*> candidates;  // where args[0] may be (tried in order)
  std::vector<char*> tramp_argv;        // {"kernlet-exec", "3", <path slot>, args..., null}
  std::vector<char*> envp;
  std::vector<gid_t> groups;
  std::vector<sock_filter> filter;
  sock_fprog fprog{};
  const char* cwd = "/";
  const char* arg0 = nullptr;
  std::vector<Rlimit> rlimits;
  ChildSecurity security;

  // Pointers into this plan (valid while it lives and is not changed).
  ProcessView view();
};

// Mount propagation of the mount that holds `path` (already resolved, absolute) in a
// /proc/<pid>/mountinfo text: the longest mount point that contains it, the last listed
// when several are stacked. Pure: unit-tested.
enum class MountSharing { kPrivate, kShared, kSlave, kSharedAndSlave, kUnknown };
MountSharing mount_sharing_of(std::string_view mountinfo, std::string_view path);

// Fills a ProcessPlan from a spec (after defaults: capabilities, environment).
void build_process_plan(const ProcessSpec& p, const std::string& hostname, bool privileged,
                        ProcessPlan& out);

// Fd slots in the child after place_fds: 0-2 stdio, then these.
inline constexpr int kReportFd = 3;
inline constexpr int kStartFd = 4;
inline constexpr int kImageFd = 5;
inline constexpr int kTtySocketFd = 6;  // the init sends its pty master to the driver here
inline constexpr int kPlanFd = 7;       // the init's encoded plan (a memfd), for kernlet-init

struct InitPlan {
  // overlay
  const char* const* lowers = nullptr;  // topmost first
  size_t nlowers = 0;
  const char* lower_joined = nullptr;  // "a:b:c" for kernels without "lowerdir+"
  const char* upper = nullptr;
  const char* work = nullptr;
  const char* rootfs = nullptr;
  const MountStep* steps = nullptr;
  size_t nsteps = 0;
  bool read_only_root = false;
  const ProcessView* process = nullptr;
  bool tty = false;     // give the process a pty from the container's devpts
  // 0-2 stdio, 3 report, 4 start, 5 holder image, 6 tty socket, 7 the encoded plan
  child::FdMove fds[8];
  // intermediate: namespaces to join before cloning the init, and how to clone it
  int join_fds[3] = {-1, -1, -1};
  uint64_t clone_flags = 0;
  int cgroup_fd = -1;
  // The init borrows the driver's memory (CLONE_VM | CLONE_VFORK) on this stack until it
  // execs kernlet-init; the intermediate is on another.
  void* init_stack = nullptr;
  size_t init_stack_size = 0;
};

// The header of an encoded init plan; `plan` is the offset of the InitPlan.
struct InitPlanHeader {
  uint32_t magic;
  uint32_t version;  // of the layout: the driver and the embedded helper are built together
  uint64_t size;
  uint64_t plan;
};
inline constexpr uint32_t kInitPlanMagic = 0x6b6c6970;  // "pilk"
inline constexpr uint32_t kInitPlanVersion = 1;

// The init plan (with its process, mount steps and every string) in one buffer, pointers
// replaced by offsets from its start; what the driver hands kernlet-init in a memfd. The
// driver-side fields (fds, join_fds, clone flags, stacks) are not carried.
std::vector<char> encode_init_plan(const InitPlan& plan);

// Turns a buffer from encode_init_plan back into a plan, in place (offsets become pointers
// into `buf`). Checks the header and that every pointer, array and string lies inside the
// buffer. Null when malformed. Async-signal-safe: no allocation.
InitPlan* decode_init_plan(void* buf, size_t len);

struct ExecPlan {
  const ProcessView* process = nullptr;
  int ns_fds[5] = {-1, -1, -1, -1, -1};  // ipc, uts, net, cgroup, mnt (joined in this order)
  bool tty = false;
  child::FdMove fds[5];  // 0-2 stdio (the pty slave when tty), 3 report, 4 holder image
};

// Written by the intermediate into memory it shares with the driver (MAP_SHARED).
struct SpawnResult {
  pid_t pid = -1;    // the init, in the intermediate's PID namespace
  int pidfd = -1;    // in the fd table shared with the driver (CLONE_FILES)
  int err = 0;
};

// Child entry points: never return. run_container_init runs in the intermediate: it joins
// the pod namespaces, clones the init, which places its fds and execs kernlet-init (so the
// init never holds a copy of the driver's memory), and exits. run_init is the init inside
// kernlet-init, with its fds in place and its plan decoded: it sets up, reports READY,
// waits for start and execs the container's process.
[[noreturn]] void run_container_init(const InitPlan& plan, SpawnResult* out);
[[noreturn]] void run_exec_child(const ExecPlan& plan);
[[noreturn]] void run_init(InitPlan& plan);

}  // namespace kernlet::runtime
