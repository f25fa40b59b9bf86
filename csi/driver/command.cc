// run_command: posix_spawnp + stderr pipe (see command.h).
#include "csi/driver/command.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/unique_fd.h"

extern char** environ;

namespace kernlet::csi::local {

Result<void> run_command(const std::vector<std::string>& argv, int max_ok_status) {
  if (argv.empty()) return Error(ErrorCode::kInvalidArgument, "run_command: empty argv");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Error::from_errno("pipe for " + argv[0]);
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Error("run " + argv[0], rc);
  wr.reset();

  std::string err;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    err.append(buf, static_cast<size_t>(n));
    if (err.size() > 16384) err.erase(0, err.size() - 4096);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Error::from_errno("waitpid " + argv[0]);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) <= max_ok_status) return Ok();
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  if (err.size() > 512) err = "..." + err.substr(err.size() - 512);
  std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  return Error(argv[0] + " failed (" + how + ")" + (err.empty() ? "" : ": " + err));
}

}  // namespace kernlet::csi::local
