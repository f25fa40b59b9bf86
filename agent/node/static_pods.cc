#include "agent/node/static_pods.h"

#include <openssl/evp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>

#include "api/object.h"
#include "api/validation.h"
#include "api/yaml.h"

namespace kernlet::agent {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds kRescanInterval{20};
constexpr std::uintmax_t kMaxManifestBytes = 10 << 20;  // far above any real pod manifest

void log_line(char level, const std::string& msg) { std::fprintf(stderr, "%c static-pods: %s\n", level, msg.c_str()); }

Error invalid(std::string_view file, std::string msg) {
  return Error(ErrorCode::kInvalidArgument, "static pod manifest " + std::string(file) + ": " + msg);
}

std::string md5_hex(std::string_view a, std::string_view b) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  EVP_DigestUpdate(ctx, a.data(), a.size());
  EVP_DigestUpdate(ctx, b.data(), b.size());
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// Go's time.RFC3339Nano in UTC: fraction with trailing zeros removed.
std::string rfc3339_nano(api::TimePoint t) {
  std::string s = api::format_rfc3339(t);  // "...:SSZ"
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count() % 1'000'000'000;
  if (nanos < 0) nanos += 1'000'000'000;
  if (nanos == 0) return s;
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nanos));
  std::string f = frac;
  while (f.back() == '0') f.pop_back();
  s.insert(s.size() - 1, f);
  return s;
}

std::string full_name(const json::object& pod) {
  api::Meta m(pod);
  return std::string(m.namespace_()) + "/" + std::string(m.name());
}

