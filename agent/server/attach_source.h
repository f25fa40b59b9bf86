// AttachSource: how the kubelet API's /attach endpoint reaches a running container's own
// streams. The pod layer implements it (agent/cmd/pod_attach_source.h): what "attached"
// means — the live output of the log pump, a writer of the container's stdin, its pty —
// is its business; the server moves bytes exactly as for an exec (exec_stream.h), so an
// attach session is an ExecProcess with these meanings:
//   stdin_fd()   a writer of the container's stdin (-1: no stdin, or no input asked for)
//   stdout_fd(), stderr_fd()  the container's live output from now on (with a tty, the
//                terminal's output on stdout_fd)
//   tty_fd()     with a tty: the pty master, for input and TIOCSWINSZ (not read)
//   close_stdin() this session's input is over (for stdinOnce: the container's stdin is)
//   pidfd()      readable once the container's output has ended (it has exited), or
//                after kill()
//   reap()       0: attach has no exit status, the session ends with a Success status
//   kill()       the client left: the session detaches (pidfd() turns readable), the
//                container keeps running
#pragma once

#include <memory>
#include <string_view>

#include "agent/server/exec_source.h"
#include "api/result.h"

namespace kernlet::agent {

struct AttachOptions {
  bool input = false;   // stdin
  bool output = false;  // stdout
  bool error = false;   // stderr
  bool tty = false;     // the client has a terminal (the container's own tty decides)
};

class AttachSource {
 public:
  virtual ~AttachSource() = default;
  // Attaches to container `container` of pod `ns`/`pod`. Blocking (takes the pod's lock):
  // called on a worker thread. Errors are shown to the user as they are: kNotFound for
  // an unknown pod or container, kConflict when it is not running. Input asked of a
  // container without stdin is dropped (stdin_fd() -1), as the session still has output.
  virtual Result<std::unique_ptr<ExecProcess>> attach(std::string_view ns, std::string_view pod,
                                                      std::string_view container, const AttachOptions& options) = 0;
};

}  // namespace kernlet::agent
