#include "agent/pod/pod_sync.h"

#include <algorithm>
#include <cstdio>
#include <future>
#include <thread>

#include "api/time.h"
#include "runtime/cgroups/pod_resources.h"

namespace kernlet::agent {

namespace {

// The kubelet's PullImage: each candidate in turn, the first success wins; when all fail,
// their errors aggregated as utilerrors.NewAggregate prints them ("[a, b]" for several).
Result<ImageInfo> pull_with_each(PodRuntime* rt, const std::string& image,
                                 const std::vector<images::RegistryOptions>& candidates) {
  std::vector<Error> errors;
  for (const auto& o : candidates) {
    auto r = rt->pull_image(image, o);
    if (r.ok()) return r;
    errors.push_back(std::move(r).error());
  }
  if (errors.empty()) return rt->pull_image(image, {});
  if (errors.size() == 1) return std::move(errors.front());
  std::string msg = "[";
  for (size_t i = 0; i < errors.size(); ++i) msg += (i ? ", " : "") + errors[i].message();
  return Error(errors.front().code(), msg + "]");
}

using std::chrono::milliseconds;

bool running(const ContainerInfo& ci) { return ci.status.state == runtime::ContainerState::kRunning; }
bool exited(const ContainerInfo& ci) {
  return ci.status.state == runtime::ContainerState::kExited || ci.status.state == runtime::ContainerState::kUnknown;
}
bool created_only(const ContainerInfo& ci) { return ci.status.state == runtime::ContainerState::kCreated; }

std::chrono::system_clock::time_point from_ns(int64_t ns) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
}

std::string seconds_text(milliseconds d) {
  auto s = d.count() / 1000;
  if (s >= 60 && s % 60 == 0) return std::to_string(s / 60) + "m0s";
  if (s >= 60) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s) + "s";
}

// spec.hostAliases as the sandbox's /etc/hosts entries, in the pod's order (validation has
// checked the addresses and names; entries without an ip or names are skipped).
std::vector<runtime::HostAlias> host_aliases(const api::PodSpecView& spec) {
  std::vector<runtime::HostAlias> out;
  const json::array* list = json::get_array(spec.raw(), "hostAliases");
  if (list == nullptr) return out;
  for (const auto& v : *list) {
    if (!v.is_object()) continue;
    runtime::HostAlias a;
    a.ip = std::string(json::get_string(v.get_object(), "ip"));
    if (const json::array* names = json::get_array(v.get_object(), "hostnames")) {
      for (const auto& h : *names) {
        if (h.is_string() && !h.get_string().empty()) a.hostnames.emplace_back(h.get_string());
      }
    }
    if (!a.ip.empty() && !a.hostnames.empty()) out.push_back(std::move(a));
  }
  return out;
}

std::string backoff_key(std::string_view uid, std::string_view name) {
  return std::string(uid) + "/" + std::string(name);
}

// ---- defaults -------------------------------------------------------------------------

class BasicEnvironment final : public PodEnvironment {
 public:
  Result<Built> build(const api::PodView& pod, const api::ContainerView& c, const ImageInfo& image) override {
    (void)pod;
    std::vector<images::EnvVar> env;
    for (const auto& e : c.env()) {
      if (e.value_from() != nullptr)
        return Error(ErrorCode::kInvalidArgument, "env " + std::string(e.name()) + ": valueFrom is not supported here");
      env.push_back({std::string(e.name()), std::string(e.value())});
    }
    std::vector<std::string> cmd, args;
    for (auto s : c.command()) cmd.emplace_back(s);
    for (auto s : c.args()) args.emplace_back(s);
    KL_ASSIGN_OR_RETURN(auto proc, images::apply_image_config(image.config, cmd, args, env, c.working_dir()));
    Built b;
    b.process.args = proc.args;
    b.process.env = proc.env;
    b.process.cwd = proc.cwd;
    return b;
  }
  std::vector<images::RegistryOptions> pull_options(const api::PodView&, std::string_view) override {
    return std::vector<images::RegistryOptions>(1);  // one anonymous pull
  }
  Result<void> setup_volumes(const api::PodView&) override { return Ok(); }
  Result<void> teardown_volumes(const std::string&) override { return Ok(); }
};

