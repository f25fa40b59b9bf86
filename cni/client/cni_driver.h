// CniDriver: runs any CNI plugin chain by the CNI spec 1.0.0 (also 0.3.x/0.4.0 configs, and
// STATUS/GC of 1.1.0) for the agent: ADD when a pod's sandbox exists, DEL when the pod goes.
//
//   ADD    plugins in list order; each gets the previous one's result as prevResult; the
//          last result is cached (ResultCache) and returned. A failed ADD is rolled back with
//          a DEL over the whole list, so no half-built attachment stays behind.
//   DEL    plugins in reverse order with the cached result as prevResult (0.4.0+); without a
//          cache entry (crash mid-ADD, a second DEL) the plugins get the config only. The cache
//          entry goes once every plugin succeeded. The netns path is never taken from the
//          cache (see Attachment::netns).
//   CHECK  plugins in order with the cached result; skipped with disableCheck; 0.4.0+.
//   STATUS / GC (1.1.0 lists only) and VERSION of one plugin.
//
// Each plugin gets the list's `name` and `cniVersion`, `runtimeConfig` with the capability
// args it declared in `capabilities`, and the env CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
// CNI_IFNAME, CNI_ARGS, CNI_PATH on top of the agent's own environment (iptables needs PATH).
// Plugin errors become kernlet Errors with the spec's code in the message and a matching
// ErrorCode (11 "try again later" -> kUnavailable); a plugin past the timeout is killed with
// its process group (kDeadlineExceeded).
//
// Thread-safety: calls for different attachments may run concurrently; the caller (the pod
// worker) serialises calls for one attachment.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "cni/client/config.h"
#include "cni/client/plugin_exec.h"
#include "cni/client/result.h"
#include "cni/client/result_cache.h"

namespace kernlet::cni {

// One attachment of a container to a network (libcni's RuntimeConf).
struct Attachment {
  std::string container_id;  // the sandbox id
  // The sandbox's netns path. On DEL pass it only while the sandbox still holds it (a
  // /proc/<pid>/ns/net path outlives nothing: the pid may be reused); else leave it empty
  // and plugins release what they hold outside the netns, which dies with its interfaces.
  std::string netns;
  std::string ifname = "eth0";
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS, in order
  // Capability args by name ("portMappings" -> [...]); each plugin gets, in runtimeConfig,
  // those it declared in its "capabilities".
  json::object capability_args;
};

// CNI_ARGS as the kubelet passes them: IgnoreUnknown=1 (so plugins that do not know the
// K8S_ keys accept them), K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID,
// K8S_POD_UID.
std::vector<std::pair<std::string, std::string>> kubernetes_args(std::string_view pod_namespace,
                                                                 std::string_view pod_name,
                                                                 std::string_view sandbox_id,
                                                                 std::string_view pod_uid);

// One hostPort of a pod, as the portMappings capability wants it.
struct PortMapping {
  int32_t host_port = 0;
  int32_t container_port = 0;
  std::string protocol = "tcp";  // lowercase: tcp, udp, sctp
  std::string host_ip;           // empty: every address
};
json::array port_mappings_json(const std::vector<PortMapping>& mappings);

// Which attachment a GC should keep (the spec's cni.dev/valid-attachments entries).
struct AttachmentKey {
  std::string container_id;
  std::string ifname;
};

struct CniDriverOptions {
  std::vector<std::string> bin_dirs{"/opt/cni/bin", "/usr/lib/cni"};  // also CNI_PATH
  std::string cache_dir = "/var/lib/cni/results";
  std::chrono::milliseconds timeout{60'000};  // per plugin call
  // Pass the agent's environment (minus CNI_*) to plugins; off only in hermetic tests.
  bool inherit_environment = true;
};

class CniDriver {
 public:
  // `exec` must outlive the driver.
  explicit CniDriver(PluginExec& exec, CniDriverOptions options = {});

  // ADD over the list; returns the final result in 1.0.0 shape (raw: as the plugin sent it)
  // after caching it. Errors: invalid attachment (kInvalidArgument), plugin not found
  // (kNotFound), the plugin's error (code mapped), timeout, cache write; on any plugin error
  // the list is DELeted again (its own failure is appended to the message).
  Result<NetworkResult> add(const NetworkConfigList& list, const Attachment& attachment);

  // DEL over the list in reverse; idempotent. Errors: the first plugin error (the cache
  // entry then stays, so a retry passes the same prevResult).
  Result<void> del(const NetworkConfigList& list, const Attachment& attachment);

  // CHECK over the list. Ok without running anything when disableCheck is set. Errors: a
  // list older than 0.4.0 (kInvalidArgument), no cached ADD result (kNotFound), plugin errors.
  Result<void> check(const NetworkConfigList& list, const Attachment& attachment);

  // STATUS: whether the plugins can serve ADDs now. Lists older than 1.1.0 have no STATUS
  // and are Ok. Errors: a plugin's error (50/51 -> kUnavailable).
  Result<void> status(const NetworkConfigList& list);

  // VERSION of the plugin `type`: the CNI versions it supports. Errors: not found, bad output.
  Result<std::vector<std::string>> version(std::string_view type,
                                           std::string_view cni_version = "1.0.0");

  // GC: DELs every cached attachment of the list not in `keep` (pods that went away while
  // the agent was down), then, for 1.1.0 lists without disableGC, runs the plugins' GC with
  // cni.dev/valid-attachments. Errors: the first failure (later entries are still tried).
  Result<void> gc(const NetworkConfigList& list, const std::vector<AttachmentKey>& keep);

  // The cached ADD result of an attachment, nullopt when none.
  Result<std::optional<NetworkResult>> cached_result(const NetworkConfigList& list,
                                                     const std::string& container_id,
                                                     const std::string& ifname);

  const ResultCache& cache() const { return cache_; }

 private:
  Result<json::object> invoke(const NetworkConfigList& list, const PluginConfig& plugin,
                              std::string_view command, const Attachment* attachment,
                              const json::object* prev_result, const json::object* extra);
  Result<void> del_chain(const NetworkConfigList& list, const Attachment& attachment,
                         const json::object* prev_result);
  std::vector<std::string> environment(std::string_view command, const Attachment* attachment) const;

  PluginExec& exec_;
  CniDriverOptions options_;
  ResultCache cache_;
};

// The config document plugin `plugin` of `list` gets on stdin: its own object plus the
// list's name and cniVersion, prevResult when given, and runtimeConfig with the capability
// args it declared (none: no runtimeConfig). Exposed for tests.
json::object plugin_stdin(const NetworkConfigList& list, const PluginConfig& plugin,
                          const json::object* prev_result, const json::object& capability_args);

}  // namespace kernlet::cni