Result<std::string> read_manifest(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return Error("stat " + path.string() + ": " + ec.message());
  if (size > kMaxManifestBytes) return Error("read " + path.string() + ": larger than 10 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno("open " + path.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string static_pod_uid(const json::value& manifest, std::string_view node_name) {
  return md5_hex(json::dump(manifest), "host:" + std::string(node_name));
}

Result<json::object> static_pod_from_manifest(const json::value& manifest, std::string_view file,
                                              std::string_view node_name, api::TimePoint seen) {
  if (!manifest.is_object()) return invalid(file, "not a JSON/YAML object");
  json::object pod = manifest.get_object();
  if (auto shape = api::check_object_shape(manifest); !shape.ok()) return invalid(file, shape.error().message());
  std::string_view kind = api::kind(pod), version = api::api_version(pod);
  if (kind != "Pod" || version != "v1") {
    return invalid(file, "expected apiVersion v1, kind Pod, got apiVersion \"" + std::string(version) + "\", kind \"" +
                             std::string(kind) + "\"");
  }
  api::MutableMeta meta(pod);
  if (meta.name().empty()) return invalid(file, "metadata.name: Required value");
  const json::object* spec = json::get_object(pod, "spec");
  const json::array* containers = spec ? json::get_array(*spec, "containers") : nullptr;
  if (containers == nullptr || containers->empty()) return invalid(file, "spec.containers: Required value");

  std::string node_lower(node_name);
  std::transform(node_lower.begin(), node_lower.end(), node_lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string name = std::string(meta.name()) + "-" + node_lower;
  if (auto errs = api::is_dns1123_subdomain(name); !errs.empty()) {
    return invalid(file, "pod name " + api::go_quote(name) + " (metadata.name + \"-\" + node name): " + errs.front());
  }
  std::string uid(meta.uid());
  if (uid.empty()) uid = static_pod_uid(manifest, node_name);
  meta.set_uid(uid);
  meta.set_name(name);
  if (meta.namespace_().empty()) meta.set_namespace("default");
  meta.set_annotation(kConfigSourceAnnotation, "file");
  meta.set_annotation(kConfigHashAnnotation, uid);
  meta.set_annotation(kConfigSeenAnnotation, rfc3339_nano(seen));

  json::object& s = json::ensure_object(pod, "spec");
  s["nodeName"] = node_name;
  // So node problems (NoExecute taints) never evict a static pod, as the kubelet adds.
  json::array& tolerations = json::ensure_array(s, "tolerations");
  bool has = std::any_of(tolerations.begin(), tolerations.end(), [](const json::value& t) {
    return t.is_object() && json::get_string(t.get_object(), "key").empty() &&
           json::get_string(t.get_object(), "operator") == "Exists" &&
           json::get_string(t.get_object(), "effect") == "NoExecute" && json::get_string(t.get_object(), "value").empty();
  });
  if (!has) tolerations.push_back(json::object{{"operator", "Exists"}, {"effect", "NoExecute"}});
  json::ensure_object(pod, "status")["phase"] = "Pending";
  return pod;
}

// ---- StaticPodSource --------------------------------------------------------------------

StaticPodSource::StaticPodSource(std::string dir, std::string node_name, std::shared_ptr<WallClock> clock)
    : dir_(std::move(dir)), node_name_(std::move(node_name)), clock_(std::move(clock)) {
  if (!clock_) clock_ = SystemWallClock::shared();
}

StaticPodSource::~StaticPodSource() { stop(); }

void StaticPodSource::on_change(ChangeCallback cb) {
  std::lock_guard lock(mu_);
  cb_ = std::move(cb);
}

std::vector<json::object> StaticPodSource::pods() const {
  std::lock_guard lock(mu_);
  return pods_;
}

std::vector<std::string> StaticPodSource::errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}

bool StaticPodSource::rescan() {
  std::lock_guard scan_lock(scan_mu_);
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    std::string ext = p.extension().string();
    if (name.empty() || name.front() == '.') continue;
    if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    files.push_back(p);
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    log_line('W', "read static pod directory " + dir_ + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());

  api::TimePoint now = clock_->now();
  std::map<std::string, json::object> by_name;
  std::vector<std::string> errors;
  std::map<std::string, api::TimePoint> seen;
  for (const auto& path : files) {
    std::string file = path.string();
    auto text = read_manifest(path);
    if (!text.ok()) {
      errors.push_back(file + ": " + text.error().to_string());
      continue;
    }
    Result<json::value> doc = path.extension() == ".json" ? json::parse(*text) : yaml::to_json(*text);
    if (!doc.ok()) {
      errors.push_back(file + ": " + doc.error().to_string());
      continue;
    }
    auto pod = static_pod_from_manifest(*doc, file, node_name_, now);
    if (!pod.ok()) {
      errors.push_back(file + ": " + pod.error().message());
      continue;
    }
    std::string uid(api::Meta(*pod).uid());
    auto first = first_seen_.find(uid);
    api::TimePoint at = first != first_seen_.end() ? first->second : now;
    seen[uid] = at;
    if (first != first_seen_.end()) {
      api::MutableMeta(*pod).set_annotation(kConfigSeenAnnotation, rfc3339_nano(at));
    }
    std::string key = full_name(*pod);
    if (by_name.count(key) != 0) {
      errors.push_back(file + ": pod " + key + " is already defined by an earlier manifest; skipped");
      continue;
    }
    by_name.emplace(key, std::move(*pod));
  }
  first_seen_ = std::move(seen);
  std::vector<json::object> pods;
  for (auto& [k, p] : by_name) pods.push_back(std::move(p));

  ChangeCallback cb;
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    if (errors != errors_) {
      for (const auto& e : errors) {
        if (std::find(errors_.begin(), errors_.end(), e) == errors_.end()) log_line('W', "skipped " + e);
      }
    }
    errors_ = std::move(errors);
    if (pods != pods_) {
      pods_ = pods;
      changed = true;
      cb = cb_;
    }
  }
  if (changed && cb) cb(pods);
  return changed;
}

bool StaticPodSource::ensure_watch() {
  if (watching_) return true;
  if (!inotify_) inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) return false;
  uint32_t mask = IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
                  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
  watching_ = ::inotify_add_watch(inotify_.get(), dir_.c_str(), mask) >= 0;
  return watching_;
}

void StaticPodSource::start() {
  {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
  }
  // A fresh eventfd: the one an earlier stop() signalled would wake this run at once.
  stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  // Watch before the first scan, so a file written in between is not missed.
  ensure_watch();
  rescan();
  std::lock_guard lock(mu_);
  thread_ = std::thread([this] { run(); });
}

void StaticPodSource::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  if (stop_fd_) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_fd_.get(), &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
}

