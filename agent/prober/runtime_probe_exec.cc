#include "agent/prober/runtime_probe_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace kernlet::agent {

namespace {

constexpr size_t kMaxOutput = 10 * 1024;  // the kubelet's maxReadLength for exec probes

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

// Reads what is there now; false at end of stream.
bool drain(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      size_t keep = std::min(static_cast<size_t>(n), kMaxOutput - std::min(kMaxOutput, out.size()));
      out.append(buf, keep);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN;
  }
}

}  // namespace

Result<ExecOutput> RuntimeProbeExec::exec(const std::string& container_id,
                                          const std::vector<std::string>& argv,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  runtime::ExecSpec spec;
  if (process_for_) {
    KL_ASSIGN_OR_RETURN(spec.process, process_for_(container_id));
  }
  spec.process.args = argv;
  spec.process.tty = false;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::from_errno("exec in " + container_id + ": pipe2");
  UniqueFd rd(p[0]), wr(p[1]);
  spec.process.stdin_fd = -1;
  spec.process.stdout_fd = wr.get();
  spec.process.stderr_fd = wr.get();
  spec.process.stdout_path.clear();
  spec.process.stderr_path.clear();
  std::unique_ptr<runtime::ExecSession> session;
  {
    std::lock_guard lock(mu_);
    auto s = rt_.exec(container_id, spec);
    if (!s.ok()) return std::move(s).error().context("exec in " + container_id);
    session = std::move(*s);
  }
  wr.reset();  // our copy: EOF comes when the command (and its children) close theirs
  ::fcntl(rd.get(), F_SETFL, O_NONBLOCK);
  // The session's child is not reaped until wait(), so its pid names it until then.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, session->pid(), 0)));
  if (!pidfd) return Error::from_errno("exec in " + container_id + ": pidfd_open");

  ExecOutput out;
  bool open = true;
  for (;;) {
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {open ? rd.get() : -1, POLLIN, 0}};
    int ms = remaining_ms(deadline);
    int r = ::poll(fds, 2, ms);
    if (r < 0 && errno != EINTR) return Error::from_errno("exec in " + container_id + ": poll");
    if (open && (fds[1].revents & (POLLIN | POLLHUP))) open = drain(rd.get(), out.output);
    if (fds[0].revents & POLLIN) break;  // exited
    if (r == 0 || remaining_ms(deadline) == 0) {
      (void)session->kill(SIGKILL);
      (void)session->wait(-1);
      return Error(ErrorCode::kDeadlineExceeded,
                   "exec in " + container_id + ": command timed out after " +
                       std::to_string(timeout.count()) + "ms");
    }
  }
  // What the command wrote before it exited; a background child holding the pipe is not
  // waited for.
  if (open) drain(rd.get(), out.output);
  KL_ASSIGN_OR_RETURN(out.exit_code, session->wait(-1));
  return out;
}

}  // namespace kernlet::agent
