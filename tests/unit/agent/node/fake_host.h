// A HostInfo that returns what the test put in it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/node/host_info.h"

namespace kernlet::agent::testing {

class FakeHostInfo final : public HostInfo {
 public:
  FakeHostInfo() {
    files["/proc/meminfo"] =
        "MemTotal:        8388608 kB\nMemFree:         1000000 kB\nMemAvailable:    4194304 kB\nHugePages_Total:       0\n";
    files["/etc/os-release"] = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
    files["/etc/machine-id"] = "0123456789abcdef0123456789abcdef\n";
    files["/proc/sys/kernel/random/boot_id"] = "11111111-2222-3333-4444-555555555555\n";
    files["/proc/sys/kernel/pid_max"] = "4194304\n";
    files["/proc/sys/kernel/threads-max"] = "1000\n";
    files["/proc/loadavg"] = "0.10 0.05 0.01 2/100 6789\n";
    files["/proc/net/route"] =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
    ifaces["eth0"] = {"10.0.0.7"};
    fs.capacity_bytes = 100ull << 30;
    fs.available_bytes = 50ull << 30;
  }

  Result<std::string> read_file(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return Error("open " + path, ENOENT);
    return it->second;
  }
  Result<Uname> uname() override { return Uname{"Node-1", "6.18.0-test", "x86_64"}; }
  Result<FsStats> statvfs(const std::string& path) override {
    statvfs_paths.push_back(path);
    return fs;
  }
  int64_t online_cpus() override { return cpus; }
  Result<std::vector<std::string>> interface_ipv4(const std::string& name) override {
    auto it = ifaces.find(name);
    if (it == ifaces.end()) return Error("no interface " + name);
    return it->second;
  }

  std::map<std::string, std::string> files;
  std::map<std::string, std::vector<std::string>> ifaces;
  FsStats fs;
  int64_t cpus = 4;
  std::vector<std::string> statvfs_paths;
};

}  // namespace kernlet::agent::testing
