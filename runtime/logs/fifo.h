// Named FIFOs between a container's stdout/stderr and the log pump.
//
// There is no shim: the agent (and its LogPump) may die and restart while containers
// keep running. A plain pipe would then lose its only reader, and the container's next
// write would get SIGPIPE. So each stream is a FIFO in the container's state directory,
// and the fds are held like this:
//
//   container process   fd 1 / fd 2 = open_fifo_for_container(...): O_RDWR. Because the
//                       container itself holds a read side, the FIFO always has a reader
//                       and writes never fail with EPIPE/SIGPIPE while the agent is down;
//                       they only block once the pipe buffer (raised to 1 MiB) is full.
//   runtime (parent)    opens those two fds before clone, passes them to the child, and
//                       closes its own copies once the child has them.
//   LogPump (agent)     open_fifo_for_pump(...): O_RDONLY|O_NONBLOCK, a description of
//                       its own. A restarted agent simply opens the paths again and
//                       drains what was buffered meanwhile. When the container's last
//                       process exits, the writers are gone and the pump sees EOF.
//   nobody else         the runtime removes the FIFOs when it deletes the container.
//
// stdin (a container with `stdin: true` and no tty) is a third FIFO, <state_dir>/stdin:
//
//   container process   fd 0 = open_stdin_for_container(...). Without stdinOnce it is
//                       O_RDWR: the container holds a writer itself, so it never reads EOF,
//                       whether or not anybody is attached or the agent is running (as with
//                       containerd, whose shim keeps stdin open). With stdinOnce it is
//                       O_RDONLY: it reads EOF once the agent's writer is closed, i.e. when
//                       the first attach session ends (or the agent dies).
//   agent               open_stdin_for_writer(...): O_WRONLY|O_NONBLOCK. For stdinOnce
//                       opened before the container starts and kept until the first
//                       session ends; otherwise opened per attach session, also after a
//                       restart.
//
// Functions are thread-safe; they are ordinary (allocating) calls for the parent side.
#pragma once

#include <sys/types.h>

#include <string>

#include "api/result.h"
#include "runtime/logs/unique_fd.h"

namespace kernlet::logs {

struct StreamFifos {
  std::string stdout_path;
  std::string stderr_path;
};

// <state_dir>/stdout and <state_dir>/stderr.
StreamFifos fifo_paths(const std::string& state_dir);

// mkfifo(path, mode). An existing FIFO is fine (a restarted runtime re-creating it);
// anything else at the path is an error naming it.
Result<void> create_fifo(const std::string& path, mode_t mode = 0600);
// create_fifo for both paths.
Result<void> create_fifos(const StreamFifos& fifos);

// The container's end: O_RDWR|O_CLOEXEC (blocking, never ENXIO, never EPIPE), with the
// pipe buffer raised to 1 MiB where the system allows (best effort). The caller dup2()s
// it to fd 1 or 2 in the child, which clears O_CLOEXEC there.
Result<UniqueFd> open_fifo_for_container(const std::string& path);

// The pump's end: O_RDONLY|O_NONBLOCK|O_CLOEXEC. Opening never blocks.
Result<UniqueFd> open_fifo_for_pump(const std::string& path);

// <state_dir>/stdin.
std::string stdin_fifo_path(const std::string& state_dir);

// The container's stdin (see above), close-on-exec and blocking: O_RDWR, or with `once`
// O_RDONLY (opened without waiting for a writer). Errors name the path.
Result<UniqueFd> open_stdin_for_container(const std::string& path, bool once);
// A writer of the stdin FIFO: O_WRONLY|O_NONBLOCK|O_CLOEXEC. Errors: ENXIO when no reader
// has it open (the container has exited), naming the path.
Result<UniqueFd> open_stdin_for_writer(const std::string& path);

// Unlinks the FIFO; a missing one is fine.
Result<void> remove_fifo(const std::string& path);

}  // namespace kernlet::logs
