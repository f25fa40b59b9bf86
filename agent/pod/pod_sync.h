// PodSyncer: one level-triggered sync of one pod, as the kubelet's SyncPod does it: sandbox
// (+ network), init containers in order (sidecars kept running), app containers per
// restartPolicy with the crash-loop back-off, image pulls with their own back-off, then the
// status the pod should have. And the teardown of a pod that is deleted or gone.
//
// Everything with side effects is behind a seam (PodRuntime, EventSink, PodEnvironment,
// PodProbes, PodNetwork, PodVolumes), so the decisions are unit-tested with fakes.
// Thread-safety: sync()/terminate() may run concurrently for different pods, never for the
// same pod (the pod workers' queue guarantees it).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/pod/backoff.h"
#include "agent/pod/pod_runtime.h"
#include "agent/pod/pod_status.h"
#include "api/json.h"
#include "api/objects/pod.h"

namespace kernlet::agent {

// Kubernetes events about a pod. Thread-safe.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // type "Normal" or "Warning"; reason and message as the kubelet words them.
  virtual void event(const json::object& pod, std::string_view type, std::string_view reason,
                     const std::string& message) = 0;
};

// What a container's process and mounts are made of beyond the image: env (valueFrom,
// envFrom, service links), $(VAR) expansion, identity and security, volumes, pull
// credentials. The default (basic_environment) handles plain env values only.
// Thread-safe.
class PodEnvironment {
 public:
  virtual ~PodEnvironment() = default;
  struct Built {
    runtime::ProcessSpec process;
    std::vector<runtime::BindMount> mounts;
    bool read_only_rootfs = false;
    bool privileged = false;
  };
  // Errors carry the CreateContainerConfigError message ("secret \"x\" not found").
  virtual Result<Built> build(const api::PodView& pod, const api::ContainerView& c, const ImageInfo& image) = 0;
  // Registry options for pulling `image`, one per candidate credential from the pod's
  // imagePullSecrets in the order to try them (the kubelet's PullImage: the first pull that
  // succeeds wins); one without credentials when none match (an anonymous pull).
  virtual std::vector<images::RegistryOptions> pull_options(const api::PodView& pod, std::string_view image) = 0;
  // Prepares the pod's volumes (FailedMount on error) / tears them down.
  virtual Result<void> setup_volumes(const api::PodView& pod) = 0;
  virtual Result<void> teardown_volumes(const std::string& pod_uid) = 0;
};

// Probe state and lifecycle hooks. The default has no probes: started and ready follow
// running. Thread-safe.
class PodProbes {
 public:
  virtual ~PodProbes() = default;
  // Tells the prober which instances of the pod run now (it stops probes of others).
  virtual void update(const api::PodView& pod, const std::vector<ContainerInfo>& running) = 0;
  virtual bool started(const std::string& pod_uid, const api::ContainerView& c, const ContainerInfo& ci) = 0;
  virtual bool ready(const std::string& pod_uid, const api::ContainerView& c, const ContainerInfo& ci) = 0;
  // True once the liveness (or startup) probe failed for this instance: restart it.
  virtual bool liveness_failed(const std::string& pod_uid, const ContainerInfo& ci) = 0;
  // postStart / preStop; errors are reported as events by the caller.
  virtual Result<void> run_hook(const api::PodView& pod, const api::ContainerView& c, const ContainerInfo& ci,
                                const api::HandlerView& hook, std::chrono::milliseconds timeout) = 0;
  virtual void forget(const std::string& pod_uid) = 0;
};

// The pod network (CNI). The default is "none": a private network namespace with loopback
// only and no pod IP. Thread-safe.
class PodNetwork {
 public:
  virtual ~PodNetwork() = default;
  // Attaches the sandbox's netns; returns the pod IPs. Idempotent (cached results).
  virtual Result<std::vector<std::string>> add(const api::PodView& pod, const std::string& netns_path) = 0;
  // The IPs of an attached pod, if known (after an agent restart too).
  virtual std::vector<std::string> ips(const std::string& pod_uid) = 0;
  virtual Result<void> del(const std::string& pod_uid, const std::string& ns, const std::string& name,
                           const std::string& netns_path) = 0;
};

std::unique_ptr<PodEnvironment> basic_environment();
std::unique_ptr<PodProbes> no_probes(PodRuntime* rt);
std::unique_ptr<PodNetwork> no_network();

