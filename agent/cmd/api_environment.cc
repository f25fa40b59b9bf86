#include "agent/cmd/api_environment.h"

#include "agent/podspec/env.h"
#include "agent/podspec/image_pull.h"
#include "agent/podspec/security.h"
#include "runtime/images/image_user.h"
#include "runtime/sandbox/linux.h"
#include "runtime/seccomp/process_security.h"

namespace kernlet::agent {

api::ResourceList node_allocatable_of(const std::optional<json::object>& node) {
  api::ResourceList out;
  if (!node) return out;
  const json::object* status = json::get_object(*node, "status");
  const json::object* alloc = status != nullptr ? json::get_object(*status, "allocatable") : nullptr;
  if (alloc == nullptr) return out;
  api::ResourceListView view(alloc, "status.allocatable");
  for (const auto& kv : *alloc) {
    auto q = view.get(kv.key());
    if (q.ok()) out[std::string(kv.key())] = *q;
  }
  return out;
}

ApiPodEnvironment::ApiPodEnvironment(std::shared_ptr<client::RestClient> client, const client::ObjectCache* services,
                                     csi::VolumeManager* volumes, PodNetwork* network, ApiEnvironmentOptions options)
    : client_(std::move(client)),
      services_(services),
      volumes_(volumes),
      network_(network),
      options_(std::move(options)) {}

Result<std::optional<json::object>> ApiPodEnvironment::fetch(std::string_view resource, std::string_view ns,
                                                            std::string_view name) {
  auto r = client_->get(client::ResourceRef("", "v1", std::string(resource), std::string(ns), std::string(name)));
  if (r.ok()) return std::optional<json::object>(std::move(*r));
  if (r.error().code() == ErrorCode::kNotFound) return std::optional<json::object>();
  return r.error();
}

api::ResourceList ApiPodEnvironment::node_allocatable() const {
  return options_.node_allocatable_source ? options_.node_allocatable_source() : options_.node_allocatable;
}

csi::VolumeSources ApiPodEnvironment::sources() {
  csi::VolumeSources s;
  s.config_map = [this](std::string_view ns, std::string_view name) { return fetch("configmaps", ns, name); };
  s.secret = [this](std::string_view ns, std::string_view name) { return fetch("secrets", ns, name); };
  s.node_allocatable = node_allocatable();
  s.node_name = options_.node_name;
  return s;
}

Result<PodEnvironment::Built> ApiPodEnvironment::build(const api::PodView& pod, const api::ContainerView& c,
                                                       const ImageInfo& image) {
  const std::string ns(pod.meta().namespace_());
  // Lookups answered from documents fetched for this one build; the pointers podspec gets
  // stay valid until it returns.
  std::map<std::string, std::optional<json::object>> config_maps, secrets;
  std::optional<Error> lookup_error;
  auto lookup = [&](std::map<std::string, std::optional<json::object>>& cache, std::string_view resource,
                    std::string_view name) -> const json::object* {
    auto it = cache.find(std::string(name));
    if (it == cache.end()) {
      auto r = fetch(resource, ns, name);
      if (!r.ok()) {
        if (!lookup_error) lookup_error = r.error();
        return nullptr;
      }
      it = cache.emplace(std::string(name), std::move(*r)).first;
    }
    return it->second ? &*it->second : nullptr;
  };
  podspec::EnvContext ctx;
  ctx.pod = &pod.raw();
  ctx.node_name = options_.node_name;
  ctx.host_ips = options_.host_ips;
  if (!options_.host_ips.empty()) ctx.host_ip = options_.host_ips.front();
  ctx.pod_ips = pod.spec().host_network() ? options_.host_ips : network_->ips(std::string(pod.meta().uid()));
  ctx.config_map = [&](std::string_view name) { return lookup(config_maps, "configmaps", name); };
  ctx.secret = [&](std::string_view name) { return lookup(secrets, "secrets", name); };
  std::vector<client::ObjectPtr> keep;
  if (services_ != nullptr) {
    keep = services_->list();
    for (const auto& s : keep) ctx.services.push_back(s.get());
  }
  ctx.node_allocatable = node_allocatable();
  auto env = podspec::container_env(ctx, c);
  if (!env.ok()) {
    if (lookup_error) return *lookup_error;
    return env.error();
  }
  auto cmd = podspec::expand_command_and_args(c, *env);
  std::vector<images::EnvVar> vars;
  for (const auto& kv : *env) {
    auto eq = kv.find('=');
    vars.push_back({kv.substr(0, eq), eq == std::string::npos ? std::string() : kv.substr(eq + 1)});
  }
  KL_ASSIGN_OR_RETURN(auto proc, images::apply_image_config(image.config, cmd.command, cmd.args, vars, c.working_dir()));
  podspec::SecurityOptions so;
  so.seccomp_default = options_.seccomp_default;
  if (!options_.seccomp_profile_root.empty()) so.seccomp_profile_root = options_.seccomp_profile_root;
  const auto layers = image.layer_dirs;
  KL_ASSIGN_OR_RETURN(auto sec, podspec::container_security(
                                    pod, c, image.config.user,
                                    [&layers](std::string_view user) { return images::resolve_user(layers, user); }, so));
  KL_TRY(podspec::load_localhost_profile(sec, [](const std::string& path) { return runtime::read_file(path); }));
  KL_ASSIGN_OR_RETURN(auto prepared, seccomp::prepare_process_security(sec.request));
  Built b;
  b.process.args = proc.args;
  b.process.env = proc.env;
  b.process.cwd = proc.cwd;
  b.process.uid = sec.uid;
  b.process.gid = sec.gid;
  b.process.supplemental_gids = sec.supplemental_gids;
  b.process.capabilities = runtime::CapabilitySets{prepared.caps.bounding.bits(), prepared.caps.effective.bits(),
                                                   prepared.caps.permitted.bits(), prepared.caps.inheritable.bits(),
                                                   prepared.caps.ambient.bits()};
  b.process.seccomp = prepared.seccomp.instructions;
  b.process.no_new_privileges = prepared.no_new_privs;
  b.read_only_rootfs = sec.read_only_rootfs;
  b.privileged = sec.privileged;
  // Volume mounts, with subPathExpr expanded against the container's environment.
  csi::PodVolumes vols;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pod_volumes_.find(std::string(pod.meta().uid()));
    if (it != pod_volumes_.end()) vols = it->second;
  }
  csi::EnvMap envmap;
  for (const auto& v : vars) envmap[v.name] = v.value;
  KL_ASSIGN_OR_RETURN(auto mounts, volumes_->container_mounts(pod.raw(), c, vols, envmap));
  for (const auto& m : mounts) {
    runtime::BindMount bm;
    bm.source = m.host_path;
    bm.destination = m.container_path;
    bm.read_only = m.read_only;
    bm.propagation = m.propagation == csi::MountPropagation::kBidirectional     ? runtime::Propagation::kBidirectional
                     : m.propagation == csi::MountPropagation::kHostToContainer ? runtime::Propagation::kHostToContainer
                                                                                : runtime::Propagation::kPrivate;
    b.mounts.push_back(std::move(bm));
  }
  return b;
}

