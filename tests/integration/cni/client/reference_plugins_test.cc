// CniDriver with Debian's reference plugins (/usr/lib/cni: bridge + host-local + portmap +
// loopback) as root. Everything lives in network namespaces this test creates and holds by
// fd: a "node" netns the plugins run in (so the bridge, the veths' host ends and portmap's
// iptables rules are there, never in the host's) and one netns per pod. Closing the fds
// destroys them and everything in them, also when the test fails; the host-local store and
// the result cache are in a temp dir.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "api/unique_fd.h"
#include "cni/client/cni_driver.h"
#include "cni/client/pod_network.h"

namespace kernlet::cni {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kPluginDir = "/usr/lib/cni";

// A network namespace of our own, alive while the fd is open.
class Netns {
 public:
  static Result<Netns> create() {
    UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!self) return Error::from_errno("open /proc/thread-self/ns/net");
    if (::unshare(CLONE_NEWNET) != 0) return Error::from_errno("unshare(CLONE_NEWNET)");
    UniqueFd fresh(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    int saved = errno;
    // Back to where the thread was, whatever happened.
    if (::setns(self.get(), CLONE_NEWNET) != 0) std::abort();
    if (!fresh) return Error("open the new netns", saved);
    return Netns(std::move(fresh));
  }
  // A path plugins can open (CNI_NETNS): this process's fd to it.
  std::string path() const {
    return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd_.get());
  }
  int fd() const { return fd_.get(); }

