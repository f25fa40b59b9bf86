#include "agent/pod/fake_pod_runtime.h"

namespace kernlet::agent {

void FakePodRuntime::add_image(const std::string& ref, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  ImageInfo i;
  i.ref = ref;
  i.id = id;
  i.config.cmd = {"sh"};
  i.config.env = {"PATH=/bin"};
  images_[ref] = i;
}

void FakePodRuntime::fail_pull(const std::string& ref, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  pull_failures_[ref] = message;
}

void FakePodRuntime::clear_pull_failure(const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  pull_failures_.erase(ref);
}

void FakePodRuntime::fail_next_start(const std::string& name, StartFailure step, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  start_failures_[name] = {step, message};
}

void FakePodRuntime::exit(const std::string& id, int exit_code, int signal, bool oom) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  auto& s = it->second.status;
  if (s.state != runtime::ContainerState::kRunning) return;
  s.state = runtime::ContainerState::kExited;
  s.exit_code = exit_code;
  s.signal = signal;
  s.pid = 0;
  s.finished_ns = now_ns();
  s.reason = oom ? "OOMKilled" : runtime::exit_reason(exit_code, false, false);
  it->second.oom_killed = oom;
}

void FakePodRuntime::kill_sandbox(const std::string& pod_uid) {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sandboxes_[pod_uid].ready = false;
    for (auto& [id, c] : containers_)
      if (c.pod_uid == pod_uid) ids.push_back(id);
  }
  for (const auto& id : ids) exit(id, 137, 9);
}

std::string FakePodRuntime::latest(const std::string& pod_uid, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string best;
  int attempt = -1;
  for (auto& [id, c] : containers_) {
    if (c.pod_uid == pod_uid && c.name == name && c.attempt > attempt) {
      attempt = c.attempt;
      best = id;
    }
  }
  return best;
}

int FakePodRuntime::starts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return starts_;
}
int FakePodRuntime::pulls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pulls_;
}
std::vector<std::string> FakePodRuntime::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}
std::vector<ContainerConfig> FakePodRuntime::started_configs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return configs_;
}

std::optional<SandboxConfig> FakePodRuntime::sandbox_config(const std::string& pod_uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sandboxes_.find(pod_uid);
  return it == sandboxes_.end() ? std::nullopt : it->second.config;
}

Result<SandboxStatus> FakePodRuntime::ensure_sandbox(const SandboxConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& sb = sandboxes_[config.pod_uid];
  if (sb.creations == 0 || !sb.ready) {
    sb.ready = true;
    ++sb.creations;
    sb.config = config;
  }
  return SandboxStatus{true, true, "/proc/1/ns/net", 1};
}

SandboxStatus FakePodRuntime::sandbox_status(const std::string& pod_uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sandboxes_.find(pod_uid);
  if (it == sandboxes_.end()) return {};
  return SandboxStatus{true, it->second.ready, "/proc/1/ns/net", it->second.ready ? 1 : 0};
}

Result<void> FakePodRuntime::write_hosts(const SandboxConfig& config, const std::string& pod_ip) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sandboxes_.find(config.pod_uid);
  if (it == sandboxes_.end()) return Error(ErrorCode::kNotFound, "sandbox " + config.pod_uid + " not found");
  it->second.hosts_ip = pod_ip;
  return Ok();
}

std::string FakePodRuntime::hosts_ip(const std::string& pod_uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sandboxes_.find(pod_uid);
  return it == sandboxes_.end() ? "" : it->second.hosts_ip;
}

Result<void> FakePodRuntime::stop_sandbox(const std::string& pod_uid) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = sandboxes_.find(pod_uid); it != sandboxes_.end()) it->second.ready = false;
  return Ok();
}

std::optional<ImageInfo> FakePodRuntime::image_status(const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = images_.find(ref);
  if (it == images_.end()) return std::nullopt;
  return it->second;
}

void FakePodRuntime::require_credentials(const std::string& ref, const std::string& username) {
  std::lock_guard<std::mutex> lock(mu_);
  required_user_[ref] = username;
}

std::vector<std::string> FakePodRuntime::pull_users() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pull_users_;
}

