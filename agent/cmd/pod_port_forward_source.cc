#include "agent/cmd/pod_port_forward_source.h"

#include <fcntl.h>

#include "runtime/sandbox/linux.h"

namespace kernlet::agent {

Result<PortForwardTarget> PodPortForwardSource::find(std::string_view ns, std::string_view pod) {
  const std::string name = std::string(ns) + "/" + std::string(pod);
  client::ObjectPtr p = workers_->find(ns, pod);
  if (!p) {
    return Error(ErrorCode::kNotFound, "pod \"" + std::string(pod) + "\" not found in namespace \"" + std::string(ns) +
                                           "\" on this node");
  }
  api::PodView view(*p);
  PortForwardTarget net;
  net.uid = std::string(view.meta().uid());
  SandboxStatus sb = rt_->sandbox_status(net.uid);
  if (!sb.exists || !sb.ready || sb.holder_pid <= 0) {
    return Error(ErrorCode::kConflict, "pod " + name + " is not running on this node (its sandbox is not ready)");
  }
  // The pidfd first, then a second look: the holder seen is the one the pidfd names, not a
  // later process that got its pid.
  net.pidfd.reset(runtime::sys_pidfd_open(sb.holder_pid, 0));
  if (!net.pidfd) return Error::from_errno("port-forward to " + name + ": pidfd_open of the pod's sandbox");
  SandboxStatus again = rt_->sandbox_status(net.uid);
  if (!again.ready || again.holder_pid != sb.holder_pid) {
    return Error(ErrorCode::kConflict, "pod " + name + " is not running on this node (its sandbox has ended)");
  }
  if (!sb.netns_path.empty()) {
    net.netns.reset(::open(sb.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!net.netns) return Error::from_errno("port-forward to " + name + ": open network namespace " + sb.netns_path);
  }
  return net;
}

}  // namespace kernlet::agent