std::vector<images::RegistryOptions> ApiPodEnvironment::pull_options(const api::PodView& pod,
                                                                     std::string_view image) {
  std::vector<json::object> docs;
  for (auto name : pod.spec().image_pull_secrets()) {
    auto s = fetch("secrets", pod.meta().namespace_(), name);
    if (s.ok() && *s) docs.push_back(std::move(**s));  // a secret that cannot be read is skipped
  }
  std::vector<const json::object*> ptrs;
  for (const auto& d : docs) ptrs.push_back(&d);
  auto creds = podspec::pull_credentials(image, ptrs);
  std::vector<images::RegistryOptions> out;
  if (creds.ok()) {
    for (auto& c : *creds) out.emplace_back().credentials = std::move(c);
  }
  if (out.empty()) out.emplace_back();  // anonymous
  return out;
}

Result<void> ApiPodEnvironment::setup_volumes(const api::PodView& pod) {
  const std::string uid(pod.meta().uid());
  bool known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    known = pod_volumes_.count(uid) != 0;
  }
  if (known) return volumes_->refresh(pod.raw(), sources());
  KL_ASSIGN_OR_RETURN(auto vols, volumes_->setup(pod.raw(), sources()));
  std::lock_guard<std::mutex> lock(mu_);
  pod_volumes_[uid] = std::move(vols);
  return Ok();
}

Result<void> ApiPodEnvironment::teardown_volumes(const std::string& pod_uid) {
  KL_TRY(volumes_->teardown(pod_uid));
  std::lock_guard<std::mutex> lock(mu_);
  pod_volumes_.erase(pod_uid);
  return Ok();
}

}  // namespace kernlet::agent