Result<ImageInfo> FakePodRuntime::pull_image(const std::string& ref, const images::RegistryOptions& options) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++pulls_;
    const std::string user = options.credentials ? options.credentials->username : "";
    pull_users_.push_back(user);
    if (auto it = pull_failures_.find(ref); it != pull_failures_.end()) return Error(ErrorCode::kNotFound, it->second);
    if (auto it = required_user_.find(ref); it != required_user_.end() && it->second != user)
      return Error(ErrorCode::kPermissionDenied, "unauthorized: " + user);
  }
  add_image(ref, "sha256:2222");
  return *image_status(ref);
}

std::optional<StartError> FakePodRuntime::start_container(const ContainerConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  configs_.push_back(config);
  if (auto it = start_failures_.find(config.name); it != start_failures_.end()) {
    auto f = it->second;
    start_failures_.erase(it);
    if (f.first == StartFailure::kCreate) return StartError{f.first, Error(f.second)};
    ContainerInfo ci;
    ci.id = config.id();
    ci.pod_uid = config.pod_uid;
    ci.name = config.name;
    ci.attempt = config.attempt;
    ci.status.id = ci.id;
    ci.status.state = runtime::ContainerState::kExited;
    ci.status.exit_code = 128;
    ci.status.reason = "ContainerCannotRun";
    ci.status.message = f.second;
    ci.status.created_ns = ci.status.finished_ns = now_ns();
    containers_[ci.id] = ci;
    return StartError{f.first, Error(f.second)};
  }
  ++starts_;
  ContainerInfo ci;
  ci.id = config.id();
  ci.pod_uid = config.pod_uid;
  ci.name = config.name;
  ci.attempt = config.attempt;
  ci.status.id = ci.id;
  ci.status.state = runtime::ContainerState::kRunning;
  ci.status.pid = 0;  // no real process: the exit watcher leaves it alone
  ci.status.created_ns = ci.status.started_ns = now_ns();
  containers_[ci.id] = ci;
  return std::nullopt;
}

std::vector<ContainerInfo> FakePodRuntime::list_containers(const std::string& pod_uid) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ContainerInfo> out;
  for (auto& [id, c] : containers_)
    if (c.pod_uid == pod_uid) out.push_back(c);
  std::sort(out.begin(), out.end(), [](const ContainerInfo& a, const ContainerInfo& b) {
    return a.name != b.name ? a.name < b.name : a.attempt < b.attempt;
  });
  return out;
}

std::vector<std::string> FakePodRuntime::list_pods() {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> uids;
  for (auto& [uid, s] : sandboxes_) uids.insert(uid);
  for (auto& [id, c] : containers_) uids.insert(c.pod_uid);
  return {uids.begin(), uids.end()};
}

Result<runtime::ContainerStatus> FakePodRuntime::stop_container(const std::string& id, std::chrono::milliseconds) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_.push_back(id);
    if (containers_.count(id) == 0) return Error(ErrorCode::kNotFound, "container " + id + " not found");
  }
  exit(id, 137, 9);
  std::lock_guard<std::mutex> lock(mu_);
  return containers_[id].status;
}

Result<void> FakePodRuntime::remove_container(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return Ok();
  if (it->second.status.state == runtime::ContainerState::kRunning)
    return Error(ErrorCode::kConflict, "container " + id + " is running");
  containers_.erase(it);
  return Ok();
}

Result<void> FakePodRuntime::remove_pod(const std::string& pod_uid) {
  std::lock_guard<std::mutex> lock(mu_);
  sandboxes_.erase(pod_uid);
  for (auto it = containers_.begin(); it != containers_.end();) {
    if (it->second.pod_uid == pod_uid) {
      it = containers_.erase(it);
    } else {
      ++it;
    }
  }
  return Ok();
}

Result<ExecResult> FakePodRuntime::exec(const std::string& id, const std::vector<std::string>&, std::chrono::milliseconds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (containers_.count(id) == 0) return Error(ErrorCode::kNotFound, "container " + id + " not found");
  ExecResult r;
  r.exit_code = 0;
  return r;
}

}  // namespace kernlet::agent
