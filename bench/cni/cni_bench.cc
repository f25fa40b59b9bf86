// kernlet-bench-cni: CNI ADD and DEL latency of kernlet-cni against Debian's reference
// bridge + host-local plugins (/usr/lib/cni) with an equivalent config, side by side in one
// run. Everything happens in network namespaces this benchmark creates (one "node", N pods)
// and removes at the end; nothing has a route off the machine. Needs root. JSON on stdout.
//
//   kernlet-bench-cni [--pods N] [--rounds R] [--plugin PATH] [--reference-dir DIR]
//
// Each round runs, per plugin, ADD for every pod then DEL for every pod; the plugins take
// turns per round so machine load hits both alike. A latency is fork+exec to exit, as a
// runtime sees it.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "api/json.h"

namespace {

namespace fs = std::filesystem;

struct Plugin {
  std::string label;
  std::string binary;
  std::string config;
  std::string cni_path;
};

int run_shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// fork + exec of one CNI command with the config on stdin; milliseconds, or -1 on failure.
double run_cni(const Plugin& p, const std::string& command, const std::string& id,
               const std::string& netns, std::string* out) {
  int in[2], o[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(o, O_CLOEXEC) != 0) return -1;
  std::vector<std::string> kv{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id,
                              "CNI_NETNS=" + netns,     "CNI_IFNAME=eth0",
                              "CNI_PATH=" + p.cni_path, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  std::vector<char*> envp;
  for (auto& s : kv) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bin = p.binary;
  char* argv[] = {bin.data(), nullptr};
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(o[1], 1);
    ::execve(bin.c_str(), argv, envp.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(o[1]);
  (void)!::write(in[1], p.config.data(), p.config.size());
  ::close(in[1]);
  char buf[4096];
  ssize_t n;
  out->clear();
  while ((n = ::read(o[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<std::size_t>(n));
  ::close(o[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
}

kernlet::json::object summary(std::vector<double> v) {
  kernlet::json::object o;
  std::sort(v.begin(), v.end());
  auto pct = [&](double q) {
    if (v.empty()) return 0.0;
    std::size_t i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  double sum = 0;
  for (double x : v) sum += x;
  auto r3 = [](double x) { return static_cast<double>(static_cast<long long>(x * 1000 + 0.5)) / 1000; };
  o["n"] = v.size();
  o["p50_ms"] = r3(pct(0.50));
  o["p99_ms"] = r3(pct(0.99));
  o["mean_ms"] = r3(v.empty() ? 0 : sum / static_cast<double>(v.size()));
  o["max_ms"] = r3(v.empty() ? 0 : v.back());
  return o;
}

// Everything created, removed on every exit path.
struct Namespaces {
  std::vector<std::string> names;
  std::vector<std::string> dirs;
  ~Namespaces() {
    for (const auto& n : names) run_shell("ip netns del " + n);
    std::error_code ec;
    for (const auto& d : dirs) fs::remove_all(d, ec);
  }
};

}  // namespace

int main(int argc, char** argv) {
  int pods = 200, rounds = 2;
  // kernlet-cni next to this binary (build/bin) unless --plugin says otherwise.
  std::error_code ec;
  std::string plugin = (fs::read_symlink("/proc/self/exe", ec).parent_path() / "kernlet-cni").string();
  std::string reference_dir = "/usr/lib/cni";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (a == "--plugin") plugin = argv[i + 1];
    else if (a == "--reference-dir") reference_dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "kernlet-bench-cni: needs root (creates network namespaces)\n");
    return 77;
  }
  if (pods < 1 || pods > 250) {
    std::fprintf(stderr, "kernlet-bench-cni: --pods must be 1-250 (one /24 per plugin)\n");
    return 2;
  }
  for (const auto& b : {plugin, reference_dir + "/bridge", reference_dir + "/host-local"}) {
    if (!fs::exists(b)) {
      std::fprintf(stderr, "kernlet-bench-cni: %s missing\n", b.c_str());
      return 2;
    }
  }

  Namespaces ns;
  std::string prefix = "klbench" + std::to_string(::getpid());
  std::string node = prefix + "node";
  if (run_shell("ip netns add " + node) != 0) {
    std::fprintf(stderr, "kernlet-bench-cni: ip netns add %s failed\n", node.c_str());
    return 1;
  }
  ns.names.push_back(node);
  for (int i = 0; i < pods; ++i) {
    std::string n = prefix + "p" + std::to_string(i);
    if (run_shell("ip netns add " + n) != 0) {
      std::fprintf(stderr, "kernlet-bench-cni: ip netns add %s failed\n", n.c_str());
      return 1;
    }
    ns.names.push_back(n);
  }
  char tmpl[] = "/tmp/kernlet-bench-cni-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  std::string dir = tmpl;
  ns.dirs.push_back(dir);

  // The whole benchmark (and the plugins it forks) lives in the node netns from here.
  int nodefd = ::open(("/run/netns/" + node).c_str(), O_RDONLY | O_CLOEXEC);
  if (nodefd < 0 || ::setns(nodefd, CLONE_NEWNET) != 0) {
    std::perror("setns node");
    return 1;
  }
  ::close(nodefd);

  std::vector<Plugin> plugins{
      {"kernlet-cni", plugin,
       R"({"cniVersion":"1.0.0","name":"kernlet","type":"kernlet-cni","bridge":"kl0","mtu":1500,)"
       R"("hairpinMode":true,"subnet":"10.251.1.0/24","dataDir":")" + dir + R"(/kernlet",)"
       R"("ipMasq":true,"clusterCIDR":"10.251.0.0/16"})",
       fs::path(plugin).parent_path().string()},
      {"bridge+host-local", reference_dir + "/bridge",
       R"({"cniVersion":"1.0.0","name":"reference","type":"bridge","bridge":"klref0","mtu":1500,)"
       R"("isGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local",)"
       R"("subnet":"10.251.2.0/24","routes":[{"dst":"0.0.0.0/0"}],"dataDir":")" + dir +
           R"(/host-local"}})",
       reference_dir},
  };

  std::map<std::string, std::vector<double>> add, del;
  std::string out;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& p : plugins) {
      for (int i = 0; i < pods; ++i) {
        std::string id = "bench" + std::to_string(i);
        double ms = run_cni(p, "ADD", id, "/run/netns/" + prefix + "p" + std::to_string(i), &out);
        if (ms < 0) {
          std::fprintf(stderr, "kernlet-bench-cni: %s ADD %s failed: %s\n", p.label.c_str(),
                       id.c_str(), out.c_str());
          return 1;
        }
        add[p.label].push_back(ms);
      }
      for (int i = 0; i < pods; ++i) {
        std::string id = "bench" + std::to_string(i);
        double ms = run_cni(p, "DEL", id, "/run/netns/" + prefix + "p" + std::to_string(i), &out);
        if (ms < 0) {
          std::fprintf(stderr, "kernlet-bench-cni: %s DEL %s failed: %s\n", p.label.c_str(),
                       id.c_str(), out.c_str());
          return 1;
        }
        del[p.label].push_back(ms);
      }
    }
  }

  kernlet::json::object doc;
  doc["benchmark"] = "cni add/del latency";
  doc["pods"] = pods;
  doc["rounds"] = rounds;
  for (const auto& p : plugins) {
    kernlet::json::object o;
    o["add"] = summary(add[p.label]);
    o["del"] = summary(del[p.label]);
    doc[p.label] = std::move(o);
  }
  long nproc = ::sysconf(_SC_NPROCESSORS_ONLN);
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) == 3) doc["loadavg_1m"] = load[0];
  doc["cpus"] = nproc;
  std::printf("%s\n", kernlet::json::dump(doc).c_str());
  return 0;
}
