#include "runtime/logs/fifo.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace kernlet::logs {

// Enough for a few seconds of a chatty container while the agent restarts; the default
// 64 KiB fills in milliseconds. Root may go up to /proc/sys/fs/pipe-max-size (1 MiB by
// default); anything that fails here just keeps the default.
static constexpr int kPipeSize = 1 << 20;

StreamFifos fifo_paths(const std::string& state_dir) {
  return {state_dir + "/stdout", state_dir + "/stderr"};
}

Result<void> create_fifo(const std::string& path, mode_t mode) {
  if (::mkfifo(path.c_str(), mode) == 0) return Ok();
  if (errno != EEXIST) return Error::from_errno("mkfifo " + path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Error::from_errno("stat " + path);
  if (!S_ISFIFO(st.st_mode)) {
    return Error(ErrorCode::kAlreadyExists, "mkfifo " + path + ": exists and is not a FIFO");
  }
  return Ok();
}

Result<void> create_fifos(const StreamFifos& fifos) {
  KL_TRY(create_fifo(fifos.stdout_path));
  return create_fifo(fifos.stderr_path);
}

Result<UniqueFd> open_fifo_for_container(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Error::from_errno("open FIFO " + path + " for the container");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("stat " + path);
  if (!S_ISFIFO(st.st_mode)) return Error(ErrorCode::kInvalidArgument, path + ": not a FIFO");
  (void)::fcntl(fd.get(), F_SETPIPE_SZ, kPipeSize);
  return fd;
}

Result<UniqueFd> open_fifo_for_pump(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Error::from_errno("open FIFO " + path + " for the log pump");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("stat " + path);
  if (!S_ISFIFO(st.st_mode)) return Error(ErrorCode::kInvalidArgument, path + ": not a FIFO");
  return fd;
}

std::string stdin_fifo_path(const std::string& state_dir) { return state_dir + "/stdin"; }

Result<UniqueFd> open_stdin_for_container(const std::string& path, bool once) {
  // O_RDONLY would wait for a writer: open without waiting, then make it blocking again
  // for the container, which expects an ordinary blocking stdin.
  UniqueFd fd(::open(path.c_str(), (once ? O_RDONLY | O_NONBLOCK : O_RDWR) | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Error::from_errno("open FIFO " + path + " as the container's stdin");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("stat " + path);
  if (!S_ISFIFO(st.st_mode)) return Error(ErrorCode::kInvalidArgument, path + ": not a FIFO");
  if (once && ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK) != 0)
    return Error::from_errno("make stdin FIFO " + path + " blocking");
  (void)::fcntl(fd.get(), F_SETPIPE_SZ, kPipeSize);
  return fd;
}

Result<UniqueFd> open_stdin_for_writer(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Error::from_errno("open stdin FIFO " + path + " for writing");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("stat " + path);
  if (!S_ISFIFO(st.st_mode)) return Error(ErrorCode::kInvalidArgument, path + ": not a FIFO");
  return fd;
}

Result<void> remove_fifo(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::from_errno("unlink " + path);
  return Ok();
}

}  // namespace kernlet::logs
