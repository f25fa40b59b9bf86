// PluginRegistry: finds the CSI drivers on this node the way the kubelet's plugin watcher
// does, so drivers deployed with the usual node-driver-registrar sidecar work unchanged.
// Each driver puts a unix socket into the registration directory
// (<root>/plugins_registry/); the registry notices it with inotify (and by a scan at start),
// calls pluginregistration.Registration/GetInfo on it, accepts a "CSIPlugin" with a name and
// a CSI v1.x version, answers NotifyRegistrationStatus (true, or false and the reason), and
// forgets the driver when its registration socket goes away. A socket that does not answer
// yet (created before its server listens) is retried every `retry_interval` while it
// exists. An empty `endpoint` in PluginInfo means the registration socket itself.
//
// Why the kubelet's protocol and not a simpler one (say, driver sockets named <name>.sock):
// the handshake tells the driver it was accepted or why not, and the whole ecosystem of
// existing drivers already speaks it.
//
// Thread-safety: all public methods may be called from any thread; the callback runs on the
// registry's own thread, never under its lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::csi {

struct RegisteredDriver {
  std::string name;                       // the CSI driver name, e.g. local.csi.kernlet.io
  std::string endpoint;                   // its CSI socket, unix:///...
  std::vector<std::string> versions;      // as the driver listed them
  std::string registration_socket;        // the socket in the registration directory
};

// What GetInfo returned, checked: the driver, or an error saying what is wrong with it.
// Pure: unit-tested. `socket` is the registration socket the info came from.
Result<RegisteredDriver> validate_plugin_info(std::string_view type, std::string_view name,
                                              std::string_view endpoint,
                                              const std::vector<std::string>& versions,
                                              const std::string& socket);

class PluginRegistry {
 public:
  // Called with added=true when a driver registers (or re-registers with other details) and
  // added=false when it goes away.
  using Callback = std::function<void(const RegisteredDriver&, bool added)>;

  struct Options {
    std::chrono::milliseconds call_timeout{std::chrono::seconds(5)};
    std::chrono::milliseconds retry_interval{std::chrono::milliseconds(500)};
  };

  PluginRegistry(std::string dir, Callback callback, Options options);
  PluginRegistry(std::string dir, Callback callback) : PluginRegistry(std::move(dir), std::move(callback), Options{}) {}
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Creates the directory (0750) if missing, starts watching it and registers the sockets
  // already there. Errors name the directory.
  Result<void> start();
  // Stops the watcher thread; registered drivers stay listed. Idempotent.
  void stop();

  std::optional<RegisteredDriver> find(std::string_view name) const;
  std::vector<RegisteredDriver> drivers() const;
  // Blocks until `name` is registered (true) or `timeout` passes (false).
  bool wait_for(std::string_view name, std::chrono::milliseconds timeout) const;
  // Blocks until `name` is not registered (true) or `timeout` passes (false).
  bool wait_gone(std::string_view name, std::chrono::milliseconds timeout) const;

 private:
  void run();
  void handle_events();
  void try_register(const std::string& socket);
  void unregister_socket(const std::string& socket);
  void retry_pending();
  void rescan();

  const std::string dir_;
  const Callback callback_;
  const Options options_;
  UniqueFd inotify_;
  UniqueFd stop_event_;
  std::thread thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, RegisteredDriver> by_name_;  // guarded by mu_
  std::set<std::string> pending_;                    // sockets to retry; registry thread only
};

}  // namespace kernlet::csi
