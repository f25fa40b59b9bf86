#include "agent/pod/pod_workers.h"

#include <dirent.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>

#include "agent/pod/pod_trace.h"
#include "api/time.h"
#include "runtime/sandbox/linux.h"

namespace kernlet::agent {

using std::chrono::milliseconds;

// ---- RestPodApi -------------------------------------------------------------------------

Result<void> RestPodApi::patch_status(const std::string& ns, const std::string& name, const json::object& patch) {
  client::ResourceRef ref("", "v1", "pods", ns, name, "status");
  KL_TRY(client_->patch(ref, client::PatchType::kMerge, patch));
  return Ok();
}

Result<void> RestPodApi::delete_pod(const std::string& ns, const std::string& name, const std::string& uid) {
  client::ResourceRef ref("", "v1", "pods", ns, name);
  client::DeleteOptions o;
  o.grace_period_seconds = 0;
  o.precondition_uid = uid;
  auto r = client_->remove(ref, o);
  if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r.error();
  return Ok();
}

// ---- ExitWatcher ------------------------------------------------------------------------

ExitWatcher::ExitWatcher(std::function<void(const std::string&)> on_exit) : on_exit_(std::move(on_exit)) {}

ExitWatcher::~ExitWatcher() { stop(); }

Result<void> ExitWatcher::start() {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return Error::from_errno("exit watcher: epoll_create1");
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) return Error::from_errno("exit watcher: eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0)
    return Error::from_errno("exit watcher: epoll_ctl");
  thread_ = std::thread([this] { run(); });
  return Ok();
}

void ExitWatcher::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  thread_.join();
}

void ExitWatcher::watch(const std::string& id, pid_t pid, const std::string& key) {
  std::unique_lock<std::mutex> lock(mu_);
  if (fds_.count(id) != 0) return;
  UniqueFd fd(runtime::sys_pidfd_open(pid, 0));
  if (!fd.valid()) {
    lock.unlock();
    on_exit_(key);  // already gone
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) return;
  by_fd_[fd.get()] = {id, key};
  fds_[id] = std::move(fd);
}

std::size_t ExitWatcher::watched() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fds_.size();
}

void ExitWatcher::run() {
  epoll_event evs[32];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), evs, 32, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::vector<std::string> keys;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; ++i) {
        int fd = evs[i].data.fd;
        if (fd == wake_.get()) return;
        auto it = by_fd_.find(fd);
        if (it == by_fd_.end()) continue;
        keys.push_back(it->second.second);
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        fds_.erase(it->second.first);
        by_fd_.erase(it);
      }
    }
    for (const auto& k : keys) on_exit_(k);
  }
}

// ---- PodWorkers -------------------------------------------------------------------------


PodWorkers::PodWorkers(PodSyncer* syncer, PodRuntime* rt, PodApi* api, PodWorkersOptions options)
    : syncer_(syncer), rt_(rt), api_(api), options_(options), exits_([this](const std::string& uid) { enqueue(uid); }) {}

PodWorkers::~PodWorkers() { stop(); }

void PodWorkers::upsert(const client::ObjectPtr& pod) {
  std::string uid(api::Meta(*pod).uid());
  if (uid.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pods_[uid] = pod;
    gone_.erase(uid);
    orphans_.erase(uid);
  }
  queue_.add(uid);
}

void PodWorkers::removed(const client::ObjectPtr& pod) {
  std::string uid(api::Meta(*pod).uid());
  if (uid.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pods_.erase(uid);
    gone_[uid] = pod;
  }
  queue_.add(uid);
}

void PodWorkers::enqueue(const std::string& uid) { queue_.add(uid); }

bool is_static_pod(const json::object& pod) {
  return api::Meta(pod).annotation("kubernetes.io/config.source") == "file";
}

void PodWorkers::set_static_pods(const std::vector<json::object>& pods) {
  std::set<std::string> now;
  std::vector<client::ObjectPtr> changed, gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : pods) {
      std::string uid(api::Meta(p).uid());
      if (uid.empty()) continue;
      now.insert(uid);
      auto it = pods_.find(uid);
      if (it == pods_.end() || *it->second != p) changed.push_back(std::make_shared<const json::object>(p));
    }
    for (const auto& uid : static_uids_) {
      if (now.count(uid) != 0) continue;
      if (auto it = pods_.find(uid); it != pods_.end()) gone.push_back(it->second);
    }
    static_uids_ = now;
  }
  for (const auto& p : changed) upsert(p);
  for (const auto& p : gone) removed(p);
}

