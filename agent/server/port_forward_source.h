// PortForwardSource: how the kubelet API's /portForward endpoint reaches a pod's network.
// The pod layer implements it over the runtime (agent/cmd/pod_port_forward_source.h);
// tests give a namespace of their own or none. The server connects to the pod's loopback
// from inside that network namespace (netns_dial.h) and only moves bytes.
#pragma once

#include <string>
#include <string_view>

#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::agent {

// What a port-forward session needs of one pod.
struct PortForwardTarget {
  std::string uid;  // for messages, as the kubelet names the pod in its errors
  UniqueFd netns;   // the pod's network namespace; invalid: the agent's own (hostNetwork)
  UniqueFd pidfd;   // readable once the pod's sandbox has ended (the session then ends);
                    // invalid: not watched
};

class PortForwardSource {
 public:
  virtual ~PortForwardSource() = default;
  // The network of pod `ns`/`pod` on this node. Blocking (it may open /proc files and take
  // the runtime's pod lock): called on a worker thread, never the io thread. Errors are
  // shown to the user as they are: kNotFound for a pod this node does not run, kConflict
  // when its sandbox is not running.
  virtual Result<PortForwardTarget> find(std::string_view ns, std::string_view pod) = 0;
};

}  // namespace kernlet::agent