void StaticPodSource::run() {
  for (;;) {
    pollfd fds[2] = {{stop_fd_.get(), POLLIN, 0}, {watching_ ? inotify_.get() : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(std::chrono::milliseconds(kRescanInterval).count()));
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (n > 0 && (fds[1].revents & POLLIN) != 0) {
      alignas(inotify_event) char buf[4096];
      for (;;) {
        ssize_t got = ::read(inotify_.get(), buf, sizeof buf);
        if (got <= 0) break;
        for (char* p = buf; p < buf + got;) {
          auto* ev = reinterpret_cast<inotify_event*>(p);
          // The directory itself went away: watch for it to come back.
          if ((ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0) watching_ = false;
          p += sizeof(inotify_event) + ev->len;
        }
      }
      if (!watching_) inotify_.reset();
    }
    ensure_watch();
    rescan();
  }
}

// ---- MirrorPodManager ---------------------------------------------------------------------

bool is_mirror_pod(const json::object& pod) { return api::Meta(pod).annotation(kConfigMirrorAnnotation).has_value(); }

json::object mirror_pod_for(const json::object& static_pod, std::string_view node_name, std::string_view node_uid) {
  json::object pod = static_pod;
  api::MutableMeta meta(pod);
  json::object& md = meta.raw();
  for (std::string_view k : {"uid", "resourceVersion", "creationTimestamp", "selfLink", "generation", "managedFields"}) {
    md.erase(k);
  }
  meta.set_annotation(kConfigMirrorAnnotation, meta.annotation(kConfigHashAnnotation).value_or(""));
  meta.set_owner_references({api::OwnerReference{"v1", "Node", std::string(node_name), std::string(node_uid), true, false}});
  pod.erase("status");
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  return pod;
}

MirrorPodManager::MirrorPodManager(std::shared_ptr<client::RestClient> client, std::string node_name)
    : client_(std::move(client)), node_name_(std::move(node_name)) {
  if (!client_) throw std::invalid_argument("MirrorPodManager: null client");
  if (node_name_.empty()) throw std::invalid_argument("MirrorPodManager: empty node name");
}

MirrorPodManager::Counters MirrorPodManager::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

Result<void> MirrorPodManager::sync(const std::vector<json::object>& static_pods) {
  std::lock_guard sync_lock(sync_mu_);
  const client::ResourceRef pods_ref("", "v1", "pods");
  // Read every pass: a Node registered again has a new uid, and an owner reference to the
  // old one would let the garbage collector delete the mirror pod.
  auto node = client_->get(client::ResourceRef("", "v1", "nodes", "", node_name_));
  if (!node.ok()) return std::move(node).error().context("mirror pods wait for node " + node_name_);
  node_uid_ = std::string(api::Meta(*node).uid());
  client::ListOptions opts;
  opts.field_selector = "spec.nodeName=" + node_name_;
  auto listed = client_->list(pods_ref, opts);
  if (!listed.ok()) return std::move(listed).error().context("list mirror pods of node " + node_name_);
  std::map<std::string, const json::object*> mirrors;
  for (const auto& p : listed->items) {
    if (is_mirror_pod(p)) mirrors[full_name(p)] = &p;
  }

  std::optional<Error> first;
  auto fail = [&](Error e) {
    log_line('W', e.to_string());
    if (!first) first = std::move(e);
  };
  auto remove = [&](const json::object& mirror) -> bool {
    api::Meta m(mirror);
    client::DeleteOptions del;
    del.grace_period_seconds = 0;
    del.precondition_uid = std::string(m.uid());
    auto r = client_->remove(pods_ref.in(std::string(m.namespace_())).named(std::string(m.name())), del);
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound && r.error().code() != ErrorCode::kConflict) {
      fail(std::move(r).error().context("delete mirror pod " + full_name(mirror)));
      return false;
    }
    std::lock_guard lock(mu_);
    ++counters_.deleted;
    return true;
  };

  std::set<std::string> wanted;
  for (const auto& sp : static_pods) {
    std::string key = full_name(sp);
    wanted.insert(key);
    std::string hash(api::Meta(sp).annotation(kConfigHashAnnotation).value_or(""));
    auto it = mirrors.find(key);
    if (it != mirrors.end()) {
      api::Meta m(*it->second);
      if (m.annotation(kConfigMirrorAnnotation) == std::optional<std::string_view>(hash) && !m.being_deleted()) continue;
      // A stale mirror (the manifest changed) or one on its way out: replace it.
      if (!remove(*it->second)) continue;
    }
    auto created = client_->create(pods_ref.in(std::string(api::Meta(sp).namespace_())),
                                   mirror_pod_for(sp, node_name_, node_uid_));
    if (!created.ok()) {
      fail(std::move(created).error().context("create mirror pod " + key));
      continue;
    }
    std::lock_guard lock(mu_);
    ++counters_.created;
  }
  for (const auto& [key, mirror] : mirrors) {
    if (wanted.count(key) == 0) remove(*mirror);
  }
  if (first) return std::move(*first);
  return Ok();
}

}  // namespace kernlet::agent
