// kernlet-cni's commands (CNI spec 1.0.0/1.1.0: ADD, DEL, CHECK, VERSION, STATUS, GC) over
// a Dataplane and the IPAM store, from the CNI_* environment and the stdin config to the
// stdout document and exit status a runtime reads.
//
//   ADD     bridge (idempotent) -> masquerade (ipMasq) -> IPAM claim -> veth + address +
//           route; a failure after the claim removes the veth and releases the address.
//   DEL     veth removed, address released; a second DEL, an unknown container or a gone
//           netns all succeed.
//   CHECK   prevResult required; the address must be this attachment's in the store and
//           the interfaces, address, route, MTU and hairpin must be as built.
//   GC      every claim whose attachment is not in cni.dev/valid-attachments is released
//           and its host veth removed.
//   STATUS  50 when the store is unusable or the pool is exhausted; 51 when pods hold
//           addresses but the bridge is gone or down.
// Errors print {"cniVersion","code","msg","details"} on stdout and exit 1.
//
// Thread-safety: run_plugin is reentrant; concurrent runs coordinate through the store's flock.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "cni/plugin/dataplane.h"

namespace kernlet::cni {

struct PluginOutcome {
  int exit_code = 0;
  std::string stdout_text;
  std::string stderr_text;
};

struct PluginHooks {
  // Called between ADD's steps ("ipam", "veth") and DEL's ("veth"): the binary wires it to
  // KERNLET_CNI_TEST_CRASH_AT so integration tests can kill the plugin mid-command.
  std::function<void(std::string_view step)> on_step;
};

PluginOutcome run_plugin(const std::map<std::string, std::string>& env,
                         std::string_view stdin_text, Dataplane& dataplane,
                         const PluginHooks& hooks = {});

}  // namespace kernlet::cni
