// kernlet-cni run as a runtime runs it: exec'd with the CNI_* environment and the config on
// stdin, inside a "node" netns this test creates, for pods in netns this test creates. All
// traffic stays inside those namespaces: the only route out of a pod leads to the node netns
// and from there to an "outside" netns of this test. Root only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "api/json.h"
#include "cni/client/cni_driver.h"
#include "cni/client/config.h"
#include "cni/client/plugin_exec.h"
#include "cni/client/result.h"
#include "cni/plugin/ipam_store.h"
#include "cni/plugin/netconf.h"

namespace kernlet::cni {
namespace {

namespace fs = std::filesystem;

std::string plugin_binary() {
  const char* bin = std::getenv("KERNLET_BIN");
  return std::string(bin != nullptr ? bin : "build/bin") + "/kernlet-cni";
}

// Runs a shell command of the harness (ip netns add/del/exec); its stdout.
std::string sh(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  int rc = ::pclose(p);
  if (status != nullptr) *status = rc;
  return out;
}

struct CniRun {
  int exit_code = -1;
  int signal = 0;
  std::string out;
};

// Forks, enters the netns at `netns` and runs `fn`; its exit status (-1 when it hangs past
// the deadline and is killed).
int in_netns(const std::string& netns, const std::function<int()>& fn, int timeout_s = 10) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(120);
    ::_exit(fn());
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    ::usleep(2000);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint16_t icmp_checksum(const void* data, std::size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (len & 1) sum += uint32_t(p[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

// One ICMP echo to `dst`, answered within 3 s. Runs inside the caller's netns.
int ping_once(const std::string& dst) {
  int s = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (s < 0) return 2;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  ::inet_pton(AF_INET, dst.c_str(), &to.sin_addr);
  std::array<uint8_t, 16> pkt{};
  auto* icmp = reinterpret_cast<icmphdr*>(pkt.data());
  icmp->type = ICMP_ECHO;
  icmp->un.echo.id = htons(static_cast<uint16_t>(::getpid()));
  icmp->un.echo.sequence = htons(1);
  icmp->checksum = icmp_checksum(pkt.data(), pkt.size());
  if (::sendto(s, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
    return 3;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{s, POLLIN, 0};
    if (::poll(&pfd, 1, 200) <= 0) continue;
    std::array<uint8_t, 1500> buf{};
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ssize_t n = ::recvfrom(s, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < static_cast<ssize_t>(sizeof(iphdr) + sizeof(icmphdr))) continue;
    const auto* ip = reinterpret_cast<const iphdr*>(buf.data());
    const auto* reply = reinterpret_cast<const icmphdr*>(buf.data() + ip->ihl * 4);
    if (from.sin_addr.s_addr == to.sin_addr.s_addr && reply->type == ICMP_ECHOREPLY &&
        reply->un.echo.id == icmp->un.echo.id) {
      return 0;
    }
  }
  return 4;
}

// A TCP server in `server_ns` on port 7777 accepts one connection from a client in
// `client_ns` to `addr`; the peer address the server saw ("" when nothing connected).
std::string tcp_peer(const std::string& server_ns, const std::string& client_ns,
                     const std::string& addr) {
  int ready[2], result[2];
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(result, O_CLOEXEC) != 0) return "";
  pid_t server = ::fork();
  if (server == 0) {
    int fd = ::open(server_ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(1);
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(7777);
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 1) != 0) {
      ::_exit(2);
    }
    (void)!::write(ready[1], "r", 1);
    pollfd pfd{s, POLLIN, 0};
    if (::poll(&pfd, 1, 8000) != 1) ::_exit(3);
    sockaddr_in peer{};
    socklen_t pl = sizeof peer;
    int c = ::accept(s, reinterpret_cast<sockaddr*>(&peer), &pl);
    if (c < 0) ::_exit(4);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
    (void)!::write(result[1], text, std::strlen(text));
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(result[1]);
  char r;
  pollfd pfd{ready[0], POLLIN, 0};
  bool up = ::poll(&pfd, 1, 5000) == 1 && ::read(ready[0], &r, 1) == 1;
  if (up) {
    in_netns(client_ns, [&] {
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      timeval tv{5, 0};
      ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(7777);
      ::inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
      return ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : 1;
    });
    // connect() returns once the kernel has the connection queued, before the server has
    // accepted it and written the peer: wait for that (or the server's exit) first.
    pollfd done{result[0], POLLIN, 0};
    (void)::poll(&done, 1, 5000);
  }
  ::kill(server, SIGKILL);
  ::waitpid(server, nullptr, 0);
  char buf[64] = {};
  ssize_t n = ::read(result[0], buf, sizeof buf - 1);
  ::close(ready[0]);
  ::close(result[0]);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

class KernletCniTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
    if (!fs::exists(plugin_binary())) GTEST_SKIP() << "no binary at " << plugin_binary();
    prefix_ = "klcni" + std::to_string(::getpid());
    for (const char* n : {"node", "pod1", "pod2", "out"}) {
      std::string name = prefix_ + n;
      int st = 0;
      std::string out = sh("ip netns add " + name, &st);
      ASSERT_EQ(st, 0) << "ip netns add " << name << ": " << out;
      created_.push_back(name);
    }
    char tmpl[] = "/tmp/kernlet-cni-itest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    data_dir_ = tmpl;
  }

  void TearDown() override {
    // Deleting a netns removes every link in it (bridge, veth ends).
    for (const auto& n : created_) sh("ip netns del " + n);
    std::error_code ec;
    if (!data_dir_.empty()) fs::remove_all(data_dir_, ec);
  }

  std::string ns(const std::string& n) const { return "/run/netns/" + prefix_ + n; }
  std::string nsname(const std::string& n) const { return prefix_ + n; }

  std::string config(const std::string& version = "1.0.0", const std::string& extra = "") {
    return R"({"cniVersion":")" + version + R"(","name":"kernlet","type":"kernlet-cni",)"
           R"("bridge":"kl0","mtu":1400,"hairpinMode":true,"subnet":"10.250.1.0/24",)"
           R"("dataDir":")" + data_dir_ + R"(","ipMasq":true,"clusterCIDR":"10.250.0.0/16")" +
           extra + "}";
  }

  // Execs the plugin inside the node netns the way a runtime does.
  CniRun cni(const std::string& command, const std::string& container, const std::string& pod_ns,
          const std::string& stdin_text, std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env{{"CNI_COMMAND", command},
                                           {"CNI_PATH", fs::path(plugin_binary()).parent_path()},
                                           {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}};
    if (!container.empty()) env["CNI_CONTAINERID"] = container;
    if (!container.empty()) env["CNI_IFNAME"] = "eth0";
    if (!pod_ns.empty()) env["CNI_NETNS"] = pod_ns;
    for (auto& [k, v] : extra) env[k] = v;
    int in[2], out[2];
    EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    std::string node = ns("node");
    std::string bin = plugin_binary();
    // Built before fork: tests call this from several threads, and a child of a threaded
    // process must not allocate.
    std::vector<std::string> kv;
    for (auto& [k, v] : env) kv.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : kv) envp.push_back(s.data());
    envp.push_back(nullptr);
    char* argv[] = {bin.data(), nullptr};
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(node.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(126);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::execve(bin.c_str(), argv, envp.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    (void)!::write(in[1], stdin_text.data(), stdin_text.size());
    ::close(in[1]);
    CniRun r;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    return r;
  }

  std::string pod_ip(const CniRun& add) {
    auto r = parse_result_text(add.out, "kernlet-cni");
    EXPECT_TRUE(r.ok()) << add.out;
    if (!r.ok() || r->ips.empty()) return "";
    return r->ips[0].address.substr(0, r->ips[0].address.find('/'));
  }

  std::string in_ns(const std::string& n, const std::string& cmd) {
    return sh("ip netns exec " + nsname(n) + " " + cmd);
  }

  bool host_link_exists(const std::string& name) {
    int st = 0;
    sh("ip -n " + nsname("node") + " link show " + name, &st);
    return st == 0;
  }

  IpamStore store() {
    auto s = IpamStore::open(data_dir_ + "/kernlet", *parse_ipv4_prefix("10.250.1.0/24"),
                             *parse_ipv4("10.250.1.2"), *parse_ipv4("10.250.1.254"));
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }

  std::string prefix_, data_dir_;
  std::vector<std::string> created_;
};

TEST_F(KernletCniTest, AddBuildsAWorkingPodNetwork) {
  CniRun a1 = cni("ADD", "pod1", ns("pod1"), config());
  ASSERT_EQ(a1.exit_code, 0) << a1.out;
  CniRun a2 = cni("ADD", "pod2", ns("pod2"), config());
  ASSERT_EQ(a2.exit_code, 0) << a2.out;
  std::string ip1 = pod_ip(a1), ip2 = pod_ip(a2);
  EXPECT_EQ(ip1, "10.250.1.2");
  EXPECT_EQ(ip2, "10.250.1.3");

  auto r = parse_result_text(a1.out, "kernlet-cni");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->interfaces.size(), 3u);
  EXPECT_EQ(r->interfaces[2].sandbox, ns("pod1"));
  EXPECT_EQ(r->ips[0].gateway, "10.250.1.1");

  // Inside the pod: address, default route, MTU.
  EXPECT_NE(in_ns("pod1", "ip -o -4 addr show dev eth0").find("inet 10.250.1.2/24"),
            std::string::npos);
  EXPECT_NE(in_ns("pod1", "ip route show default").find("default via 10.250.1.1 dev eth0"),
            std::string::npos);
  EXPECT_EQ(in_ns("pod1", "cat /sys/class/net/eth0/mtu"), "1400\n");
  // On the node: the port is on the bridge, up, hairpin on, MTU.
  std::string host = host_veth_name({"pod1", "eth0"});
  EXPECT_EQ(r->interfaces[1].name, host);
  EXPECT_EQ(in_ns("node", "cat /sys/class/net/" + host + "/brport/hairpin_mode"), "1\n");
  EXPECT_EQ(in_ns("node", "cat /sys/class/net/" + host + "/mtu"), "1400\n");
  EXPECT_NE(in_ns("node", "ip -o link show " + host).find("master kl0"), std::string::npos);
  EXPECT_NE(in_ns("node", "ip -o -4 addr show dev kl0").find("10.250.1.1/24"), std::string::npos);

  // Traffic: pod -> gateway, pod -> pod (ICMP and TCP, not NATed inside the cluster).
  EXPECT_EQ(in_netns(ns("pod1"), [] { return ping_once("10.250.1.1"); }), 0);
  EXPECT_EQ(in_netns(ns("pod1"), [&] { return ping_once(ip2); }), 0);
  EXPECT_EQ(in_netns(ns("pod2"), [&] { return ping_once(ip1); }), 0);
  EXPECT_EQ(tcp_peer(ns("pod2"), ns("pod1"), ip2), ip1);
  EXPECT_EQ(tcp_peer(ns("node"), ns("pod1"), "10.250.1.1"), ip1);
}

TEST_F(KernletCniTest, MasqueradesTrafficLeavingTheCluster) {
  // An "outside" netns wired to the node: 172.31.250.1 (node) <-> 172.31.250.2 (outside).
  int st = 0;
  std::string out = sh("ip -n " + nsname("node") + " link add klout type veth peer name eth9 netns " +
                           nsname("out") + " && ip -n " + nsname("node") +
                           " addr add 172.31.250.1/30 dev klout && ip -n " + nsname("node") +
                           " link set klout up && ip -n " + nsname("out") +
                           " addr add 172.31.250.2/30 dev eth9 && ip -n " + nsname("out") +
                           " link set eth9 up",
                       &st);
  ASSERT_EQ(st, 0) << out;
  CniRun a = cni("ADD", "pod1", ns("pod1"), config());
  ASSERT_EQ(a.exit_code, 0) << a.out;
  // The outside netns has no route to 10.250.0.0/16: only SNAT to the node makes this work.
  EXPECT_EQ(tcp_peer(ns("out"), ns("pod1"), "172.31.250.2"), "172.31.250.1");
  // A second ADD leaves one rule, not two (the chain is refilled atomically).
  ASSERT_EQ(cni("ADD", "pod2", ns("pod2"), config()).exit_code, 0);
  EXPECT_EQ(tcp_peer(ns("out"), ns("pod2"), "172.31.250.2"), "172.31.250.1");
}

TEST_F(KernletCniTest, DelTwiceAndWithoutNetnsSucceeds) {
  CniRun a = cni("ADD", "pod1", ns("pod1"), config());
  ASSERT_EQ(a.exit_code, 0) << a.out;
  std::string host = host_veth_name({"pod1", "eth0"});
  ASSERT_TRUE(host_link_exists(host));
  CniRun d1 = cni("DEL", "pod1", ns("pod1"), config());
  EXPECT_EQ(d1.exit_code, 0) << d1.out;
  EXPECT_FALSE(host_link_exists(host));
  EXPECT_EQ(in_ns("pod1", "ip -o link show eth0").find("eth0:"), std::string::npos)
      << "the pod end goes with the host end";
  CniRun d2 = cni("DEL", "pod1", ns("pod1"), config());
  EXPECT_EQ(d2.exit_code, 0) << d2.out;
  CniRun gone = cni("DEL", "pod1", "/run/netns/" + prefix_ + "does-not-exist", config());
  EXPECT_EQ(gone.exit_code, 0) << gone.out;
  CniRun unknown = cni("DEL", "never-added", "", config());
  EXPECT_EQ(unknown.exit_code, 0) << unknown.out;
  auto list = store().list();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(KernletCniTest, DelAfterACrashMidAddLeavesNoLeak) {
  for (const char* point : {"ipam", "veth"}) {
    SCOPED_TRACE(point);
    CniRun crashed = cni("ADD", "pod1", ns("pod1"), config(), {{"KERNLET_CNI_TEST_CRASH_AT", point}});
    ASSERT_EQ(crashed.signal, SIGKILL) << crashed.out;
    auto held = store().lookup({"pod1", "eth0"});
    ASSERT_TRUE(held.ok() && held->has_value()) << "the claim was made before the crash";
    CniRun d = cni("DEL", "pod1", ns("pod1"), config());
    ASSERT_EQ(d.exit_code, 0) << d.out;
    EXPECT_FALSE(host_link_exists(host_veth_name({"pod1", "eth0"})));
    EXPECT_EQ(in_ns("pod1", "ip -o link show eth0").find("eth0:"), std::string::npos);
    auto list = store().list();
    ASSERT_TRUE(list.ok());
    EXPECT_TRUE(list->empty()) << "address released";
    CniRun again = cni("ADD", "pod1", ns("pod1"), config());
    ASSERT_EQ(again.exit_code, 0) << again.out;
    EXPECT_EQ(in_netns(ns("pod1"), [] { return ping_once("10.250.1.1"); }), 0);
    ASSERT_EQ(cni("DEL", "pod1", ns("pod1"), config()).exit_code, 0);
  }
}

TEST_F(KernletCniTest, AddRetriedAfterACrashWithoutDelRebuilds) {
  CniRun crashed = cni("ADD", "pod1", ns("pod1"), config(), {{"KERNLET_CNI_TEST_CRASH_AT", "veth"}});
  ASSERT_EQ(crashed.signal, SIGKILL);
  CniRun again = cni("ADD", "pod1", ns("pod1"), config());
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(pod_ip(again), "10.250.1.2") << "the same claim";
  EXPECT_EQ(in_netns(ns("pod1"), [] { return ping_once("10.250.1.1"); }), 0);
}

TEST_F(KernletCniTest, ConcurrentAddsOnAFreshNodeAllSucceed) {
  // Six runtimes' ADDs at once race to create the bridge, its address and the masquerade
  // chain, and to claim addresses.
  const int kPods = 6;
  for (int i = 0; i < kPods; ++i) {
    std::string name = nsname("c" + std::to_string(i));
    int st = 0;
    std::string out = sh("ip netns add " + name, &st);
    ASSERT_EQ(st, 0) << out;
    created_.push_back(name);
  }
  std::vector<CniRun> runs(kPods);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back([&, i] {
      runs[static_cast<std::size_t>(i)] =
          cni("ADD", "c" + std::to_string(i), ns("c" + std::to_string(i)), config());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ips;
  for (int i = 0; i < kPods; ++i) {
    const CniRun& r = runs[static_cast<std::size_t>(i)];
    ASSERT_EQ(r.exit_code, 0) << "pod c" << i << ": " << r.out;
    ips.insert(pod_ip(r));
  }
  EXPECT_EQ(ips.size(), static_cast<std::size_t>(kPods));
  // Every pod reaches every other (its own address would go over its loopback, down here).
  std::string own = pod_ip(runs[0]);
  for (const auto& ip : ips) {
    if (ip == own) continue;
    EXPECT_EQ(in_netns(ns("c0"), [&] { return ping_once(ip); }), 0) << ip;
  }
}

TEST_F(KernletCniTest, CheckVerifiesWhatAddBuilt) {
  CniRun a = cni("ADD", "pod1", ns("pod1"), config());
  ASSERT_EQ(a.exit_code, 0) << a.out;
  std::string with_prev = ",\"prevResult\":" + a.out;
  CniRun ok = cni("CHECK", "pod1", ns("pod1"), config("1.0.0", with_prev));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_TRUE(ok.out.empty());
  // Break the pod: remove its default route.
  in_ns("pod1", "ip route del default");
  CniRun broken = cni("CHECK", "pod1", ns("pod1"), config("1.0.0", with_prev));
  EXPECT_NE(broken.exit_code, 0);
  EXPECT_NE(broken.out.find("no default route"), std::string::npos) << broken.out;
  // And the address.
  in_ns("pod1", "ip route add default via 10.250.1.1 dev eth0");
  EXPECT_EQ(cni("CHECK", "pod1", ns("pod1"), config("1.0.0", with_prev)).exit_code, 0);
  in_ns("pod1", "ip addr flush dev eth0");
  CniRun no_addr = cni("CHECK", "pod1", ns("pod1"), config("1.0.0", with_prev));
  EXPECT_NE(no_addr.out.find("lacks address"), std::string::npos) << no_addr.out;
}

TEST_F(KernletCniTest, GcReleasesStaleAttachmentsAndTheirVeths) {
  ASSERT_EQ(cni("ADD", "pod1", ns("pod1"), config()).exit_code, 0);
  ASSERT_EQ(cni("ADD", "pod2", ns("pod2"), config()).exit_code, 0);
  std::string valid = R"(,"cni.dev/valid-attachments":[{"containerID":"pod1","ifname":"eth0"}])";
  CniRun gc = cni("GC", "", "", config("1.1.0", valid));
  ASSERT_EQ(gc.exit_code, 0) << gc.out;
  EXPECT_TRUE(host_link_exists(host_veth_name({"pod1", "eth0"})));
  EXPECT_FALSE(host_link_exists(host_veth_name({"pod2", "eth0"})));
  auto list = store().list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].owner.container_id, "pod1");
  CniRun status = cni("STATUS", "", "", config("1.1.0"));
  EXPECT_EQ(status.exit_code, 0) << status.out;
}

TEST_F(KernletCniTest, ErrorsAreSpecDocuments) {
  CniRun no_subnet = cni("ADD", "pod1", ns("pod1"),
                      R"({"cniVersion":"1.0.0","name":"kernlet","type":"kernlet-cni"})");
  EXPECT_NE(no_subnet.exit_code, 0);
  auto e = parse_plugin_error(no_subnet.out);
  ASSERT_TRUE(e.has_value()) << no_subnet.out;
  EXPECT_EQ(e->code, 7);
  EXPECT_NE(e->details.find("subnet"), std::string::npos);
  CniRun bad_ns = cni("ADD", "pod1", "/run/netns/" + prefix_ + "missing", config());
  auto e2 = parse_plugin_error(bad_ns.out);
  ASSERT_TRUE(e2.has_value()) << bad_ns.out;
  auto list = store().list();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty()) << "a failed ADD keeps no claim";
  CniRun version = cni("VERSION", "", "", R"({"cniVersion":"1.0.0"})");
  ASSERT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]"),
            std::string::npos)
      << version.out;
}

// The agent's side: kernlet's own CNI driver (cni/client) runs kernlet-cni from a conflist of
// exactly the shape the agent writes, from a thread moved into the node netns.
TEST_F(KernletCniTest, KernletDriverRunsThePluginFromTheContractConflist) {
  for (std::string version : {"1.0.0", "1.1.0"}) {
    SCOPED_TRACE(version);
    auto list = parse_conflist(
        R"({"cniVersion":")" + version + R"(","name":"kernlet","plugins":[{"type":"kernlet-cni",
          "bridge":"kl0","mtu":1500,"hairpinMode":true,"subnet":"10.250.1.0/24",
          "dataDir":")" + data_dir_ + R"(","ipMasq":true,"clusterCIDR":"10.250.0.0/16"}]})",
        "contract.conflist");
    ASSERT_TRUE(list.ok()) << list.error().to_string();
    ProcessPluginExec exec;
    CniDriverOptions options;
    options.bin_dirs = {fs::path(plugin_binary()).parent_path().string()};
    options.cache_dir = data_dir_ + "/results";
    options.inherit_environment = false;
    CniDriver driver(exec, options);
    Attachment pod;
    pod.container_id = "drv1";
    pod.netns = ns("pod1");
    pod.args = kubernetes_args("default", "web", "drv1", "uid-1");

    std::string failure;
    std::vector<std::string> ips;
    std::thread node([&] {
      int fd = ::open(ns("node").c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        failure = "setns node";
        return;
      }
      ::close(fd);
      auto added = driver.add(*list, pod);
      if (!added.ok()) {
        failure = "add: " + added.error().to_string();
        return;
      }
      ips = pod_ips(*added);
      if (auto c = driver.check(*list, pod); !c.ok()) failure = "check: " + c.error().to_string();
      if (auto st = driver.status(*list); !st.ok()) failure += "status: " + st.error().to_string();
      if (version == "1.1.0") {
        // GC with nothing to keep: the driver DELs the cached attachment, the plugin's GC
        // finds nothing left.
        if (auto g = driver.gc(*list, {}); !g.ok()) failure += "gc: " + g.error().to_string();
      } else {
        if (auto d = driver.del(*list, pod); !d.ok()) failure += "del: " + d.error().to_string();
        if (auto d = driver.del(*list, pod); !d.ok()) failure += "del2: " + d.error().to_string();
      }
    });
    node.join();
    EXPECT_EQ(failure, "");
    EXPECT_EQ(ips, std::vector<std::string>{version == "1.0.0" ? "10.250.1.2" : "10.250.1.3"});
    auto left = store().list();
    ASSERT_TRUE(left.ok());
    EXPECT_TRUE(left->empty());
    EXPECT_FALSE(host_link_exists(host_veth_name({"drv1", "eth0"})));
  }
}

}  // namespace
}  // namespace kernlet::cni
