#include "cni/client/plugin_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "api/unique_fd.h"

namespace kernlet::cni {
namespace {

constexpr std::size_t kMaxOutput = 4 << 20;
// After the plugin exits, a descendant it left behind may still hold stdout open; wait this
// long for EOF, then take what arrived (the plugin's own writes are complete by its exit).
constexpr std::chrono::milliseconds kDrainAfterExit{2000};

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

class SpawnActions {
 public:
  SpawnActions() { ::posix_spawn_file_actions_init(&a_); }
  ~SpawnActions() { ::posix_spawn_file_actions_destroy(&a_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  posix_spawn_file_actions_t* get() { return &a_; }

 private:
  posix_spawn_file_actions_t a_{};
};

class SpawnAttr {
 public:
  SpawnAttr() { ::posix_spawnattr_init(&a_); }
  ~SpawnAttr() { ::posix_spawnattr_destroy(&a_); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  posix_spawnattr_t* get() { return &a_; }

 private:
  posix_spawnattr_t a_{};
};

// Reads what is there into `buf` (up to the cap). Returns false at EOF or error.
bool drain(int fd, std::string& buf) {
  char chunk[16384];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      std::size_t room = kMaxOutput > buf.size() ? kMaxOutput - buf.size() : 0;
      buf.append(chunk, std::min(room, static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

// Moves a new fd above 0-2. An agent started with stdio closed gets fds 0-2 from
// socketpair/pipe2, and the dup2 onto the child's 0-2 would then clobber one with another.
int above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

}  // namespace

Result<std::string> ProcessPluginExec::find(std::string_view type,
                                            const std::vector<std::string>& dirs) {
  std::string searched;
  for (const auto& dir : dirs) {
    if (dir.empty()) continue;
    std::string path = dir + "/" + std::string(type);
    if (::access(path.c_str(), X_OK) == 0) return path;
    searched += (searched.empty() ? "" : ":") + dir;
  }
  return Error(ErrorCode::kNotFound,
               "cni plugin \"" + std::string(type) + "\" not found in " + searched);
}

Result<ExecOutput> ProcessPluginExec::run(const ExecRequest& req) {
  const std::string what = "run cni plugin " + req.path;
  // stdin is a socket so that writing to a plugin that exited early gives EPIPE from
  // send(MSG_NOSIGNAL) instead of a SIGPIPE to the whole agent.
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Error::from_errno(what + ": socketpair");
  }
  UniqueFd in_ours(above_stdio(sv[0])), in_theirs(above_stdio(sv[1]));
  int outp[2], errp[2];
  if (::pipe2(outp, O_CLOEXEC) != 0) return Error::from_errno(what + ": pipe");
  UniqueFd out_ours(above_stdio(outp[0])), out_theirs(above_stdio(outp[1]));
  if (::pipe2(errp, O_CLOEXEC) != 0) return Error::from_errno(what + ": pipe");
  UniqueFd err_ours(above_stdio(errp[0])), err_theirs(above_stdio(errp[1]));
  if (!in_ours || !in_theirs || !out_ours || !out_theirs || !err_ours || !err_theirs) {
    return Error::from_errno(what + ": move pipes above stdio");
  }

  SpawnActions actions;
  ::posix_spawn_file_actions_adddup2(actions.get(), in_theirs.get(), 0);
  ::posix_spawn_file_actions_adddup2(actions.get(), out_theirs.get(), 1);
  ::posix_spawn_file_actions_adddup2(actions.get(), err_theirs.get(), 2);
  ::posix_spawn_file_actions_addclosefrom_np(actions.get(), 3);
  SpawnAttr attr;
  // Own process group: the deadline kills the plugin and whatever it started (the ipam
  // plugin it execs, iptables) with one kill(-pgid).
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                             POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(attr.get(), 0);
  ::posix_spawnattr_setsigmask(attr.get(), &none);
  ::posix_spawnattr_setsigdefault(attr.get(), &all);

  std::vector<char*> argv{const_cast<char*>(req.path.c_str()), nullptr};
  std::vector<char*> envp;
  envp.reserve(req.env.size() + 1);
  for (const auto& e : req.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, req.path.c_str(), actions.get(), attr.get(), argv.data(),
                         envp.data());
  if (rc != 0) return Error(what + ": posix_spawn", rc);
  in_theirs.reset();
  out_theirs.reset();
  err_theirs.reset();

  UniqueFd pidfd(pidfd_open(pid));
  if (!pidfd) {
    Error e = Error::from_errno(what + ": pidfd_open");
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return e;
  }
  for (int fd : {in_ours.get(), out_ours.get(), err_ours.get()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }

  ExecOutput output;
  std::size_t written = 0;
  if (req.stdin_data.empty()) in_ours.reset();
  bool out_open = true, err_open = true, exited = false;
  auto deadline = std::chrono::steady_clock::now() + req.timeout;
  std::chrono::steady_clock::time_point drain_until{};
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (!exited && now >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return Error(ErrorCode::kDeadlineExceeded,
                   what + ": no answer within " + std::to_string(req.timeout.count()) +
                       "ms; killed its process group");
    }
    if (exited && (!out_open && !err_open)) break;
    if (exited && now >= drain_until) break;
    pollfd fds[4];
    nfds_t n = 0;
    int i_in = -1, i_out = -1, i_err = -1, i_pid = -1;
    if (in_ours) { i_in = static_cast<int>(n); fds[n++] = {in_ours.get(), POLLOUT, 0}; }
    if (out_open) { i_out = static_cast<int>(n); fds[n++] = {out_ours.get(), POLLIN, 0}; }
    if (err_open) { i_err = static_cast<int>(n); fds[n++] = {err_ours.get(), POLLIN, 0}; }
    if (!exited) { i_pid = static_cast<int>(n); fds[n++] = {pidfd.get(), POLLIN, 0}; }
    auto until = exited ? drain_until : deadline;
    auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1;
    int ready = ::poll(fds, n, static_cast<int>(std::min<int64_t>(wait_ms, 1000)));
    if (ready < 0 && errno != EINTR) {
      Error e = Error::from_errno(what + ": poll");
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return e;
    }
    if (ready <= 0) continue;
    if (i_in >= 0 && fds[i_in].revents != 0) {
      ssize_t w = ::send(in_ours.get(), req.stdin_data.data() + written,
                         req.stdin_data.size() - written, MSG_NOSIGNAL);
      if (w > 0) written += static_cast<std::size_t>(w);
      // EPIPE: the plugin stopped reading; its exit status and stdout tell why.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == req.stdin_data.size()) {
        in_ours.reset();
      }
    }
    if (i_out >= 0 && fds[i_out].revents != 0) out_open = drain(out_ours.get(), output.out);
    if (i_err >= 0 && fds[i_err].revents != 0) err_open = drain(err_ours.get(), output.err);
    if (i_pid >= 0 && fds[i_pid].revents != 0) {
      int status = 0;
      if (::waitpid(pid, &status, 0) == pid) {
        exited = true;
        drain_until = std::chrono::steady_clock::now() + kDrainAfterExit;
        output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        in_ours.reset();
      }
    }
  }
  return output;
}

}  // namespace kernlet::cni
