// HostInfo: what the node agent reads about its machine, behind one small interface so the
// Node's capacity, nodeInfo and pressure conditions are computed (and unit-tested) from
// text a fake returns. LinuxHostInfo reads the real files and calls the real syscalls.
//
// The parsing is pure (free functions below); read_machine_facts / read_host_usage put a
// HostInfo and the parsers together.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::agent {

struct Uname {
  std::string nodename;  // "node-1"
  std::string release;   // "6.18.0-1-amd64"
  std::string machine;   // "x86_64"
};

struct FsStats {
  uint64_t capacity_bytes = 0;   // f_blocks * f_frsize
  uint64_t available_bytes = 0;  // f_bavail * f_frsize (what an unprivileged writer gets)
  uint64_t inodes = 0;
  uint64_t inodes_free = 0;
};

// The machine's side effects. Thread-safety: implementations are safe to call from any
// thread (LinuxHostInfo keeps no state).
class HostInfo {
 public:
  virtual ~HostInfo() = default;
  // The whole text of a small file (/proc/meminfo, /etc/os-release). Errors name the path.
  virtual Result<std::string> read_file(const std::string& path) = 0;
  // uname(2).
  virtual Result<Uname> uname() = 0;
  // statvfs(3) of the filesystem holding `path`. Errors name the path.
  virtual Result<FsStats> statvfs(const std::string& path) = 0;
  // sysconf(_SC_NPROCESSORS_ONLN).
  virtual int64_t online_cpus() = 0;
  // The IPv4 addresses of interface `name` (getifaddrs), in the kernel's order.
  virtual Result<std::vector<std::string>> interface_ipv4(const std::string& name) = 0;
};

class LinuxHostInfo final : public HostInfo {
 public:
  Result<std::string> read_file(const std::string& path) override;
  Result<Uname> uname() override;
  Result<FsStats> statvfs(const std::string& path) override;
  int64_t online_cpus() override;
  Result<std::vector<std::string>> interface_ipv4(const std::string& name) override;
};

// What does not change while the agent runs (read once at start).
struct MachineFacts {
  int64_t cpus = 0;
  int64_t memory_bytes = 0;   // MemTotal
  std::string hostname;       // uname nodename, lower-cased
  std::string kernel_version; // uname release
  std::string architecture;   // Go's GOARCH spelling: "amd64", "arm64"
  std::string os_image;       // os-release PRETTY_NAME, "Linux" when absent
  std::string machine_id;     // /etc/machine-id
  std::string system_uuid;    // /sys/class/dmi/id/product_uuid ("" when unreadable)
  std::string boot_id;        // /proc/sys/kernel/random/boot_id
};

// What the eviction signals are computed from (read at every status check).
struct HostUsage {
  int64_t memory_capacity_bytes = 0;   // MemTotal
  int64_t memory_available_bytes = 0;  // MemAvailable
  int64_t fs_capacity_bytes = 0;       // root_dir's filesystem
  int64_t fs_available_bytes = 0;
  int64_t pid_max = 0;                 // min(kernel.pid_max, kernel.threads-max)
  int64_t pids_in_use = 0;             // tasks, from /proc/loadavg
};

// Reads the machine facts. Errors name the file or call that failed; machine-id, the
// product uuid and os-release are optional (empty / "Linux" when unreadable).
Result<MachineFacts> read_machine_facts(HostInfo& host);
// Reads usage; root_dir names the filesystem of ephemeral storage. Errors name the source.
Result<HostUsage> read_host_usage(HostInfo& host, const std::string& root_dir);

// /proc/meminfo as name -> bytes ("MemTotal" -> 25217536000). Lines without a number are
// skipped; "kB" values are multiplied by 1024. Pure.
std::map<std::string, int64_t, std::less<>> parse_meminfo(std::string_view text);
// The value of KEY in an os-release file (quotes and backslash escapes removed), or
// nullopt. Pure.
std::optional<std::string> os_release_value(std::string_view text, std::string_view key);
// uname's machine in Go's GOARCH spelling (x86_64 -> amd64, aarch64 -> arm64, i686 -> 386,
// armv7l -> arm; others unchanged). Pure.
std::string go_arch(std::string_view machine);
// The interface of the IPv4 default route in /proc/net/route text (lowest metric), or
// nullopt. Pure.
std::optional<std::string> default_route_interface(std::string_view proc_net_route);
// The task count in /proc/loadavg text ("0.10 0.05 0.01 2/345 6789" -> 345). Pure.
std::optional<int64_t> loadavg_tasks(std::string_view text);

}  // namespace kernlet::agent
