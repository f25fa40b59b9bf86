// PluginRegistry: inotify over the registration directory + the pluginregistration
// handshake (see plugin_registry.h).
#include "csi/client/plugin_registry.h"

#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <cstring>
#include <utility>

#include "csi/client/csi_client.h"
#include "csi/client/rpc_error.h"
#include "csi/proto/pluginregistration.grpc.pb.h"

namespace kernlet::csi {
namespace {

namespace reg = ::pluginregistration;

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// Whether `v` is a CSI 1.x version as drivers list them: "1.0.0", "v1.5.0", "1".
bool is_v1(std::string_view v) {
  if (v.starts_with("v")) v.remove_prefix(1);
  return v == "1" || v.starts_with("1.");
}

}  // namespace

Result<RegisteredDriver> validate_plugin_info(std::string_view type, std::string_view name,
                                              std::string_view endpoint, const std::vector<std::string>& versions,
                                              const std::string& socket) {
  const std::string where = "plugin at " + socket;
  if (type != "CSIPlugin")
    return Error(ErrorCode::kInvalidArgument,
                 where + ": plugin type \"" + std::string(type) + "\" is not supported (want CSIPlugin)");
  if (name.empty() || name.size() > 63)
    return Error(ErrorCode::kInvalidArgument, where + ": driver name must be 1-63 characters");
  bool v1 = false;
  for (const auto& v : versions) v1 = v1 || is_v1(v);
  if (!v1) {
    std::string listed;
    for (const auto& v : versions) listed += (listed.empty() ? "" : ", ") + v;
    return Error(ErrorCode::kInvalidArgument,
                 where + ": driver " + std::string(name) + " supports no CSI 1.x version (lists: " + listed + ")");
  }
  std::string ep = endpoint.empty() ? socket : std::string(endpoint);
  auto path = endpoint_socket_path(ep);
  if (!path.ok()) return std::move(path).error().context(where);
  return RegisteredDriver{std::string(name), "unix://" + *path, versions, socket};
}

PluginRegistry::PluginRegistry(std::string dir, Callback callback, Options options)
    : dir_(std::move(dir)), callback_(std::move(callback)), options_(options) {}

PluginRegistry::~PluginRegistry() { stop(); }

Result<void> PluginRegistry::start() {
  if (thread_.joinable()) return Ok();
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST)
    return Error::from_errno("create plugin registration directory " + dir_);
  inotify_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify_) return Error::from_errno("inotify_init1 for " + dir_);
  // IN_MOVED_TO: a driver that binds under a temporary name and renames into place.
  if (::inotify_add_watch(inotify_.get(), dir_.c_str(),
                          IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF) < 0)
    return Error::from_errno("inotify_add_watch " + dir_);
  stop_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event_) return Error::from_errno("eventfd for plugin registry " + dir_);

  // The watch is in place before the scan, so a socket created in between is seen twice at
  // worst (registering is idempotent), never missed.
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return Error::from_errno("open plugin registration directory " + dir_);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    pending_.insert(dir_ + "/" + e->d_name);
  }
  ::closedir(d);
  thread_ = std::thread([this] { run(); });
  return Ok();
}

void PluginRegistry::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  if (::write(stop_event_.get(), &one, sizeof one) < 0) {
    // eventfd writes only fail on counter overflow; the thread still exits on the next tick.
  }
  thread_.join();
}

void PluginRegistry::run() {
  retry_pending();
  for (;;) {
    pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    int timeout = pending_.empty() ? -1 : static_cast<int>(options_.retry_interval.count());
    int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) return;
    if (fds[1].revents & POLLIN) return;
    if (fds[0].revents & POLLIN) handle_events();
    retry_pending();
  }
}

void PluginRegistry::handle_events() {
  alignas(inotify_event) char buf[16 * 1024];
  for (;;) {
    ssize_t len = ::read(inotify_.get(), buf, sizeof buf);
    if (len <= 0) return;
    for (ssize_t off = 0; off < len;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        // Events were dropped: look at every socket again (registering is idempotent) and
        // drop drivers whose socket is gone.
        rescan();
        continue;
      }
      if (ev->len == 0 || ev->name[0] == '.') continue;
      std::string path = dir_ + "/" + ev->name;
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
        pending_.insert(path);
      } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        pending_.erase(path);
        unregister_socket(path);
      }
    }
  }
}

void PluginRegistry::rescan() {
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') pending_.insert(dir_ + "/" + e->d_name);
    ::closedir(d);
  }
  for (const auto& driver : drivers())
    if (!is_socket(driver.registration_socket)) unregister_socket(driver.registration_socket);
}

void PluginRegistry::retry_pending() {
  std::set<std::string> todo;
  todo.swap(pending_);
  for (const auto& socket : todo) try_register(socket);
}

void PluginRegistry::try_register(const std::string& socket) {
  if (!is_socket(socket)) return;  // a stray file, or gone already
  auto channel = grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials());
  auto stub = reg::Registration::NewStub(channel);
  reg::PluginInfo info;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
    grpc::Status st = stub->GetInfo(&ctx, reg::InfoRequest(), &info);
    if (!st.ok()) {
      // Not listening yet, or restarting: try again while the socket exists.
      pending_.insert(socket);
      return;
    }
  }
  std::vector<std::string> versions(info.supported_versions().begin(), info.supported_versions().end());
  auto driver = validate_plugin_info(info.type(), info.name(), info.endpoint(), versions, socket);

  reg::RegistrationStatus status;
  status.set_plugin_registered(driver.ok());
  if (!driver.ok()) status.set_error(driver.error().to_string());
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
    reg::RegistrationStatusResponse resp;
    // The driver learning the outcome is a courtesy: its failing does not undo the outcome.
    (void)stub->NotifyRegistrationStatus(&ctx, status, &resp);
  }
  if (!driver.ok()) return;

  bool changed = false;
  {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(driver->name);
    if (it == by_name_.end() || it->second.endpoint != driver->endpoint ||
        it->second.registration_socket != driver->registration_socket || it->second.versions != driver->versions) {
      by_name_[driver->name] = *driver;
      changed = true;
    }
  }
  // The callback first: whoever wait_for()s the driver then also sees what it did.
  if (changed && callback_) callback_(*driver, true);
  changed_.notify_all();
}

void PluginRegistry::unregister_socket(const std::string& socket) {
  std::vector<RegisteredDriver> gone;
  {
    std::lock_guard lock(mu_);
    for (auto it = by_name_.begin(); it != by_name_.end();) {
      if (it->second.registration_socket == socket) {
        gone.push_back(it->second);
        it = by_name_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (callback_)
    for (const auto& d : gone) callback_(d, false);
  changed_.notify_all();
}

std::optional<RegisteredDriver> PluginRegistry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::vector<RegisteredDriver> PluginRegistry::drivers() const {
  std::lock_guard lock(mu_);
  std::vector<RegisteredDriver> out;
  for (const auto& [_, d] : by_name_) out.push_back(d);
  return out;
}

bool PluginRegistry::wait_for(std::string_view name, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return by_name_.count(std::string(name)) > 0; });
}

bool PluginRegistry::wait_gone(std::string_view name, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return by_name_.count(std::string(name)) == 0; });
}

}  // namespace kernlet::csi