void PodWorkers::adopt_orphans() {
  for (const auto& uid : rt_->list_pods()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pods_.count(uid) != 0 || gone_.count(uid) != 0) continue;
      orphans_.insert(uid);
    }
    queue_.add(uid);
  }
}

client::ObjectPtr PodWorkers::pod(const std::string& uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = pods_.find(uid); it != pods_.end()) return it->second;
  if (auto it = gone_.find(uid); it != gone_.end()) return it->second;
  return nullptr;
}

client::ObjectPtr PodWorkers::find(std::string_view ns, std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [uid, p] : pods_) {
    api::Meta m(*p);
    if (m.namespace_() == ns && m.name() == name) return p;
  }
  return nullptr;
}

std::vector<client::ObjectPtr> PodWorkers::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<client::ObjectPtr> out;
  for (const auto& [uid, p] : pods_) out.push_back(p);
  return out;
}

Result<void> PodWorkers::start() {
  KL_TRY(exits_.start());
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
  resync_ = std::thread([this] { resync_loop(); });
  return Ok();
}

void PodWorkers::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  queue_.shut_down();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (resync_.joinable()) resync_.join();
  exits_.stop();
}

void PodWorkers::worker_loop() {
  while (auto uid = queue_.get()) {
    process(*uid);
    queue_.done(*uid);
  }
}

void PodWorkers::resync_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, options_.resync_period, [this] { return stopping_; })) return;
    std::vector<std::string> uids;
    for (const auto& [uid, p] : pods_) uids.push_back(uid);
    lock.unlock();
    for (const auto& u : uids) queue_.add(u);
    lock.lock();
  }
}

void PodWorkers::remove_log_dir(const std::string& uid) {
  const std::string dir = syncer_->options().pod_logs_dir;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> victims;
  const std::string suffix = "_" + uid;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      victims.push_back(dir + "/" + n);
  }
  ::closedir(d);
  for (const auto& v : victims) (void)runtime::remove_tree(v);
}

void PodWorkers::write_status(const api::PodView& pod, const json::object& status) {
  std::string uid(pod.meta().uid());
  const std::string text = json::dump(status);
  if (is_static_pod(pod.raw())) {
    // A static pod's status goes to its mirror pod, with the mirror's uid as precondition.
    client::ObjectPtr mirror = options_.mirror_of ? options_.mirror_of(std::string(pod.meta().namespace_()),
                                                                       std::string(pod.meta().name()))
                                                  : nullptr;
    if (!mirror) return;
    const json::object& current = api::object_or_empty(*mirror, "status");
    if (!status_differs(current, status)) return;
    auto patch = status_patch(api::Meta(*mirror).uid(), current, status);
    auto r = api_->patch_status(std::string(pod.meta().namespace_()), std::string(pod.meta().name()), patch);
    if (!r.ok()) queue_.add_after(uid, std::chrono::seconds(2));
    return;
  }
  client::ObjectPtr latest;
  std::string based_on;  // the resourceVersion our patch goes over
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The latest object we know: a status written a moment ago may not be back yet.
    auto it = pods_.find(uid);
    latest = it != pods_.end() ? it->second : std::make_shared<const json::object>(pod.raw());
    based_on = std::string(api::Meta(*latest).resource_version());
    if (!status_differs(api::object_or_empty(*latest, "status"), status)) {
      last_written_[uid] = {text, based_on};
      return;
    }
    // Written already, and the object has not changed since we wrote over it: our write is
    // on its way back. Anyone else's write (the node lifecycle controller marking the pod
    // not Ready, say) is a newer resourceVersion, and the status is written again.
    if (auto lw = last_written_.find(uid);
        lw != last_written_.end() && lw->second.text == text && lw->second.based_on == based_on) {
      return;
    }
  }
  auto patch = status_patch(uid, api::object_or_empty(*latest, "status"), status);
  auto r = api_->patch_status(std::string(pod.meta().namespace_()), std::string(pod.meta().name()), patch);
  if (!r.ok()) {
    if (r.error().code() != ErrorCode::kNotFound && r.error().code() != ErrorCode::kInvalidArgument &&
        r.error().code() != ErrorCode::kConflict) {
      std::fprintf(stderr, "W pod: %s/%s: write status: %s\n", std::string(pod.meta().namespace_()).c_str(),
                   std::string(pod.meta().name()).c_str(), r.error().to_string().c_str());
      queue_.add_after(uid, std::chrono::seconds(2));
    }
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  last_written_[uid] = {text, based_on};
}

