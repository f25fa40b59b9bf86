// kernlet-pod-holder: the one long-lived process per pod, and the exec trampoline.
//
// Built as a small static binary and embedded into kernlet_runtime_sandbox; the runtime
// executes it from a sealed memfd (so no process inside a pod ever has a writable host
// binary as /proc/<pid>/exe; CVE-2019-5736). It has two modes chosen by argv[0]:
//
//   kernlet-pod-holder   PID 1 of the pod's PID namespace (when it has one); holds the pod's
//       network, IPC and UTS namespaces by living in them. Containers are reparented to it,
//       so it reaps them and writes each registered container's exit status atomically to
//       the state dir. fds: 3 = sandbox state dir, 4 = containers state dir,
//       5 = ready pipe (one byte once signals are set up), 8 and 9 = the two ends of the
//       fd keeper (Sandbox::keep_fd), held and never touched: the fds the driver sends
//       through it stay open while the holder lives. SIGTERM ends it.
//   kernlet-exec <report-fd> <path> <argv...>   re-execs <path> with the environment it got;
//       the last hop of every exec process, so /proc/self/exe at the final execve is this
//       sealed memfd, never the driver's binary.
//   kernlet-init   a container's init, exec'd right after its clone (which borrowed the
//       driver's memory until then): reads its plan from fd 7 (a memfd from
//       encode_init_plan), sets the container up (runtime/container/container_child.cc),
//       reports READY on fd 3, waits for the start byte on fd 4 and execs the process.
//       fds 0-2 are the container's stdio, 6 the tty socket.
//
// Only libc, no C++ runtime: its RSS is what each pod costs.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/container/container_plan.h"
#include "runtime/sandbox/child_report.h"
#include "runtime/sandbox/child_util.h"

namespace {

constexpr int kSandboxDirFd = 3;
constexpr int kContainersDirFd = 4;
constexpr int kReadyFd = 5;

void report_exec_error(int fd, int err, const char* path) {
  kernlet::runtime::ChildReport r{};
  r.magic = kernlet::runtime::kChildReportMagic;
  r.kind = kernlet::runtime::kChildError;
  r.err = err;
  kernlet::runtime::child::Msg m;
  m.add("exec ").add(path);
  size_t n = strlen(m.c_str());
  if (n >= sizeof(r.message)) n = sizeof(r.message) - 1;
  memcpy(r.message, m.c_str(), n);
  ssize_t w = write(fd, &r, sizeof(r));
  (void)w;
}

// A blocked signal mask and ignored dispositions survive execve. Container processes are
// cloned from the driver (the agent, a CLI), so whatever that process blocks or ignores
// would reach the workload: a driver that blocks SIGTERM for sigwait would make every
// container deaf to `kubectl delete`. Start the workload as a fresh process would.
void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);  // EINVAL for the C library's internal signals: fine
  }
}

int exec_main(int argc, char** argv) {
  if (argc < 4) return 127;
  int fd = atoi(argv[1]);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  reset_signals();
  execve(argv[2], argv + 3, environ);
  report_exec_error(fd, errno, argv[2]);
  return 127;
}

[[noreturn]] void init_main() {
  using namespace kernlet::runtime;
  // Non-dumpable, as the driver's copy was: a container sharing the pod's PID namespace
  // must not reach our fds or the host mounts we still see through /proc. (Before this
  // line the exec left us dumpable, but we hold every capability until the last step, and
  // the kernel lets only a holder of CAP_SYS_PTRACE reach a process whose permitted set is
  // not a subset of its own.)
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  reset_signals();
  fcntl(kReportFd, F_SETFD, FD_CLOEXEC);  // EOF at the final exec tells the driver it worked
  fcntl(kStartFd, F_SETFD, FD_CLOEXEC);
  fcntl(kTtySocketFd, F_SETFD, FD_CLOEXEC);
  struct stat st;
  if (fstat(kPlanFd, &st) != 0 || st.st_size <= 0)
    child::fail(kReportFd, errno != 0 ? errno : EINVAL, "read the init plan");
  size_t len = static_cast<size_t>(st.st_size);
  void* buf = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, kPlanFd, 0);
  if (buf == MAP_FAILED) child::fail(kReportFd, errno, "map the init plan");
  close(kPlanFd);
  InitPlan* plan = decode_init_plan(buf, len);
  if (plan == nullptr) child::fail(kReportFd, EINVAL, "malformed init plan");
  run_init(*plan);
}

// Reads sandbox-dir/pids/<pid> (the container id the driver registered for that pid) and
// writes containers/<id>/exit atomically. Unregistered pids (exec processes, orphans) are
// only reaped.
void record_exit(const siginfo_t& si) {
  using kernlet::runtime::child::Msg;
  Msg reg;
  reg.add("pids/").add_int(si.si_pid);
  int fd = openat(kSandboxDirFd, reg.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char id[256];
  ssize_t n = read(fd, id, sizeof(id) - 1);
  close(fd);
  if (n <= 0) return;
  id[n] = '\0';
  while (n > 0 && (id[n - 1] == '\n' || id[n - 1] == ' ')) id[--n] = '\0';
  if (strchr(id, '/') != nullptr || id[0] == '.' || id[0] == '\0') return;

  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
  int sig = si.si_code == CLD_EXITED ? 0 : si.si_status;
  Msg body;
  body.add("pid=").add_int(si.si_pid).add("\ncode=").add_int(code).add("\nsignal=").add_int(sig);
  body.add("\nfinished_ns=").add_int(static_cast<long>(now.tv_sec) * 1000000000L + now.tv_nsec).add("\n");
  Msg tmp, dst;
  tmp.add(id).add("/exit.tmp");
  dst.add(id).add("/exit");
  int out = openat(kContainersDirFd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return;
  // No fsync: after a machine crash the container is gone with everything else.
  size_t len = strlen(body.c_str());
  bool ok = write(out, body.c_str(), len) == static_cast<ssize_t>(len);
  close(out);
  if (ok) renameat(kContainersDirFd, tmp.c_str(), kContainersDirFd, dst.c_str());
  unlinkat(kSandboxDirFd, reg.c_str(), 0);
}

void reap_all() {
  for (;;) {
    siginfo_t si{};
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL) != 0) return;
    if (si.si_pid == 0) return;
    record_exit(si);
  }
}

int holder_main() {
  // Non-dumpable: containers sharing our PID namespace must not reach our fds, root or cwd
  // (host paths) through /proc/1/{fd,root,cwd}.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "kernlet-holder", 0, 0, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  if (chdir("/") != 0) return 1;
  char one = 1;
  if (write(kReadyFd, &one, 1) != 1) return 1;
  close(kReadyFd);
  reap_all();
  for (;;) {
    siginfo_t si{};
    int sig = sigwaitinfo(&set, &si);
    if (sig == SIGCHLD) {
      reap_all();
    } else if (sig == SIGTERM || sig == SIGINT) {
      return 0;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* name = argc > 0 ? argv[0] : "";
  if (strcmp(name, "kernlet-exec") == 0) return exec_main(argc, argv);
  if (strcmp(name, "kernlet-init") == 0) init_main();
  if (strcmp(name, "kernlet-pod-holder") == 0) return holder_main();
  static const char kUsage[] = "kernlet-pod-holder: started by the kernlet runtime only\n";
  ssize_t n = write(2, kUsage, sizeof(kUsage) - 1);
  (void)n;
  return 127;
}
