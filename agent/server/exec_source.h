// ExecSource: how the kubelet API's /exec endpoint starts a command in a container. The
// pod layer implements it over the runtime (agent/cmd/pod_exec_source.h); tests use one
// that starts host processes. The server only moves bytes between the process's fds and
// the WebSocket, so what "in the container" means stays the runtime's business.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::agent {

struct ExecOptions {
  std::vector<std::string> command;
  bool input = false;   // stdin: the process reads the peer of stdin_fd(); else /dev/null
  bool output = false;  // stdout; else /dev/null
  bool error = false;   // stderr; else /dev/null
  bool tty = false;     // one pty for all three streams
};

// A running command. Destroying it kills (SIGKILL) and reaps the process if it has not
// been reaped yet; that may wait for the kernel, so the server destroys it off its io
// thread. Not thread-safe.
class ExecProcess {
 public:
  virtual ~ExecProcess() = default;
  // Non-blocking fds owned by the process object (-1 when that stream was not asked for):
  // the write end of stdin, the read ends of stdout and stderr, or with a tty the pty
  // master (write: input, TIOCSWINSZ: resize; read: output, unless stdout_fd() is set
  // too — an attach reads the terminal's output from the log pump, attach_source.h).
  virtual int stdin_fd() const = 0;
  virtual int stdout_fd() const = 0;
  virtual int stderr_fd() const = 0;
  virtual int tty_fd() const = 0;
  // Closes the stdin write end: the command sees EOF.
  virtual void close_stdin() = 0;
  // A pidfd of the process: readable once it has exited.
  virtual int pidfd() const = 0;
  // Reaps the exited process: its exit code (128+signal when killed). Call once the
  // pidfd is readable; does not block then.
  virtual Result<int> reap() = 0;
  // Sends SIGKILL (the client went away). Does not block.
  virtual void kill() = 0;
};

class ExecSource {
 public:
  virtual ~ExecSource() = default;
  // Starts `options.command` in container `container` of pod `ns`/`pod`, as the
  // container's own process runs (user, groups, environment, working directory,
  // namespaces, cgroup). Blocking (the runtime clones and waits for the exec): called on a
  // worker thread, never the io thread. Errors are shown to the user as they are:
  // kNotFound for an unknown pod or container, kConflict when it is not running, the
  // runtime's error when the command cannot be run (`executable file not found`).
  virtual Result<std::unique_ptr<ExecProcess>> exec(std::string_view ns, std::string_view pod,
                                                    std::string_view container, const ExecOptions& options) = 0;
};

}  // namespace kernlet::agent