void PodWorkers::process(const std::string& uid) {
  syncs_.fetch_add(1);
  client::ObjectPtr pod, gone;
  bool orphan = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = pods_.find(uid); it != pods_.end()) pod = it->second;
    if (auto it = gone_.find(uid); it != gone_.end()) gone = it->second;
    orphan = orphans_.count(uid) != 0;
  }
  if (!pod && !gone) {
    if (!orphan) return;
    std::fprintf(stderr, "I pod: removing orphaned pod %s found in the runtime\n", uid.c_str());
    if (auto r = syncer_->remove(uid, "", ""); !r.ok()) {
      std::fprintf(stderr, "W pod: remove orphan %s: %s\n", uid.c_str(), r.error().to_string().c_str());
      queue_.add_after(uid, std::chrono::seconds(5));
      return;
    }
    remove_log_dir(uid);
    std::lock_guard<std::mutex> lock(mu_);
    orphans_.erase(uid);
    return;
  }
  if (!pod) {
    // Gone from the API (deleted, or bound elsewhere now): stop and remove.
    api::PodView pv(*gone);
    auto grace = options_.orphan_grace;
    if (auto g = pv.meta().deletion_grace_period_seconds()) grace = std::min(grace, milliseconds(*g * 1000));
    (void)syncer_->terminate(*gone, grace);
    if (auto r = syncer_->remove(uid, std::string(pv.meta().namespace_()), std::string(pv.meta().name())); !r.ok()) {
      std::fprintf(stderr, "W pod: remove %s/%s: %s\n", std::string(pv.meta().namespace_()).c_str(),
                   std::string(pv.meta().name()).c_str(), r.error().to_string().c_str());
      queue_.add_after(uid, std::chrono::seconds(5));
      return;
    }
    remove_log_dir(uid);
    std::lock_guard<std::mutex> lock(mu_);
    if (gone_.count(uid) != 0 && pods_.count(uid) == 0) gone_.erase(uid);
    last_written_.erase(uid);
    return;
  }
  api::PodView pv(*pod);
  if (pv.meta().being_deleted()) {
    auto grace = milliseconds(pv.meta().deletion_grace_period_seconds().value_or(pv.spec().termination_grace_period_seconds()) * 1000);
    SyncOutcome out = syncer_->terminate(*pod, grace);
    write_status(pv, out.status);
    if (auto r = syncer_->remove(uid, std::string(pv.meta().namespace_()), std::string(pv.meta().name())); !r.ok()) {
      std::fprintf(stderr, "W pod: remove %s/%s: %s\n", std::string(pv.meta().namespace_()).c_str(),
                   std::string(pv.meta().name()).c_str(), r.error().to_string().c_str());
      queue_.add_after(uid, std::chrono::seconds(5));
      return;
    }
    auto r = api_->delete_pod(std::string(pv.meta().namespace_()), std::string(pv.meta().name()), uid);
    if (!r.ok()) {
      std::fprintf(stderr, "W pod: delete %s/%s: %s\n", std::string(pv.meta().namespace_()).c_str(),
                   std::string(pv.meta().name()).c_str(), r.error().to_string().c_str());
      queue_.add_after(uid, std::chrono::seconds(2));
    }
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  SyncOutcome out = syncer_->sync(*pod);
  const auto t1 = std::chrono::steady_clock::now();
  write_status(pv, out.status);
  if (trace_enabled()) {
    std::fprintf(stderr, "T pod %s/%s: sync %lld us, status write %lld us, phase %s\n",
                 std::string(pv.meta().namespace_()).c_str(), std::string(pv.meta().name()).c_str(),
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()),
                 trace_us(t1), std::string(json::get_string(out.status, "phase")).c_str());
  }
  for (const auto& ci : out.running) {
    if (ci.status.pid > 0) exits_.watch(ci.id, ci.status.pid, uid);
  }
  if (out.requeue_after) queue_.add_after(uid, *out.requeue_after);
}

}  // namespace kernlet::agent