 private:
  explicit Netns(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Moves the calling thread into a netns until destroyed (sockets made inside stay there).
class InNetns {
 public:
  explicit InNetns(const Netns& ns) : back_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
    if (!back_ || ::setns(ns.fd(), CLONE_NEWNET) != 0) std::abort();
  }
  ~InNetns() {
    if (::setns(back_.get(), CLONE_NEWNET) != 0) std::abort();
  }
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;

 private:
  UniqueFd back_;
};

std::vector<std::string> links() {
  std::vector<std::string> out;
  if (struct if_nameindex* all = ::if_nameindex()) {
    for (auto* i = all; i->if_index != 0; ++i) out.emplace_back(i->if_name);
    ::if_freenameindex(all);
  }
  return out;
}

int count_prefix(const std::vector<std::string>& names, const std::string& prefix) {
  int n = 0;
  for (const auto& s : names) n += s.rfind(prefix, 0) == 0;
  return n;
}

bool has_link(const Netns& ns, const std::string& name) {
  InNetns in(ns);
  return ::if_nametoindex(name.c_str()) != 0;
}

sockaddr_in address(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

Result<UniqueFd> listen_in(const Netns& ns, const std::string& ip, uint16_t port) {
  InNetns in(ns);
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::from_errno("socket");
  sockaddr_in a = address(ip, port);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return Error::from_errno("bind " + ip);
  }
  if (::listen(s.get(), 4) != 0) return Error::from_errno("listen");
  return s;
}

// Connects from inside `ns` to ip:port, sends one byte through, and has `listener` accept
// it and read it, all within a deadline.
Result<void> tcp_exchange(const Netns& ns, const std::string& ip, uint16_t port, int listener) {
  UniqueFd c;
  {
    InNetns in(ns);
    c.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  }
  if (!c) return Error::from_errno("socket");
  sockaddr_in a = address(ip, port);
  if (::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    return Error::from_errno("connect " + ip);
  }
  pollfd p{c.get(), POLLOUT, 0};
  if (::poll(&p, 1, 10000) != 1) return Error("connect " + ip + ": no answer in 10s");
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(c.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return Error("connect " + ip, err);
  if (::send(c.get(), "k", 1, MSG_NOSIGNAL) != 1) return Error::from_errno("send");
  pollfd l{listener, POLLIN, 0};
  if (::poll(&l, 1, 10000) != 1) return Error("accept: nothing in 10s");
  UniqueFd peer(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!peer) return Error::from_errno("accept");
  pollfd r{peer.get(), POLLIN, 0};
  char byte = 0;
  if (::poll(&r, 1, 10000) != 1 || ::recv(peer.get(), &byte, 1, 0) != 1 || byte != 'k') {
    return Error("the byte did not arrive");
  }
  return Ok();
}

class ReferencePluginsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    for (const char* p : {"bridge", "host-local", "loopback", "portmap"}) {
      if (::access((std::string(kPluginDir) + "/" + p).c_str(), X_OK) != 0) {
        GTEST_SKIP() << kPluginDir << "/" << p << " missing: install containernetworking-plugins";
      }
    }
    char tmpl[] = "/tmp/kernlet-cni-it-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    auto node = Netns::create();
    ASSERT_TRUE(node.ok()) << node.error().to_string();
    node_.emplace(std::move(*node));

    fs::create_directories(tmp_ + "/net.d");
    std::ofstream(tmp_ + "/net.d/10-kltest.conflist") << R"({
      "cniVersion": "1.0.0", "name": "kltest",
      "plugins": [
        {"type": "bridge", "bridge": "kltest0", "isGateway": true, "ipMasq": false,
         "hairpinMode": true,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.7.0/24"}]],
                  "dataDir": ")" + tmp_ + R"(/ipam"}},
        {"type": "portmap", "capabilities": {"portMappings": true}},
        {"type": "loopback"}
      ]})";
    auto list = load_network(tmp_ + "/net.d");
    ASSERT_TRUE(list.ok()) << list.error().to_string();
    list_ = *list;

    CniDriverOptions o;
    o.bin_dirs = {kPluginDir};
    o.cache_dir = tmp_ + "/results";
    o.timeout = 60s;
    driver_.emplace(exec_, o);
  }

  void TearDown() override {
    if (node_) {
      // Nothing the plugins made may show up in the host's netns: had they run there, the
      // bridge would be here. (Not a veth count: other tests on this machine may make veths.)
      EXPECT_EQ(count_prefix(links(), "kltest"), 0);
    }
    driver_.reset();
    node_.reset();  // the netns and all links and rules in it go with the last fd
    if (!tmp_.empty()) {
      std::error_code ec;
      fs::remove_all(tmp_, ec);
    }
  }

  Attachment attachment(const std::string& id, const Netns& pod) {
    Attachment a;
    a.container_id = id;
    a.netns = pod.path();
    a.ifname = "eth0";
    a.args = kubernetes_args("default", id, id, "uid-" + id);
    return a;
  }

  Result<NetworkResult> add(const Attachment& a) {
    InNetns in(*node_);  // plugins run in the node's netns
    return driver_->add(list_, a);
  }
  Result<void> del(const Attachment& a) {
    InNetns in(*node_);
    return driver_->del(list_, a);
  }
  Result<void> check(const Attachment& a) {
    InNetns in(*node_);
    return driver_->check(list_, a);
  }
  int node_veths() {
    InNetns in(*node_);
    return count_prefix(links(), "veth");
  }

  std::string tmp_;
  std::optional<Netns> node_;
  NetworkConfigList list_;
  ProcessPluginExec exec_;
  std::optional<CniDriver> driver_;
};

