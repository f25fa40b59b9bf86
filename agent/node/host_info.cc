#include "agent/node/host_info.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

namespace kernlet::agent {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> to_int(std::string_view s) {
  s = trim(s);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string optional_file(HostInfo& host, const std::string& path) {
  auto r = host.read_file(path);
  return r.ok() ? std::string(trim(*r)) : std::string();
}

Result<int64_t> int_file(HostInfo& host, const std::string& path) {
  KL_ASSIGN_OR_RETURN(std::string text, host.read_file(path));
  auto v = to_int(text);
  if (!v) return Error("read " + path + ": not an integer: \"" + std::string(trim(text)) + "\"");
  return *v;
}

}  // namespace

Result<std::string> LinuxHostInfo::read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno("open " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error::from_errno("read " + path);
  return text;
}

Result<Uname> LinuxHostInfo::uname() {
  struct utsname u {};
  if (::uname(&u) != 0) return Error::from_errno("uname");
  return Uname{u.nodename, u.release, u.machine};
}

Result<FsStats> LinuxHostInfo::statvfs(const std::string& path) {
  struct statvfs s {};
  if (::statvfs(path.c_str(), &s) != 0) return Error::from_errno("statvfs " + path);
  FsStats out;
  out.capacity_bytes = static_cast<uint64_t>(s.f_blocks) * s.f_frsize;
  out.available_bytes = static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
  out.inodes = s.f_files;
  out.inodes_free = s.f_ffree;
  return out;
}

int64_t LinuxHostInfo::online_cpus() { return ::sysconf(_SC_NPROCESSORS_ONLN); }

Result<std::vector<std::string>> LinuxHostInfo::interface_ipv4(const std::string& name) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return Error::from_errno("getifaddrs");
  std::vector<std::string> out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET || name != a->ifa_name) continue;
    char buf[INET_ADDRSTRLEN] = {};
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf) != nullptr) out.emplace_back(buf);
  }
  ::freeifaddrs(list);
  return out;
}

std::map<std::string, int64_t, std::less<>> parse_meminfo(std::string_view text) {
  std::map<std::string, int64_t, std::less<>> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view rest = trim(line.substr(colon + 1));
    int64_t mult = 1;
    if (rest.size() > 3 && rest.substr(rest.size() - 3) == " kB") {
      mult = 1024;
      rest = trim(rest.substr(0, rest.size() - 3));
    }
    auto v = to_int(rest);
    if (!v) continue;
    out[std::string(trim(line.substr(0, colon)))] = *v * mult;
  }
  return out;
}

std::optional<std::string> os_release_value(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos || trim(line.substr(0, eq)) != key) continue;
    std::string_view v = trim(line.substr(eq + 1));
    std::string out;
    // Shell-style: one level of single or double quotes, backslash escapes in double quotes.
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
      char q = v.front();
      v = v.substr(1, v.size() - 2);
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (q == '"' && v[i] == '\\' && i + 1 < v.size()) ++i;
        out.push_back(v[i]);
      }
    } else {
      out = std::string(v);
    }
    return out;
  }
  return std::nullopt;
}

std::string go_arch(std::string_view machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64" || machine == "arm64") return "arm64";
  if (machine == "i386" || machine == "i486" || machine == "i586" || machine == "i686") return "386";
  if (machine.rfind("armv", 0) == 0) return "arm";
  return std::string(machine);
}

std::optional<std::string> default_route_interface(std::string_view route) {
  // Columns: Iface Destination Gateway Flags RefCnt Use Metric Mask ...; hex, host order.
  std::optional<std::string> best;
  int64_t best_metric = 0;
  bool header = true;
  std::istringstream in{std::string(route)};
  std::string line;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    std::istringstream cols(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(cols >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    if (dest != "00000000" || mask != "00000000") continue;
    auto m = to_int(metric);
    if (!m) continue;
    if (!best || *m < best_metric) {
      best = iface;
      best_metric = *m;
    }
  }
  return best;
}

std::optional<int64_t> loadavg_tasks(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(slash + 1);
  auto sp = rest.find(' ');
  return to_int(rest.substr(0, sp));
}

Result<MachineFacts> read_machine_facts(HostInfo& host) {
  MachineFacts f;
  f.cpus = host.online_cpus();
  if (f.cpus <= 0) return Error("sysconf(_SC_NPROCESSORS_ONLN): no online CPUs reported");
  KL_ASSIGN_OR_RETURN(std::string meminfo, host.read_file("/proc/meminfo"));
  auto mem = parse_meminfo(meminfo);
  auto total = mem.find("MemTotal");
  if (total == mem.end()) return Error("read /proc/meminfo: no MemTotal line");
  f.memory_bytes = total->second;
  KL_ASSIGN_OR_RETURN(Uname u, host.uname());
  f.hostname = u.nodename;
  std::transform(f.hostname.begin(), f.hostname.end(), f.hostname.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  f.kernel_version = u.release;
  f.architecture = go_arch(u.machine);
  // The kubelet (cadvisor) takes PRETTY_NAME and says "Linux" without one.
  std::string os_release = optional_file(host, "/etc/os-release");
  if (os_release.empty()) os_release = optional_file(host, "/usr/lib/os-release");
  f.os_image = os_release_value(os_release, "PRETTY_NAME").value_or("Linux");
  f.machine_id = optional_file(host, "/etc/machine-id");
  if (f.machine_id.empty()) f.machine_id = optional_file(host, "/var/lib/dbus/machine-id");
  f.system_uuid = optional_file(host, "/sys/class/dmi/id/product_uuid");
  KL_ASSIGN_OR_RETURN(std::string boot_id, host.read_file("/proc/sys/kernel/random/boot_id"));
  f.boot_id = std::string(trim(boot_id));
  return f;
}

Result<HostUsage> read_host_usage(HostInfo& host, const std::string& root_dir) {
  HostUsage u;
  KL_ASSIGN_OR_RETURN(std::string meminfo, host.read_file("/proc/meminfo"));
  auto mem = parse_meminfo(meminfo);
  auto total = mem.find("MemTotal");
  auto avail = mem.find("MemAvailable");
  if (total == mem.end() || avail == mem.end()) return Error("read /proc/meminfo: no MemTotal or MemAvailable line");
  u.memory_capacity_bytes = total->second;
  u.memory_available_bytes = avail->second;
  KL_ASSIGN_OR_RETURN(FsStats fs, host.statvfs(root_dir));
  u.fs_capacity_bytes = static_cast<int64_t>(fs.capacity_bytes);
  u.fs_available_bytes = static_cast<int64_t>(fs.available_bytes);
  KL_ASSIGN_OR_RETURN(u.pid_max, int_file(host, "/proc/sys/kernel/pid_max"));
  // As the kubelet: the smaller of pid_max and threads-max bounds how many tasks can exist.
  auto threads_max = int_file(host, "/proc/sys/kernel/threads-max");
  if (threads_max.ok() && *threads_max > 0 && *threads_max < u.pid_max) u.pid_max = *threads_max;
  KL_ASSIGN_OR_RETURN(std::string loadavg, host.read_file("/proc/loadavg"));
  auto tasks = loadavg_tasks(loadavg);
  if (!tasks) return Error("read /proc/loadavg: no task count in \"" + std::string(trim(loadavg)) + "\"");
  u.pids_in_use = *tasks;
  return u;
}

}  // namespace kernlet::agent
