#include "agent/cmd/pod_log_source.h"

#include <unistd.h>

namespace kernlet::agent {

Result<ContainerLogInfo> PodLogSource::locate(std::string_view ns, std::string_view pod, std::string_view container,
                                              bool previous) {
  client::ObjectPtr p = workers_->find(ns, pod);
  if (!p) return Error(ErrorCode::kNotFound, "pod \"" + std::string(pod) + "\" not found in namespace " + std::string(ns));
  api::PodView view(*p);
  bool known = false;
  for (const auto& c : view.spec().containers()) known = known || c.name() == container;
  for (const auto& c : view.spec().init_containers()) known = known || c.name() == container;
  if (!known)
    return Error(ErrorCode::kInvalidArgument, "container " + std::string(container) + " is not valid for pod " +
                                                  std::string(pod));
  // The restart count as last reported; the files themselves are the truth, so look for
  // the newest attempt from there on.
  int64_t attempt = 0;
  for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
    const json::array* a = json::get_array(api::object_or_empty(*p, "status"), list);
    if (a == nullptr) continue;
    for (const auto& v : *a) {
      if (v.is_object() && json::get_string(v.as_object(), "name") == container)
        attempt = json::get_int_or(v.as_object(), "restartCount", 0);
    }
  }
  const std::string uid(view.meta().uid());
  const std::string base = dir_ + "/" + std::string(ns) + "_" + std::string(pod) + "_" + uid + "/" +
                           std::string(container) + "/";
  while (::access((base + std::to_string(attempt + 1) + ".log").c_str(), F_OK) == 0) ++attempt;
  if (previous) {
    if (attempt == 0 || ::access((base + std::to_string(attempt - 1) + ".log").c_str(), F_OK) != 0)
      return Error(ErrorCode::kNotFound, "previous terminated container \"" + std::string(container) + "\" in pod \"" +
                                             std::string(pod) + "\" not found");
    --attempt;
  }
  ContainerLogInfo info;
  info.path = base + std::to_string(attempt) + ".log";
  if (!previous) {
    const std::string id = container_instance_id(uid, container, static_cast<int>(attempt));
    PodRuntime* rt = rt_;
    info.running = [rt, uid, id] {
      for (const auto& ci : rt->list_containers(uid)) {
        if (ci.id == id) return ci.status.state == runtime::ContainerState::kRunning;
      }
      return false;
    };
  }
  return info;
}

}  // namespace kernlet::agent
