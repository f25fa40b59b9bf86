// Runs inside the qemu guest (tests/vm), on a pure cgroup2 mount with the memory controller:
// the agent's own pod path — PodSyncer over RealPodRuntime (sandbox, container, cgroup leaf
// with memory.max, memory.events) — runs a pod whose container exceeds its memory limit, and
// checks what the agent reports: the container terminated with reason OOMKilled and exit
// code 137, the pod Failed (restartPolicy Never), and one Warning OOMKilling event.
// Only the API transport is replaced: the status is fed back into the pod object as the API
// would, and events go to a recording sink instead of agent/node's EventRecorder.
// Prints "KLVM case=<name> result=pass|fail detail=..." lines (tests/vm/lib/check_case.sh).
//   pod_vm_guest <OCI layout dir of busybox>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/pod/pod_status.h"
#include "agent/pod/pod_sync.h"
#include "agent/pod/real_pod_runtime.h"
#include "api/object.h"

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;

void report(const std::string& name, bool ok, const std::string& detail) {
  std::string d = detail;
  for (auto& ch : d)
    if (ch == '"' || ch == '\n') ch = '\'';
  std::printf("KLVM case=%s result=%s detail=\"%s\"\n", name.c_str(), ok ? "pass" : "fail", d.c_str());
  std::fflush(stdout);
}

struct Recorded {
  std::string type, reason, message;
};

class RecordingEvents final : public EventSink {
 public:
  void event(const json::object&, std::string_view type, std::string_view reason, const std::string& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back({std::string(type), std::string(reason), message});
  }
  std::vector<Recorded> with_reason(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Recorded> out;
    for (const auto& e : events_)
      if (e.reason == reason) out.push_back(e);
    return out;
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s;
    for (const auto& e : events_) s += e.reason + ";";
    return s;
  }

 private:
  std::mutex mu_;
  std::vector<Recorded> events_;
};

// A pod of one container that doubles a shell string until memory.max (32Mi) stops it.
constexpr char kPod[] = R"({"apiVersion":"v1","kind":"Pod",
  "metadata":{"name":"oom","namespace":"default","uid":"vm-oom-0001","resourceVersion":"1"},
  "spec":{"nodeName":"vm","restartPolicy":"Never","terminationGracePeriodSeconds":0,
    "containers":[{"name":"hog","image":"busybox:vm","imagePullPolicy":"Never",
      "command":["sh","-c","a=0123456789abcdef; while true; do a=\"$a$a\"; done"],
      "resources":{"limits":{"memory":"32Mi"},"requests":{"memory":"32Mi"}}}]}})";

const json::object* terminated_of(const json::object& status) {
  const json::array* a = json::get_array(status, "containerStatuses");
  if (a == nullptr || a->empty() || !(*a)[0].is_object()) return nullptr;
  const json::object* st = json::get_object((*a)[0].as_object(), "state");
  return st ? json::get_object(*st, "terminated") : nullptr;
}

int run(const std::string& layout) {
  RealPodRuntimeOptions ro;
  ro.root_dir = "/tmp/agent";
  auto rt = RealPodRuntime::open(ro);
  if (!rt.ok()) {
    report("pod_oom_killed", false, "open runtime: " + rt.error().to_string());
    return 1;
  }
  if (!(*rt)->cgroup_report().has("memory")) {
    report("pod_oom_killed", false, "no memory controller in the guest: " + (*rt)->cgroup_report().summary());
    return 1;
  }
  if (auto img = (*rt)->images().import_oci_layout(layout, "busybox:vm"); !img.ok()) {
    report("pod_oom_killed", false, "import busybox: " + img.error().to_string());
    return 1;
  }
  RecordingEvents events;
  auto env = basic_environment();
  auto probes = no_probes(rt->get());
  auto net = no_network();
  SyncerOptions so;
  so.pod_logs_dir = "/tmp/logs";
  PodSyncer syncer(rt->get(), &events, env.get(), probes.get(), net.get(), so);

  auto pod = api::decode_object(kPod);
  if (!pod.ok()) {
    report("pod_oom_killed", false, "pod: " + pod.error().to_string());
    return 1;
  }
  // The pod workers' loop, reduced: sync, write the status back, again until terminal.
  json::object status;
  auto deadline = std::chrono::steady_clock::now() + 90s;
  std::string phase;
  while (std::chrono::steady_clock::now() < deadline) {
    auto out = syncer.sync(*pod);
    (*pod)["status"] = out.status;
    status = out.status;
    phase = std::string(json::get_string(status, "phase"));
    if (phase == "Succeeded" || phase == "Failed") break;
    std::this_thread::sleep_for(200ms);
  }
  const std::string status_text = boost::json::serialize(status);
  const json::object* t = terminated_of(status);
  std::string reason = t ? std::string(json::get_string(*t, "reason")) : "";
  int64_t code = t ? json::get_int_or(*t, "exitCode", -1) : -1;
  report("pod_oom_killed", phase == "Failed" && reason == "OOMKilled" && code == 137,
         "phase=" + phase + " reason=" + reason + " exitCode=" + std::to_string(code) + " status=" +
             status_text.substr(0, 600));

  // One more sync (as after any watch event): still one event.
  auto again = syncer.sync(*pod);
  (void)again;
  auto oom = events.with_reason("OOMKilling");
  bool ok = oom.size() == 1 && oom[0].type == "Warning" &&
            oom[0].message.find("container hog (kernlet://vm-oom-0001_hog_0) was OOM-killed, memory limit 32Mi") !=
                std::string::npos;
  report("pod_oom_event", ok,
         "OOMKilling events=" + std::to_string(oom.size()) + (oom.empty() ? "" : " [" + oom[0].type + "] " + oom[0].message) +
             " all=" + events.all());

  auto removed = syncer.remove("vm-oom-0001", "default", "oom");
  report("pod_removed", removed.ok() && (*rt)->list_pods().empty(),
         removed.ok() ? "pods left=" + std::to_string((*rt)->list_pods().size()) : removed.error().to_string());
  return 0;
}

}  // namespace
}  // namespace kernlet::agent

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pod_vm_guest <OCI layout dir>\n");
    return 2;
  }
  return kernlet::agent::run(argv[1]);
}
