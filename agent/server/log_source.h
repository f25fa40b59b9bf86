// LogSource: where the kubelet API finds a container's log. The pod layer implements it
// (it knows which pods run, their uids and restart counts); tests use a fake.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::agent {

struct ContainerLogInfo {
  // The current CRI log file of the instance asked for, e.g.
  // /var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log. Its rotated files
  // (<path>.<YYYYMMDD-HHMMSS>, see runtime/logs/log_file.h) are read before it.
  std::string path;
  // True while the container may still write to `path`; following stops once it is
  // false and the file is drained. Empty: not running. Called from a log-reading thread
  // (not the server's io thread), about once a second while a follower is idle.
  std::function<bool()> running;
};

class LogSource {
 public:
  virtual ~LogSource() = default;
  // The log of container `container` of pod `ns`/`pod`: the current instance, or with
  // `previous` the one before the last restart. Errors: kNotFound for an unknown pod or
  // container or a missing previous instance (the message is shown to the user as is),
  // kInvalidArgument for a request that cannot be answered (400). Called on the server's
  // io thread: must not block; must be thread-safe against the pod layer's own threads.
  virtual Result<ContainerLogInfo> locate(std::string_view ns, std::string_view pod, std::string_view container,
                                          bool previous) = 0;
};

}  // namespace kernlet::agent
