#include "agent/cmd/agent_options.h"

#include <gtest/gtest.h>

#include <cstring>

namespace kernlet::agent {
namespace {

TEST(AgentOptions, Defaults) {
  auto o = parse_agent_flags({"--kubeconfig", "/k"});
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  EXPECT_EQ(o->kubeconfig, "/k");
  EXPECT_EQ(o->root_dir, "/var/lib/kernlet/agent");
  EXPECT_EQ(o->pod_logs_dir, "/var/log/pods");
  EXPECT_EQ(o->port, 10250);
  EXPECT_EQ(o->max_pods, 110);
  EXPECT_EQ(o->network, "none");
  EXPECT_FALSE(o->seccomp_default);
}

TEST(AgentOptions, EveryFlag) {
  auto o = parse_agent_flags({"--kubeconfig=/k", "--node-name", "n1", "--root-dir", "/r", "--cgroup-root", "/c",
                              "--pod-logs-dir", "/l", "--pod-manifest-path", "/m", "--cni-conf-dir", "/cc",
                              "--cni-bin-dir", "/cb", "--network", "cni", "--address", "127.0.0.1", "--port",
                              "11250", "--tls-cert-file", "/t", "--tls-private-key-file", "/tk", "--client-ca-file",
                              "/ca", "--node-ip", "10.0.0.5", "--system-reserved", "cpu=100m,memory=100Mi",
                              "--kube-reserved=memory=50Mi", "--max-pods", "20", "--seccomp-default",
                              "--pod-workers", "2", "--resync-seconds", "5"});
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  EXPECT_EQ(o->node_name, "n1");
  EXPECT_EQ(o->cgroup_root, "/c");
  EXPECT_EQ(o->network, "cni");
  EXPECT_EQ(o->port, 11250);
  EXPECT_EQ(o->max_pods, 20);
  EXPECT_TRUE(o->seccomp_default);
  EXPECT_EQ(o->kube_reserved, "memory=50Mi");
  EXPECT_EQ(o->resync_seconds, 5);
}

TEST(AgentOptions, BadInputNamesTheFlag) {
  auto missing = parse_agent_flags({});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("--kubeconfig"), std::string::npos);
  auto bad_net = parse_agent_flags({"--kubeconfig", "/k", "--network", "flannel"});
  ASSERT_FALSE(bad_net.ok());
  EXPECT_NE(bad_net.error().message().find("--network"), std::string::npos);
  auto bad_port = parse_agent_flags({"--kubeconfig", "/k", "--port", "70000"});
  ASSERT_FALSE(bad_port.ok());
  auto unknown = parse_agent_flags({"--kubeconfig", "/k", "--bogus"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("--bogus"), std::string::npos);
  auto no_value = parse_agent_flags({"--kubeconfig"});
  ASSERT_FALSE(no_value.ok());
  auto reserved = parse_agent_flags({"--kubeconfig", "/k", "--system-reserved", "cpu"});
  ASSERT_FALSE(reserved.ok());
}

TEST(AgentOptions, HelpDocumentsEveryFlag) {
  auto o = parse_agent_flags({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  for (const char* f : {"--kubeconfig", "--node-name", "--root-dir", "--cgroup-root", "--pod-logs-dir",
                        "--pod-manifest-path", "--cni-conf-dir", "--cni-bin-dir", "--network", "--address", "--port",
                        "--tls-cert-file", "--tls-private-key-file", "--client-ca-file", "--node-ip",
                        "--system-reserved", "--kube-reserved", "--max-pods", "--seccomp-default", "--pod-workers",
                        "--resync-seconds"})
    EXPECT_NE(std::strstr(agent_usage(), f), nullptr) << f;
}

TEST(AgentOptions, ServiceProxyFlag) {
  auto d = parse_agent_flags({"--kubeconfig", "/k"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->service_proxy, "none");
  auto b = parse_agent_flags({"--kubeconfig", "/k", "--service-proxy", "bpf", "--bpf-pin-dir", "/sys/fs/bpf/kernlet"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->service_proxy, "bpf");
  EXPECT_EQ(b->bpf_pin_dir, "/sys/fs/bpf/kernlet");
  auto bad = parse_agent_flags({"--kubeconfig", "/k", "--service-proxy", "iptables"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("--service-proxy"), std::string::npos);
  EXPECT_NE(std::strstr(agent_usage(), "--service-proxy"), nullptr);
  EXPECT_NE(std::strstr(agent_usage(), "--bpf-pin-dir"), nullptr);
  auto np = parse_agent_flags({"--kubeconfig", "/k", "--service-proxy", "bpf", "--nodeport-interface", "eth0"});
  ASSERT_TRUE(np.ok());
  EXPECT_EQ(np->nodeport_interface, "eth0");
  EXPECT_TRUE(d->nodeport_interface.empty());
  EXPECT_NE(std::strstr(agent_usage(), "--nodeport-interface"), nullptr);
}

TEST(AgentOptions, ClusterDnsFlags) {
  auto d = parse_agent_flags({"--kubeconfig", "/k"});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->cluster_dns.empty());
  EXPECT_EQ(d->cluster_domain, "cluster.local");
  EXPECT_EQ(d->resolv_conf, "/etc/resolv.conf");
  auto c = parse_agent_flags({"--kubeconfig", "/k", "--cluster-dns", "169.254.20.10,fd00::a", "--cluster-domain=corp.example.",
                              "--resolv-conf", ""});
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->cluster_dns, (std::vector<std::string>{"169.254.20.10", "fd00::a"}));
  EXPECT_EQ(c->cluster_domain, "corp.example");
  EXPECT_EQ(c->resolv_conf, "");
  auto bad = parse_agent_flags({"--kubeconfig", "/k", "--cluster-dns", "10.0.0.1,dns.example"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("dns.example"), std::string::npos) << bad.error().message();
  auto bad_domain = parse_agent_flags({"--kubeconfig", "/k", "--cluster-domain", "Bad_Domain"});
  ASSERT_FALSE(bad_domain.ok());
  EXPECT_NE(bad_domain.error().message().find("--cluster-domain"), std::string::npos);
  for (const char* f : {"--cluster-dns", "--cluster-domain", "--resolv-conf"})
    EXPECT_NE(std::strstr(agent_usage(), f), nullptr) << f;
}

}  // namespace
}  // namespace kernlet::agent