struct SyncerOptions {
  std::string pod_logs_dir = "/var/log/pods";
  std::vector<std::string> host_ips;
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
  BackOffPolicy crash_backoff = {std::chrono::seconds(10), std::chrono::seconds(300)};
  BackOffPolicy pull_backoff = {std::chrono::seconds(10), std::chrono::seconds(300)};
  // Instances kept per container (the latest and the previous one for `logs -p`).
  int keep_instances = 2;
  // The pod's resolv.conf per its dnsPolicy (agent/dns/pod_dns.h), problems appended to
  // the warnings (DNSConfigForming events). Unset: empty, the sandbox copies the node's.
  std::function<runtime::DnsConfig(const api::PodView&, std::vector<std::string>*)> dns_config;
  // --cluster-domain: a pod with hostname and subdomain gets
  // <hostname>.<subdomain>.<namespace>.svc.<domain> in its /etc/hosts, as from the kubelet.
  std::string cluster_domain;
};

struct SyncOutcome {
  json::object status;                                     // what the pod's status should be
  std::optional<std::chrono::milliseconds> requeue_after;  // back-off expiry, deadline
  std::vector<ContainerInfo> running;                      // instances to watch for exit
};

class PodSyncer {
 public:
  PodSyncer(PodRuntime* rt, EventSink* events, PodEnvironment* env, PodProbes* probes, PodNetwork* net,
            SyncerOptions options);

  // Converges the pod (not being deleted) and returns its status.
  SyncOutcome sync(const json::object& pod);
  // Stops every container (preStop, SIGTERM, `grace`, kill) and returns the status with
  // them terminated; the pod's runtime state stays until remove().
  SyncOutcome terminate(const json::object& pod, std::chrono::milliseconds grace);
  // Removes everything of the pod from the node (containers, sandbox, network, volumes,
  // cgroups); log files stay. Safe for a pod whose object is gone.
  Result<void> remove(const std::string& pod_uid, const std::string& ns, const std::string& name);
  // The CRI log path of an instance: <logs>/<ns>_<name>_<uid>/<container>/<attempt>.log.
  std::string log_path(const api::PodView& pod, std::string_view container, int attempt) const;
  const SyncerOptions& options() const { return options_; }

 private:
  struct ContainerMemo {
    std::optional<WaitingReason> waiting;
  };
  struct PodMemo {
    std::map<std::string, ContainerMemo> containers;
    std::optional<WaitingReason> failure;  // DeadlineExceeded
    std::string start_time;
    std::vector<std::string> pod_ips;
    std::optional<std::string> sandbox_error;
    std::map<std::string, std::string> image_ids;  // by container name
    std::map<std::string, std::chrono::system_clock::time_point> pull_failures;  // by back-off key
    std::set<std::string> oom_reported;  // instance ids whose OOMKilling event was sent
  };
  PodMemo& memo(const std::string& uid);
  // Starts the next attempt of `c`; false when it could not (the waiting reason is set).
  bool start(const api::PodView& pod, const api::ContainerView& c, int attempt, PodMemo& m,
             std::optional<std::chrono::milliseconds>& requeue);
  // Restarts an exited instance unless its back-off runs; returns true when started.
  bool restart(const api::PodView& pod, const api::ContainerView& c, const ContainerInfo& last, PodMemo& m,
               std::optional<std::chrono::milliseconds>& requeue);
  void stop_instance(const api::PodView& pod, const api::ContainerView* c, const ContainerInfo& ci,
                     std::chrono::milliseconds grace, const std::string& reason_message);
  void prune(const std::string& uid, const std::map<std::string, std::vector<ContainerInfo>>& by_name);
  // One OOMKilling event per instance the OOM killer ended (memory.events oom_kill).
  void report_oom_kills(const api::PodView& pod, PodMemo& m, const std::vector<ContainerInfo>& list);
  SyncOutcome finish(const api::PodView& pod, PodMemo& m, std::optional<std::chrono::milliseconds> requeue,
                     bool terminating);

  PodRuntime* rt_;
  EventSink* events_;
  PodEnvironment* env_;
  PodProbes* probes_;
  PodNetwork* net_;
  SyncerOptions options_;
  BackOff crash_backoff_;
  BackOff pull_backoff_;
  // Volume setup retries: the kubelet's volume-operation back-off (0.5 s doubling to 2 min).
  BackOff mount_backoff_{BackOffPolicy{std::chrono::milliseconds(500), std::chrono::milliseconds(120'000),
                                       std::chrono::milliseconds(600'000)}};
  std::mutex mu_;  // guards memos_ (the map, not the entries: one sync per pod at a time)
  std::map<std::string, std::unique_ptr<PodMemo>> memos_;
};

// "name_namespace(uid)": how the kubelet names a pod in messages.
std::string format_pod(const api::PodView& pod);

}  // namespace kernlet::agent
