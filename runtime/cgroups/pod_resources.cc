#include "runtime/cgroups/pod_resources.h"

#include <string>
#include <vector>

namespace kernlet::cgroups {

namespace {

// One resource of a list: unset -> nullopt; cpu in milli, anything else in whole units.
Result<std::optional<int64_t>> amount(const api::ResourceListView& list, std::string_view name) {
  if (!list.has(name)) return std::optional<int64_t>();
  KL_ASSIGN_OR_RETURN(Quantity q, list.get(name));
  Result<int64_t> v = name == "cpu" ? q.milli_value() : q.value();
  if (!v.ok()) return std::move(v).error();
  return std::optional<int64_t>(*v);
}

}  // namespace

Result<Resources> container_resources(const api::ContainerView& c) {
  auto ctx = [&](Error e) {
    return std::move(e).context("container " + std::string(c.name()) + " resources");
  };
  api::ResourcesView res = c.resources();
  Resources r;
  struct Field {
    const char* name;
    std::optional<int64_t> Resources::*request;
    std::optional<int64_t> Resources::*limit;
  };
  for (const Field& f : {Field{"cpu", &Resources::cpu_request_milli, &Resources::cpu_limit_milli},
                         Field{"memory", &Resources::memory_request_bytes,
                               &Resources::memory_limit_bytes}}) {
    auto req = amount(res.requests(), f.name);
    if (!req.ok()) return ctx(std::move(req).error());
    auto lim = amount(res.limits(), f.name);
    if (!lim.ok()) return ctx(std::move(lim).error());
    r.*f.limit = *lim;
    r.*f.request = req->has_value() ? *req : *lim;
  }
  if (auto v = validate(r); !v.ok()) return ctx(std::move(v).error());
  return r;
}

Result<Resources> pod_cgroup_resources(const api::PodView& pod,
                                       std::optional<int64_t> pod_pids_limit) {
  std::vector<Resources> app, init;
  for (const auto& c : pod.spec().containers()) {
    KL_ASSIGN_OR_RETURN(Resources r, container_resources(c));
    app.push_back(r);
  }
  for (const auto& c : pod.spec().init_containers()) {
    KL_ASSIGN_OR_RETURN(Resources r, container_resources(c));
    // A sidecar (restartPolicy Always) runs beside the app containers: it adds up.
    (c.is_sidecar() ? app : init).push_back(r);
  }
  return pod_resources(app, init, pod_pids_limit);
}

}  // namespace kernlet::cgroups
