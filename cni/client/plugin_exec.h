// The exec seam: how the driver finds and runs a CNI plugin binary. Unit tests fake it;
// ProcessPluginExec runs real processes.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::cni {

struct ExecRequest {
  std::string path;               // the plugin binary
  std::vector<std::string> env;   // the whole environment, "KEY=value"
  std::string stdin_data;         // the network config document
  std::chrono::milliseconds timeout{60'000};
};

struct ExecOutput {
  int exit_code = 0;  // 0..255, or 128 + signal number when the plugin was killed
  std::string out;    // stdout: the result or the error document
  std::string err;    // stderr: free text some plugins log
};

class PluginExec {
 public:
  virtual ~PluginExec() = default;
  // The path of plugin `type`'s binary: the first executable `<dir>/<type>` over `dirs`.
  // Errors: kNotFound naming the type and the dirs. Thread-safe.
  virtual Result<std::string> find(std::string_view type, const std::vector<std::string>& dirs) = 0;
  // Runs the plugin to its end and returns what it wrote and how it exited (a non-zero exit
  // is an ExecOutput, not an Error). Errors: the spawn failed; kDeadlineExceeded when it
  // ran past `timeout` (its process group is then killed). Thread-safe.
  virtual Result<ExecOutput> run(const ExecRequest& request) = 0;
};

// Runs plugins as child processes: posix_spawn in a process group of their own, config on a
// stdin socket, stdout/stderr on pipes, exit watched on a pidfd, SIGKILL to the whole group
// at the deadline. The child inherits the calling thread's namespaces (a caller that has
// setns()'d its thread into a node netns runs plugins there). Output past 4 MiB per stream
// is dropped. Thread-safe.
class ProcessPluginExec : public PluginExec {
 public:
  Result<std::string> find(std::string_view type, const std::vector<std::string>& dirs) override;
  Result<ExecOutput> run(const ExecRequest& request) override;
};

}  // namespace kernlet::cni