class NoProbes final : public PodProbes {
 public:
  explicit NoProbes(PodRuntime* rt) : rt_(rt) {}
  void update(const api::PodView&, const std::vector<ContainerInfo>&) override {}
  bool started(const std::string&, const api::ContainerView&, const ContainerInfo&) override { return true; }
  bool ready(const std::string&, const api::ContainerView&, const ContainerInfo&) override { return true; }
  bool liveness_failed(const std::string&, const ContainerInfo&) override { return false; }
  Result<void> run_hook(const api::PodView&, const api::ContainerView&, const ContainerInfo& ci,
                        const api::HandlerView& hook, milliseconds timeout) override {
    if (hook.kind() == api::HandlerView::Kind::Exec) {
      std::vector<std::string> cmd;
      for (auto s : hook.exec_command()) cmd.emplace_back(s);
      KL_ASSIGN_OR_RETURN(auto r, rt_->exec(ci.id, cmd, timeout));
      if (r.timed_out) return Error(ErrorCode::kDeadlineExceeded, "command timed out");
      if (r.exit_code != 0)
        return Error("command '" + (cmd.empty() ? std::string() : cmd[0]) + "' exited with " +
                     std::to_string(r.exit_code) + ": " + r.output);
      return Ok();
    }
    if (hook.kind() == api::HandlerView::Kind::Sleep) {
      auto s = hook.sleep_seconds().value_or(0);
      std::this_thread::sleep_for(std::min<milliseconds>(timeout, milliseconds(s * 1000)));
      return Ok();
    }
    return Error(ErrorCode::kInvalidArgument, std::string(hook.kind_name()) + " hooks need the prober");
  }
  void forget(const std::string&) override {}

 private:
  PodRuntime* rt_;
};

class NoNetwork final : public PodNetwork {
 public:
  Result<std::vector<std::string>> add(const api::PodView&, const std::string&) override {
    return std::vector<std::string>{};
  }
  std::vector<std::string> ips(const std::string&) override { return {}; }
  Result<void> del(const std::string&, const std::string&, const std::string&, const std::string&) override {
    return Ok();
  }
};

}  // namespace

std::unique_ptr<PodEnvironment> basic_environment() { return std::make_unique<BasicEnvironment>(); }
std::unique_ptr<PodProbes> no_probes(PodRuntime* rt) { return std::make_unique<NoProbes>(rt); }
std::unique_ptr<PodNetwork> no_network() { return std::make_unique<NoNetwork>(); }

std::string format_pod(const api::PodView& pod) {
  return std::string(pod.meta().name()) + "_" + std::string(pod.meta().namespace_()) + "(" +
         std::string(pod.meta().uid()) + ")";
}

PodSyncer::PodSyncer(PodRuntime* rt, EventSink* events, PodEnvironment* env, PodProbes* probes, PodNetwork* net,
                     SyncerOptions options)
    : rt_(rt),
      events_(events),
      env_(env),
      probes_(probes),
      net_(net),
      options_(std::move(options)),
      crash_backoff_(options_.crash_backoff),
      pull_backoff_(options_.pull_backoff) {}

PodSyncer::PodMemo& PodSyncer::memo(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& p = memos_[uid];
  if (!p) p = std::make_unique<PodMemo>();
  return *p;
}

std::string PodSyncer::log_path(const api::PodView& pod, std::string_view container, int attempt) const {
  return options_.pod_logs_dir + "/" + std::string(pod.meta().namespace_()) + "_" + std::string(pod.meta().name()) +
         "_" + std::string(pod.meta().uid()) + "/" + std::string(container) + "/" + std::to_string(attempt) + ".log";
}

