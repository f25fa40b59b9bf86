// Static pods: pods the agent runs from manifest files in a directory, whether or not the
// API server is reachable, and their mirror pods, the read-only copies that make them
// visible in the API (kubectl get pods), as the kubelet's file source and mirror client do.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/node/clock.h"
#include "api/client/rest_client.h"
#include "api/json.h"
#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::agent {

inline constexpr std::string_view kConfigSourceAnnotation = "kubernetes.io/config.source";
inline constexpr std::string_view kConfigHashAnnotation = "kubernetes.io/config.hash";
inline constexpr std::string_view kConfigSeenAnnotation = "kubernetes.io/config.seen";
inline constexpr std::string_view kConfigMirrorAnnotation = "kubernetes.io/config.mirror";

// The pod a manifest describes, with the kubelet's static-pod rules applied:
//   name "<name>-<node name>", namespace "default" when unset, spec.nodeName = node,
//   uid = md5 hex of the manifest's content (its JSON, so YAML layout and comments do not
//   count) and "host:<node name>" unless the manifest sets one (then it is kept),
//   annotations config.source=file, config.hash=<uid>, config.seen=`seen` (RFC 3339 with
//   nanoseconds), a toleration of every NoExecute taint, status.phase Pending.
// `manifest` is the parsed document; `file` names it in errors. Errors
// (kInvalidArgument) say what is wrong: not a v1 Pod, no metadata.name, no containers, an
// invalid generated name. Pure.
Result<json::object> static_pod_from_manifest(const json::value& manifest, std::string_view file,
                                              std::string_view node_name, api::TimePoint seen);

// The uid the rules above give a manifest without one. Pure.
std::string static_pod_uid(const json::value& manifest, std::string_view node_name);

// Reads *.yaml, *.yml and *.json files (one pod each; hidden files skipped) from `dir`,
// rescanning every 20 s and whenever inotify reports a change in the directory. A bad
// manifest is logged and skipped (its error names the file) and never stops the others; a
// missing directory is no pods (and is watched for again). Two manifests giving the same
// pod name: the first file in name order wins, the other is an error.
//
// Thread-safety: every public method may be called from any thread. The change callback
// runs on the source's thread (or the thread calling rescan()), without locks held.
class StaticPodSource {
 public:
  using ChangeCallback = std::function<void(const std::vector<json::object>& pods)>;

  // clock nullptr = system clock (it stamps config.seen).
  StaticPodSource(std::string dir, std::string node_name, std::shared_ptr<WallClock> clock = nullptr);
  ~StaticPodSource();  // stop()
  StaticPodSource(const StaticPodSource&) = delete;
  StaticPodSource& operator=(const StaticPodSource&) = delete;

  // Scans once, then starts the watching thread. No-op when running.
  void start();
  // Stops and joins the thread. Idempotent.
  void stop();

  // Reads the directory now; true when the set of pods (or any pod) changed, and then the
  // callback has been called. Per-file problems are in errors(), not returned.
  bool rescan();

  // The current static pods, ordered by namespace/name.
  std::vector<json::object> pods() const;
  // "<file>: <error>" for each manifest skipped by the last scan.
  std::vector<std::string> errors() const;
  // Sets the callback called after each change (replacing an earlier one).
  void on_change(ChangeCallback cb);

 private:
  void run();
  bool ensure_watch();

  std::string dir_;
  std::string node_name_;
  std::shared_ptr<WallClock> clock_;

  std::mutex scan_mu_;  // serialises rescan()
  std::map<std::string, api::TimePoint> first_seen_;  // uid -> config.seen (under scan_mu_)

  mutable std::mutex mu_;
  std::vector<json::object> pods_;
  std::vector<std::string> errors_;
  ChangeCallback cb_;
  bool stopping_ = false;
  std::thread thread_;
  UniqueFd inotify_;
  UniqueFd stop_fd_;  // eventfd that wakes the thread's poll
  bool watching_ = false;
};

// Keeps the API's mirror pods equal to the static pods: creates missing ones (annotation
// config.mirror = the static pod's config.hash, ownerReference to the Node with
// controller=true, as the kubelet writes them), deletes and recreates one whose hash
// differs or that is being deleted, and deletes mirror pods on this node whose static pod
// is gone. Deletes carry grace period 0 and the mirror's uid as precondition.
// Level-triggered: call sync() whenever static pods change and when the informer reports a
// change to a mirror pod (a deleted mirror pod is created again by the next sync).
//
// Thread-safety: sync() calls are serialised internally; any thread may call it.
class MirrorPodManager {
 public:
  // Programmer error (std::invalid_argument) on a null client or an empty node name.
  MirrorPodManager(std::shared_ptr<client::RestClient> client, std::string node_name);

  // One pass over all static pods and this node's mirror pods. Keeps going after an
  // error and returns the first one (naming the pod); kNotFound naming the Node when the
  // Node is not registered yet (mirror pods need its uid).
  Result<void> sync(const std::vector<json::object>& static_pods);

  // Writes made by sync() so far (for tests and metrics).
  struct Counters {
    int64_t created = 0;
    int64_t deleted = 0;
  };
  Counters counters() const;

 private:
  std::shared_ptr<client::RestClient> client_;
  std::string node_name_;
  std::mutex sync_mu_;
  std::string node_uid_;  // read at each sync (under sync_mu_)
  mutable std::mutex mu_;
  Counters counters_;
};

// Whether `pod` is a mirror pod (has the config.mirror annotation). Pure.
bool is_mirror_pod(const json::object& pod);
// The mirror pod to create for a static pod: its spec, labels and annotations, plus the
// config.mirror annotation and the Node ownerReference; no uid, resourceVersion or status.
// Pure.
json::object mirror_pod_for(const json::object& static_pod, std::string_view node_name, std::string_view node_uid);

}  // namespace kernlet::agent