TEST_F(ReferencePluginsTest, AddConnectsTwoPodsAndDelReleasesEverything) {
  auto pod_a = Netns::create();
  auto pod_b = Netns::create();
  ASSERT_TRUE(pod_a.ok() && pod_b.ok());
  Attachment a = attachment("pod-a", *pod_a);
  Attachment b = attachment("pod-b", *pod_b);

  auto ra = add(a);
  ASSERT_TRUE(ra.ok()) << ra.error().to_string();
  auto rb = add(b);
  ASSERT_TRUE(rb.ok()) << rb.error().to_string();
  auto ips_a = pod_ips(*ra);
  auto ips_b = pod_ips(*rb);
  ASSERT_EQ(ips_a.size(), 1u);
  ASSERT_EQ(ips_b.size(), 1u);
  EXPECT_EQ(ips_a[0].rfind("10.244.7.", 0), 0u) << ips_a[0];
  EXPECT_NE(ips_a[0], ips_b[0]);
  EXPECT_NE(ips_a[0], "10.244.7.1");  // the gateway, on the bridge
  EXPECT_TRUE(has_link(*pod_a, "eth0"));
  EXPECT_TRUE(has_link(*node_, "kltest0"));
  EXPECT_EQ(node_veths(), 2);
  EXPECT_TRUE(fs::exists(tmp_ + "/ipam/kltest/" + ips_a[0]));
  EXPECT_TRUE(fs::exists(driver_->cache().path("kltest", "pod-a", "eth0")));

  // Pod to pod over the bridge, both ways.
  auto listen_a = listen_in(*pod_a, ips_a[0], 8080);
  ASSERT_TRUE(listen_a.ok()) << listen_a.error().to_string();
  auto ab = tcp_exchange(*pod_b, ips_a[0], 8080, listen_a->get());
  EXPECT_TRUE(ab.ok()) << ab.error().to_string();
  auto listen_b = listen_in(*pod_b, ips_b[0], 8080);
  ASSERT_TRUE(listen_b.ok()) << listen_b.error().to_string();
  auto ba = tcp_exchange(*pod_a, ips_b[0], 8080, listen_b->get());
  EXPECT_TRUE(ba.ok()) << ba.error().to_string();

  auto c = check(a);
  EXPECT_TRUE(c.ok()) << c.error().to_string();

  // DEL removes pod A's veth and address; twice is fine.
  auto d = del(a);
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_FALSE(has_link(*pod_a, "eth0"));
  EXPECT_EQ(node_veths(), 1);
  EXPECT_FALSE(fs::exists(tmp_ + "/ipam/kltest/" + ips_a[0]));
  EXPECT_FALSE(fs::exists(driver_->cache().path("kltest", "pod-a", "eth0")));
  auto d2 = del(a);
  EXPECT_TRUE(d2.ok()) << d2.error().to_string();

  // Pod B's cache is lost (say the agent's disk was wiped): DEL with the config alone still
  // tears it down.
  fs::remove(driver_->cache().path("kltest", "pod-b", "eth0"));
  auto d3 = del(b);
  ASSERT_TRUE(d3.ok()) << d3.error().to_string();
  EXPECT_FALSE(has_link(*pod_b, "eth0"));
  EXPECT_EQ(node_veths(), 0);
  EXPECT_FALSE(fs::exists(tmp_ + "/ipam/kltest/" + ips_b[0]));

  // The freed address is handed out again.
  auto again = add(a);
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_TRUE(del(a).ok());
}

TEST_F(ReferencePluginsTest, DelAfterThePodNetnsIsGoneReleasesTheAddress) {
  std::string ip;
  {
    auto pod = Netns::create();
    ASSERT_TRUE(pod.ok());
    auto r = add(attachment("pod-gone", *pod));
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    ASSERT_EQ(pod_ips(*r).size(), 1u);
    ip = pod_ips(*r)[0];
    EXPECT_TRUE(fs::exists(tmp_ + "/ipam/kltest/" + ip));
  }  // the pod's netns is gone (its holder died while the agent was down, say)
  Attachment a;
  a.container_id = "pod-gone";
  a.ifname = "eth0";  // no netns path: it would name nothing, or someone else's
  auto d = del(a);
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_FALSE(fs::exists(tmp_ + "/ipam/kltest/" + ip));
  EXPECT_FALSE(fs::exists(driver_->cache().path("kltest", "pod-gone", "eth0")));
}