bool PodSyncer::start(const api::PodView& pod, const api::ContainerView& c, int attempt, PodMemo& m,
                      std::optional<milliseconds>& requeue) {
  const std::string uid(pod.meta().uid());
  const std::string name(c.name());
  const std::string image(c.image());
  auto& cm = m.containers[name];
  const auto now = options_.now();
  auto set_requeue = [&](milliseconds d) {
    if (!requeue || d < *requeue) requeue = d;
  };
  // The image, per imagePullPolicy.
  std::optional<ImageInfo> info = rt_->image_status(image);
  const std::string_view policy = c.image_pull_policy();
  const bool pull = policy == "Always" || (policy != "Never" && !info);
  if (policy == "Never" && !info) {
    std::string msg = "Container image \"" + image + "\" is not present with pull policy of Never";
    if (!cm.waiting || cm.waiting->reason != "ErrImageNeverPull")
      events_->event(pod.raw(), "Warning", "ErrImageNeverPull", msg);
    cm.waiting = WaitingReason{"ErrImageNeverPull", msg};
    return false;
  }
  if (pull) {
    const std::string key = backoff_key(uid, name) + "@" + image;
    // The back-off counts from the last failed pull.
    milliseconds wait(0);
    if (auto it = m.pull_failures.find(key); it != m.pull_failures.end())
      wait = pull_backoff_.remaining(key, it->second, now);
    if (wait.count() > 0) {
      std::string msg = "Back-off pulling image \"" + image + "\"";
      if (!cm.waiting || cm.waiting->reason != "ImagePullBackOff") events_->event(pod.raw(), "Normal", "BackOff", msg);
      cm.waiting = WaitingReason{"ImagePullBackOff", msg};
      set_requeue(wait);
      return false;
    }
    events_->event(pod.raw(), "Normal", "Pulling", "Pulling image \"" + image + "\"");
    auto t0 = std::chrono::steady_clock::now();
    auto pulled = pull_with_each(rt_, image, env_->pull_options(pod, image));
    if (!pulled.ok()) {
      pull_backoff_.next(key, now);
      m.pull_failures[key] = now;
      std::string msg = pulled.error().message();
      events_->event(pod.raw(), "Warning", "Failed", "Failed to pull image \"" + image + "\": " + msg);
      events_->event(pod.raw(), "Warning", "Failed", "Error: ErrImagePull");
      cm.waiting = WaitingReason{"ErrImagePull", msg};
      set_requeue(pull_backoff_.current(key));
      return false;
    }
    pull_backoff_.reset(key);
    m.pull_failures.erase(key);
    auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3fs", static_cast<double>(took.count()) / 1000.0);
    events_->event(pod.raw(), "Normal", "Pulled",
                   "Successfully pulled image \"" + image + "\" in " + secs + " (" + secs +
                       " including waiting). Image size: " + std::to_string(pulled->size) + " bytes.");
    info = std::move(*pulled);
  } else if (attempt == 0 || !cm.waiting) {
    events_->event(pod.raw(), "Normal", "Pulled", "Container image \"" + image + "\" already present on machine");
  }
  // The process and mounts.
  auto built = env_->build(pod, c, *info);
  if (!built.ok()) {
    std::string msg = built.error().message();
    events_->event(pod.raw(), "Warning", "Failed", "Error: " + msg);
    cm.waiting = WaitingReason{"CreateContainerConfigError", msg};
    set_requeue(milliseconds(10'000));
    return false;
  }
  ContainerConfig cfg;
  cfg.pod_uid = uid;
  cfg.name = name;
  cfg.attempt = attempt;
  cfg.image = *info;
  cfg.process = std::move(built->process);
  cfg.mounts = std::move(built->mounts);
  cfg.read_only_rootfs = built->read_only_rootfs;
  cfg.privileged = built->privileged;
  if (auto r = cgroups::container_resources(c); r.ok()) cfg.resources = *r;
  cfg.log_path = log_path(pod, name, attempt);
  cfg.process.tty = c.tty();
  cfg.open_stdin = c.stdin_();
  cfg.stdin_once = c.stdin_once();
  if (auto err = rt_->start_container(cfg)) {
    std::string msg = err->error.message();
    events_->event(pod.raw(), "Warning", "Failed", "Error: " + msg);
    if (err->step == StartFailure::kCreate) {
      cm.waiting = WaitingReason{"CreateContainerError", msg};
      set_requeue(milliseconds(10'000));
    } else {
      // The instance exists and has ended (ContainerCannotRun): the restart policy and the
      // back-off take it from here.
      cm.waiting.reset();
      events_->event(pod.raw(), "Normal", "Created", "Created container: " + name);
    }
    return false;
  }
  cm.waiting.reset();
  m.image_ids[name] = info->id;
  events_->event(pod.raw(), "Normal", "Created", "Created container: " + name);
  events_->event(pod.raw(), "Normal", "Started", "Started container " + name);
  if (auto hook = c.post_start()) {
    ContainerInfo ci;
    ci.id = cfg.id();
    ci.pod_uid = uid;
    ci.name = name;
    ci.attempt = attempt;
    auto r = probes_->run_hook(pod, c, ci, *hook, milliseconds(30'000));
    if (!r.ok()) {
      events_->event(pod.raw(), "Warning", "FailedPostStartHook", r.error().message());
      stop_instance(pod, &c, ci, milliseconds(pod.spec().termination_grace_period_seconds() * 1000),
                    "FailedPostStartHook");
    }
  }
  return true;
}

bool PodSyncer::restart(const api::PodView& pod, const api::ContainerView& c, const ContainerInfo& last, PodMemo& m,
                        std::optional<milliseconds>& requeue) {
  const std::string key = backoff_key(pod.meta().uid(), c.name());
  const auto now = options_.now();
  auto finished = last.status.finished_ns > 0 ? from_ns(last.status.finished_ns) : now;
  if (last.status.started_ns > 0 && last.status.finished_ns > 0 &&
      finished - from_ns(last.status.started_ns) >= crash_backoff_.policy().reset_after) {
    crash_backoff_.reset(key);
  }
  auto wait = crash_backoff_.remaining(key, finished, now);
  auto& cm = m.containers[std::string(c.name())];
  if (wait.count() > 0) {
    if (!cm.waiting || cm.waiting->reason != "CrashLoopBackOff") {
      events_->event(pod.raw(), "Warning", "BackOff",
                     "Back-off restarting failed container " + std::string(c.name()) + " in pod " + format_pod(pod));
    }
    cm.waiting = WaitingReason{"CrashLoopBackOff", "back-off " + seconds_text(crash_backoff_.current(key)) +
                                                       " restarting failed container=" + std::string(c.name()) +
                                                       " pod=" + format_pod(pod)};
    if (!requeue || wait < *requeue) requeue = wait;
    return false;
  }
  if (cm.waiting && cm.waiting->reason == "CrashLoopBackOff") cm.waiting.reset();
  crash_backoff_.next(key, now);
  return start(pod, c, last.attempt + 1, m, requeue);
}

void PodSyncer::stop_instance(const api::PodView& pod, const api::ContainerView* c, const ContainerInfo& ci,
                              milliseconds grace, const std::string& message) {
  events_->event(pod.raw(), "Normal", "Killing", message);
  auto deadline = std::chrono::steady_clock::now() + grace;
  if (c != nullptr && grace.count() > 0) {
    if (auto hook = c->pre_stop()) {
      auto r = probes_->run_hook(pod, *c, ci, *hook, grace);
      if (!r.ok()) {
        events_->event(pod.raw(), "Warning", "FailedPreStopHook",
                       "PreStopHook failed: " + r.error().message());
      }
    }
  }
  auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
  // The kubelet grants at least 2 s after a preStop hook that used up the grace period.
  if (left.count() < 2000 && grace.count() > 0) left = milliseconds(2000);
  auto r = rt_->stop_container(ci.id, std::max(left, milliseconds(0)));
  if (!r.ok()) std::fprintf(stderr, "W pod: stop %s: %s\n", ci.id.c_str(), r.error().to_string().c_str());
}

void PodSyncer::prune(const std::string& uid, const std::map<std::string, std::vector<ContainerInfo>>& by_name) {
  (void)uid;
  for (const auto& [name, list] : by_name) {
    int excess = static_cast<int>(list.size()) - options_.keep_instances;
    for (int i = 0; i < excess; ++i) {
      if (!exited(list[static_cast<size_t>(i)])) continue;
      (void)rt_->remove_container(list[static_cast<size_t>(i)].id);
    }
  }
}

SyncOutcome PodSyncer::sync(const json::object& pod_obj) {
  api::PodView pod(pod_obj);
  const std::string uid(pod.meta().uid());
  PodMemo& m = memo(uid);
  const auto now = options_.now();
  std::optional<milliseconds> requeue;
  if (m.start_time.empty()) {
    m.start_time = pod.status().start_time().empty() ? api::format_rfc3339(now) : std::string(pod.status().start_time());
  }
  const auto spec = pod.spec();
  const std::string policy(spec.restart_policy());

  // A terminal pod never runs anything again.
  std::string_view api_phase = pod.status().phase();
  if (api_phase == "Succeeded" || api_phase == "Failed") {
    for (const auto& ci : rt_->list_containers(uid)) {
      if (running(ci)) (void)rt_->stop_container(ci.id, milliseconds(0));
    }
    if (rt_->sandbox_status(uid).ready) (void)rt_->stop_sandbox(uid);
    return finish(pod, m, std::nullopt, true);
  }

  // activeDeadlineSeconds counts from startTime.
  if (auto ads = spec.active_deadline_seconds()) {
    auto start = api::parse_rfc3339(m.start_time);
    if (start.ok()) {
      auto until = *start + std::chrono::seconds(*ads);
      if (now >= until) {
        if (!m.failure) {
          m.failure = WaitingReason{"DeadlineExceeded", "Pod was active on the node longer than the specified deadline"};
          events_->event(pod.raw(), "Normal", "DeadlineExceeded", m.failure->message);
        }
      } else {
        requeue = std::chrono::duration_cast<milliseconds>(until - now) + milliseconds(1);
      }
    }
  }
  if (m.failure) {
    auto all = rt_->list_containers(uid);
    const auto grace = milliseconds(spec.termination_grace_period_seconds() * 1000);
    std::vector<std::future<void>> stops;
    for (const auto& ci : all) {
      if (!running(ci)) continue;
      stops.push_back(std::async(std::launch::async, [&, ci] {
        stop_instance(pod, nullptr, ci, grace, "Stopping container " + ci.name);
      }));
    }
    for (auto& f : stops) f.get();
    return finish(pod, m, std::nullopt, true);
  }

  auto list = rt_->list_containers(uid);
  std::map<std::string, std::vector<ContainerInfo>> by_name;
  for (auto& ci : list) by_name[ci.name].push_back(ci);
  auto latest = [&](std::string_view name) -> const ContainerInfo* {
    auto it = by_name.find(std::string(name));
    return it == by_name.end() || it->second.empty() ? nullptr : &it->second.back();
  };

  // Volumes, then the sandbox and its network.
  const std::string mount_key = uid + "/volumes";
  if (auto r = env_->setup_volumes(pod); !r.ok()) {
    std::string msg = r.error().message();
    if (!m.sandbox_error || *m.sandbox_error != msg) events_->event(pod.raw(), "Warning", "FailedMount", msg);
    m.sandbox_error = msg;
    // Retried with back-off; a change that can cure it (a claim turning Bound) syncs the
    // pod sooner anyway.
    mount_backoff_.next(mount_key, now);
    return finish(pod, m, mount_backoff_.current(mount_key), false);
  }
  mount_backoff_.reset(mount_key);
  SandboxStatus sb = rt_->sandbox_status(uid);
  if (!sb.ready) {
    bool ran_all = !spec.containers().empty();
    for (const auto& c : spec.containers()) ran_all = ran_all && latest(c.name()) != nullptr;
    if (sb.exists || !list.empty()) {
      if (policy == "Never" && ran_all) return finish(pod, m, std::nullopt, false);
      events_->event(pod.raw(), "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.");
      for (const auto& ci : list) {
        if (running(ci) || created_only(ci)) (void)rt_->stop_container(ci.id, milliseconds(0));
      }
      (void)net_->del(uid, std::string(pod.meta().namespace_()), std::string(pod.meta().name()), sb.netns_path);
    }
    SandboxConfig sc;
    sc.pod_uid = uid;
    sc.name = std::string(pod.meta().name());
    sc.namespace_ = std::string(pod.meta().namespace_());
    sc.hostname = spec.hostname().empty() ? sc.name : std::string(spec.hostname());
    if (sc.hostname.size() > 63) sc.hostname = sc.hostname.substr(0, 63);
    while (!sc.hostname.empty() && (sc.hostname.back() == '-' || sc.hostname.back() == '.')) sc.hostname.pop_back();
    sc.host_network = spec.host_network();
    sc.host_ipc = spec.host_ipc();
    sc.host_pid = spec.host_pid();
    sc.share_process_namespace = spec.share_process_namespace();
    sc.host_aliases = host_aliases(spec);
    // The kubelet's rule: the FQDN line needs both a hostname and a subdomain.
    if (!spec.hostname().empty() && !spec.subdomain().empty() && !options_.cluster_domain.empty()) {
      sc.hostname_fqdn = sc.hostname + "." + std::string(spec.subdomain()) + "." + sc.namespace_ + ".svc." +
                         options_.cluster_domain;
    }
    if (options_.dns_config) {
      std::vector<std::string> dns_warnings;
      sc.dns = options_.dns_config(pod, &dns_warnings);
      for (const auto& w : dns_warnings) events_->event(pod.raw(), "Warning", "DNSConfigForming", w);
    }
    if (auto r = cgroups::pod_cgroup_resources(pod, std::nullopt); r.ok()) sc.resources = *r;
    auto created = rt_->ensure_sandbox(sc);
    if (!created.ok()) {
      std::string msg = "Failed to create pod sandbox: " + created.error().message();
      events_->event(pod.raw(), "Warning", "FailedCreatePodSandBox", msg);
      m.sandbox_error = msg;
      return finish(pod, m, milliseconds(5'000), false);
    }
    sb = *created;
    if (!spec.host_network()) {
      auto ips = net_->add(pod, sb.netns_path);
      if (!ips.ok()) {
        std::string msg = "Failed to create pod sandbox: " + ips.error().message();
        events_->event(pod.raw(), "Warning", "FailedCreatePodSandBox", msg);
        m.sandbox_error = msg;
        (void)rt_->stop_sandbox(uid);
        return finish(pod, m, milliseconds(5'000), false);
      }
      m.pod_ips = *ips;
      // The sandbox's /etc/hosts was written before the pod had an address; now it gets
      // the "<pod IP> <hostname>" line apps resolve their own name with.
      if (!ips->empty()) {
        if (auto w = rt_->write_hosts(sc, ips->front()); !w.ok()) {
          std::string msg = "Failed to create pod sandbox: " + w.error().message();
          events_->event(pod.raw(), "Warning", "FailedCreatePodSandBox", msg);
          m.sandbox_error = msg;
          (void)rt_->stop_sandbox(uid);  // the next sync DELs and starts over
          return finish(pod, m, milliseconds(5'000), false);
        }
      }
    }
  }
  m.sandbox_error.reset();
  if (spec.host_network()) {
    m.pod_ips = options_.host_ips;
  } else if (m.pod_ips.empty()) {
    m.pod_ips = net_->ips(uid);
  }

  // Init containers, in order; sidecars are started and kept running.
  bool initialized = true;
  bool app_started = false;
  for (const auto& c : spec.containers()) app_started = app_started || latest(c.name()) != nullptr;
  for (const auto& c : spec.init_containers()) {
    const ContainerInfo* last = latest(c.name());
    if (c.is_sidecar()) {
      if (last == nullptr) {
        if (!app_started) {
          start(pod, c, 0, m, requeue);
          initialized = false;
          break;
        }
        start(pod, c, 0, m, requeue);
        continue;
      }
      if (running(*last)) {
        if (probes_->liveness_failed(uid, *last)) {
          stop_instance(pod, &c, *last, milliseconds(spec.termination_grace_period_seconds() * 1000),
                        "Container " + std::string(c.name()) + " failed liveness probe, will be restarted");
          continue;
        }
        if (!app_started && !probes_->started(uid, c, *last)) {
          initialized = false;
          break;
        }
        continue;
      }
      // Sidecars restart whatever the pod's restartPolicy says.
      restart(pod, c, *last, m, requeue);
      if (!app_started) {
        initialized = false;
        break;
      }
      continue;
    }
    if (app_started) continue;  // initialization happened before
    if (last == nullptr) {
      start(pod, c, 0, m, requeue);
      initialized = false;
      break;
    }
    if (running(*last)) {
      initialized = false;
      break;
    }
    if (exited(*last) && last->status.exit_code == 0) continue;
    // Failed (or never started): Never fails the pod (the status says so), else retry.
    initialized = false;
    if (policy != "Never") restart(pod, c, *last, m, requeue);
    break;
  }

  if (initialized) {
    for (const auto& c : spec.containers()) {
      const ContainerInfo* last = latest(c.name());
      if (last == nullptr) {
        start(pod, c, 0, m, requeue);
        continue;
      }
      if (running(*last)) {
        if (probes_->liveness_failed(uid, *last)) {
          std::optional<int64_t> tgps;
          if (auto lp = c.liveness_probe()) tgps = lp->termination_grace_period_seconds();
          auto grace = milliseconds(tgps.value_or(spec.termination_grace_period_seconds()) * 1000);
          stop_instance(pod, &c, *last, grace,
                        "Container " + std::string(c.name()) + " failed liveness probe, will be restarted");
          // Decided again on the next sync, with its exit status.
          if (!requeue || *requeue > milliseconds(0)) requeue = milliseconds(0);
        }
        continue;
      }
      if (created_only(*last)) {
        (void)rt_->stop_container(last->id, milliseconds(0));
        restart(pod, c, *last, m, requeue);
        continue;
      }
      const bool failed = last->status.exit_code != 0;
      const bool again = policy == "Always" || (policy == "OnFailure" && failed);
      if (again) restart(pod, c, *last, m, requeue);
    }
  }
  prune(uid, by_name);
  return finish(pod, m, requeue, false);
}

namespace {

// Whether the pod's status in the API already shows instance `id` terminated as
// OOMKilled (state or lastState): its event went out before an agent restart.
bool status_shows_oom(const api::PodView& pod, const std::string& id) {
  const json::object* status = json::get_object(pod.raw(), "status");
  if (status == nullptr) return false;
  const std::string uri = container_id_uri(id);
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const json::array* a = json::get_array(*status, list);
    if (a == nullptr) continue;
    for (const auto& v : *a) {
      if (!v.is_object()) continue;
      for (const char* which : {"state", "lastState"}) {
        const json::object* st = json::get_object(v.as_object(), which);
        const json::object* t = st ? json::get_object(*st, "terminated") : nullptr;
        if (t != nullptr && json::get_string(*t, "containerID") == uri && json::get_string(*t, "reason") == "OOMKilled")
          return true;
      }
    }
  }
  return false;
}

}  // namespace

void PodSyncer::report_oom_kills(const api::PodView& pod, PodMemo& m, const std::vector<ContainerInfo>& list) {
  for (const auto& ci : list) {
    if (!exited(ci) || !ci.oom_killed.value_or(false) || m.oom_reported.count(ci.id) != 0) continue;
    m.oom_reported.insert(ci.id);
    if (status_shows_oom(pod, ci.id)) continue;
    std::string limit;
    for (const auto& cs : {pod.spec().init_containers(), pod.spec().containers()}) {
      for (const auto& c : cs) {
        if (c.name() != ci.name) continue;
        const json::object* limits = json::get_object(c.resources().raw(), "limits");
        if (limits != nullptr) limit = std::string(json::get_string(*limits, "memory"));
      }
    }
    // The node problem detector words this event after the kernel's log line; the agent
    // knows the container instead of the process, from the cgroup's memory.events.
    events_->event(pod.raw(), "Warning", "OOMKilling",
                   "Memory cgroup out of memory: container " + ci.name + " (" + container_id_uri(ci.id) +
                       ") was OOM-killed" + (limit.empty() ? std::string() : ", memory limit " + limit));
  }
  // Pruned instances never come back: forget them.
  std::erase_if(m.oom_reported, [&](const std::string& id) {
    return std::none_of(list.begin(), list.end(), [&](const ContainerInfo& ci) { return ci.id == id; });
  });
}

SyncOutcome PodSyncer::finish(const api::PodView& pod, PodMemo& m, std::optional<milliseconds> requeue,
                              bool terminating) {
  const std::string uid(pod.meta().uid());
  StatusInput in;
  auto list = rt_->list_containers(uid);
  report_oom_kills(pod, m, list);
  SyncOutcome out;
  for (auto& ci : list) {
    if (running(ci)) out.running.push_back(ci);
    rt_->ensure_log_pump(ci.id, log_path(pod, ci.name, ci.attempt));
    in.instances[ci.name].push_back(ci);
  }
  probes_->update(pod, out.running);
  for (auto& [name, cm] : m.containers) {
    if (!cm.waiting) continue;
    in.waiting[name] = *cm.waiting;
  }
  if (m.sandbox_error) {
    for (const auto& c : pod.spec().containers()) {
      if (in.instances.count(std::string(c.name())) == 0 && in.waiting.count(std::string(c.name())) == 0)
        in.waiting[std::string(c.name())] = WaitingReason{"ContainerCreating", ""};
    }
  }
  auto image_id = [&](const api::ContainerView& c) {
    const std::string key(c.name());
    if (auto it = m.image_ids.find(key); it != m.image_ids.end()) return it->second;
    auto info = rt_->image_status(std::string(c.image()));
    std::string id = info ? info->id : std::string();
    if (!id.empty()) m.image_ids[key] = id;
    return id;
  };
  for (const auto& c : pod.spec().init_containers()) in.image_ids[std::string(c.name())] = image_id(c);
  for (const auto& c : pod.spec().containers()) in.image_ids[std::string(c.name())] = image_id(c);
  in.started = [&](const api::ContainerView& c, const ContainerInfo& ci) { return probes_->started(uid, c, ci); };
  in.ready = [&](const api::ContainerView& c, const ContainerInfo& ci) { return probes_->ready(uid, c, ci); };
  SandboxStatus sb = rt_->sandbox_status(uid);
  in.sandbox_ready = sb.ready;
  in.pod_ips = m.pod_ips;
  in.host_ips = options_.host_ips;
  in.start_time = m.start_time;
  in.pod_failure = m.failure;
  in.terminating = terminating;
  in.now = api::format_rfc3339(options_.now());
  out.status = build_pod_status(pod, in);
  out.requeue_after = requeue;
  // A pod that has just become terminal frees its sandbox (and its IP), keeping the
  // containers' records for the status and the logs.
  std::string_view phase = json::get_string(out.status, "phase");
  if ((phase == "Succeeded" || phase == "Failed") && sb.ready) {
    (void)net_->del(uid, std::string(pod.meta().namespace_()), std::string(pod.meta().name()), sb.netns_path);
    (void)rt_->stop_sandbox(uid);
    out.running.clear();
  }
  return out;
}

SyncOutcome PodSyncer::terminate(const json::object& pod_obj, milliseconds grace) {
  api::PodView pod(pod_obj);
  const std::string uid(pod.meta().uid());
  PodMemo& m = memo(uid);
  auto list = rt_->list_containers(uid);
  std::vector<std::future<void>> stops;
  // App containers first, then sidecars (the kubelet stops sidecars last).
  auto container_of = [&](const std::string& name) -> std::optional<api::ContainerView> {
    for (const auto& c : pod.spec().containers())
      if (c.name() == name) return c;
    for (const auto& c : pod.spec().init_containers())
      if (c.name() == name) return c;
    return std::nullopt;
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& ci : list) {
      if (!running(ci) && !created_only(ci)) continue;
      auto c = container_of(ci.name);
      const bool sidecar = c && c->is_sidecar();
      if ((pass == 0) == sidecar) continue;
      stops.push_back(std::async(std::launch::async, [this, &pod, c, ci, grace] {
        stop_instance(pod, c ? &*c : nullptr, ci, grace, "Stopping container " + ci.name);
      }));
    }
    for (auto& f : stops) f.get();
    stops.clear();
  }
  for (auto& [name, cm] : m.containers) cm.waiting.reset();
  return finish(pod, m, std::nullopt, true);
}

Result<void> PodSyncer::remove(const std::string& pod_uid, const std::string& ns, const std::string& name) {
  SandboxStatus sb = rt_->sandbox_status(pod_uid);
  // DEL before the sandbox goes: a failed DEL keeps the netns so the retry can finish it
  // (the address and the host's veth would leak otherwise).
  if (auto r = net_->del(pod_uid, ns, name, sb.netns_path); !r.ok())
    return Error(r.error().code(), "network teardown: " + r.error().message());
  probes_->forget(pod_uid);
  KL_TRY(rt_->remove_pod(pod_uid));
  KL_TRY(env_->teardown_volumes(pod_uid));
  crash_backoff_.forget_prefix(pod_uid + "/");
  pull_backoff_.forget_prefix(pod_uid + "/");
  mount_backoff_.forget_prefix(pod_uid + "/");
  std::lock_guard<std::mutex> lock(mu_);
  memos_.erase(pod_uid);
  return Ok();
}

}  // namespace kernlet::agent