// The agent's path: CniPodNetwork reads the conf dir, attaches, and after a "restart"
// collects the attachment of a pod that went away meanwhile.
TEST_F(ReferencePluginsTest, PodNetworkAttachesAndCollectsGarbage) {
  CniPodNetworkOptions o;
  o.conf_dir = tmp_ + "/net.d";
  o.driver.bin_dirs = {kPluginDir};
  o.driver.cache_dir = tmp_ + "/results";
  auto live = Netns::create();
  auto gone = Netns::create();
  ASSERT_TRUE(live.ok() && gone.ok());
  PodNetworkRequest rl{"default", "live", "u-live", "sb-live", live->path(), "eth0", {}};
  PodNetworkRequest rg{"default", "gone", "u-gone", "sb-gone", gone->path(), "eth0", {}};
  std::string ip_gone;
  {
    CniPodNetwork net(exec_, o);
    InNetns in(*node_);
    ASSERT_TRUE(net.ready().ok());
    auto a = net.attach(rl);
    ASSERT_TRUE(a.ok()) << a.error().to_string();
    auto b = net.attach(rg);
    ASSERT_TRUE(b.ok()) << b.error().to_string();
    ip_gone = pod_ips(*b).at(0);
  }
  EXPECT_TRUE(fs::exists(tmp_ + "/ipam/kltest/" + ip_gone));
  CniPodNetwork restarted(exec_, o);
  {
    InNetns in(*node_);
    auto g = restarted.collect_garbage({"sb-live"});
    ASSERT_TRUE(g.ok()) << g.error().to_string();
  }
  EXPECT_FALSE(fs::exists(tmp_ + "/ipam/kltest/" + ip_gone));
  EXPECT_TRUE(has_link(*live, "eth0"));
  InNetns in(*node_);
  EXPECT_TRUE(restarted.detach(rl).ok());
}

TEST_F(ReferencePluginsTest, PortMappingReachesThePodThroughTheNode) {
  auto pod = Netns::create();
  ASSERT_TRUE(pod.ok());
  Attachment a = attachment("pod-p", *pod);
  a.capability_args["portMappings"] = port_mappings_json({{18080, 8080, "tcp", ""}});
  auto r = add(a);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto ips = pod_ips(*r);
  ASSERT_EQ(ips.size(), 1u);
  auto listener = listen_in(*pod, ips[0], 8080);
  ASSERT_TRUE(listener.ok()) << listener.error().to_string();
  // From the node, to the node's own address on the bridge: portmap's DNAT for locally
  // originated traffic sends it to the pod.
  auto x = tcp_exchange(*node_, "10.244.7.1", 18080, listener->get());
  EXPECT_TRUE(x.ok()) << x.error().to_string();
  auto d = del(a);
  EXPECT_TRUE(d.ok()) << d.error().to_string();
}

TEST_F(ReferencePluginsTest, PluginErrorsComeBackInTheSpecShape) {
  auto pod = Netns::create();
  ASSERT_TRUE(pod.ok());
  // host-local refuses a range with no addresses left.
  auto l = parse_conflist(R"({"cniVersion":"1.0.0","name":"kltest-full","plugins":[
      {"type":"bridge","bridge":"kltest1","ipam":{"type":"host-local",
       "ranges":[[{"subnet":"10.244.8.0/30"}]],"dataDir":")" + tmp_ + R"(/ipam"}}]})",
                          "inline");
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  InNetns in(*node_);
  auto first = driver_->add(*l, attachment("pod-1", *pod));
  ASSERT_TRUE(first.ok()) << first.error().to_string();  // a /30 has one address left over
  auto pod2 = Netns::create();
  ASSERT_TRUE(pod2.ok());
  auto second = driver_->add(*l, attachment("pod-2", *pod2));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message().find("cni network kltest-full plugin bridge ADD pod-2/eth0: error code"),
            std::string::npos)
      << second.error().message();
  // The failed ADD was rolled back: pod-2's netns has no eth0.
  EXPECT_FALSE(has_link(*pod2, "eth0"));
  EXPECT_TRUE(driver_->del(*l, attachment("pod-1", *pod)).ok());
}

TEST_F(ReferencePluginsTest, VersionOfTheRealPlugin) {
  auto v = driver_->version("bridge");
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_NE(std::find(v->begin(), v->end(), "1.0.0"), v->end());
  EXPECT_NE(std::find(v->begin(), v->end(), "0.4.0"), v->end());
}

}  // namespace
}  // namespace kernlet::cni
