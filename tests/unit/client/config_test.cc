#include "api/client/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kernlet::client {
namespace {

namespace fs = std::filesystem;

// "hello" and friends, base64.
constexpr const char* kCa = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmNhCg==";  // "-----BEGIN CERTIFICATE-----\nca\n"

std::string two_contexts() {
  return std::string(R"(apiVersion: v1
kind: Config
current-context: admin@kernlet
clusters:
- name: kernlet
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: )") + kCa + R"(
- name: other
  cluster:
    server: http://10.0.0.1:8080
    insecure-skip-tls-verify: true
    tls-server-name: api.internal
users:
- name: admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: robot
  user:
    token: s3cret
contexts:
- name: admin@kernlet
  context: {cluster: kernlet, user: admin}
- name: robot@other
  context: {cluster: other, user: robot, namespace: kube-system}
)";
}

TEST(Kubeconfig, CurrentContextWithInlineData) {
  auto cfg = parse_kubeconfig(two_contexts(), "test.kubeconfig", "/nowhere");
  ASSERT_TRUE(cfg.ok()) << cfg.error().to_string();
  EXPECT_EQ(cfg->server, "https://127.0.0.1:6443");
  EXPECT_EQ(cfg->ca_pem, "-----BEGIN CERTIFICATE-----\nca\n");
  EXPECT_EQ(cfg->client_cert_pem, "cert");
  EXPECT_EQ(cfg->client_key_pem, "key");
  EXPECT_EQ(cfg->token, "");
  EXPECT_FALSE(cfg->insecure_skip_tls_verify);
  EXPECT_EQ(cfg->namespace_, "default");
}

TEST(Kubeconfig, ExplicitContextWithTokenAndInsecure) {
  auto cfg = parse_kubeconfig(two_contexts(), "test.kubeconfig", "/nowhere", "robot@other");
  ASSERT_TRUE(cfg.ok()) << cfg.error().to_string();
  EXPECT_EQ(cfg->server, "http://10.0.0.1:8080");
  EXPECT_TRUE(cfg->insecure_skip_tls_verify);
  EXPECT_EQ(cfg->tls_server_name, "api.internal");
  EXPECT_EQ(cfg->token, "s3cret");
  EXPECT_EQ(cfg->namespace_, "kube-system");
  EXPECT_TRUE(cfg->client_cert_pem.empty());
}

class KubeconfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kl-kubeconfig-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "pki");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& p, const std::string& s) { std::ofstream(dir_ / p) << s; }
  fs::path dir_;
};

TEST_F(KubeconfigFiles, RelativePathsResolveAgainstTheKubeconfigDirectory) {
  write("pki/ca.crt", "CA PEM");
  write("pki/admin.crt", "CERT PEM");
  write("pki/admin.key", "KEY PEM");
  write("token", "tok\n");
  write("config", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://[::1]:6443", certificate-authority: pki/ca.crt}}]
users: [{name: u, user: {client-certificate: pki/admin.crt, client-key: )" +
                      (dir_ / "pki/admin.key").string() + R"(, tokenFile: token}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  auto cfg = load_kubeconfig(dir_ / "config");
  ASSERT_TRUE(cfg.ok()) << cfg.error().to_string();
  EXPECT_EQ(cfg->server, "https://[::1]:6443");
  EXPECT_EQ(cfg->ca_pem, "CA PEM");
  EXPECT_EQ(cfg->client_cert_pem, "CERT PEM");
  EXPECT_EQ(cfg->client_key_pem, "KEY PEM");
  EXPECT_EQ(cfg->token, "tok");
}

TEST_F(KubeconfigFiles, MissingReferencedFileNamesTheField) {
  write("config", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h", certificate-authority: nope.crt}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  auto cfg = load_kubeconfig(dir_ / "config");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.error().message().find("kubeconfig " + (dir_ / "config").string() +
                                       ": clusters[k].cluster.certificate-authority: read " +
                                       (dir_ / "nope.crt").string()),
            std::string::npos)
      << cfg.error().to_string();
  EXPECT_EQ(cfg.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(KubeconfigFiles, MissingFileIsAnErrnoError) {
  auto cfg = load_kubeconfig(dir_ / "absent");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.error().sys_errno(), ENOENT);
  EXPECT_NE(cfg.error().message().find((dir_ / "absent").string()), std::string::npos);
}

TEST_F(KubeconfigFiles, InClusterConfigReadsCaAndToken) {
  write("ca.crt", "CA");
  write("token", "abc\n");
  auto cfg = in_cluster_config("https://10.96.0.1:443", dir_ / "ca.crt", dir_ / "token");
  ASSERT_TRUE(cfg.ok()) << cfg.error().to_string();
  EXPECT_EQ(cfg->ca_pem, "CA");
  EXPECT_EQ(cfg->token, "abc");
  auto bad = in_cluster_config("https://10.96.0.1:443", dir_ / "ca.crt", dir_ / "missing-token");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("in-cluster config: token: read " + (dir_ / "missing-token").string()),
            std::string::npos);
  EXPECT_FALSE(in_cluster_config("10.96.0.1:443", "", "").ok());
}

struct BadCase {
  const char* name;
  std::string yaml;
  std::string want;  // substring of the error
};

TEST(Kubeconfig, BadInputNamesTheField) {
  const std::string ctx = "contexts: [{name: c, context: {cluster: k, user: u}}]\ncurrent-context: c\n";
  const std::string users = "users: [{name: u, user: {}}]\n";
  std::vector<BadCase> cases = {
      {"not yaml", "clusters: [", "kubeconfig t: yaml:"},
      {"not a map", "- a\n- b\n", "kubeconfig t: (top level): expected a map"},
      {"no current context", "clusters: []\n", "current-context: not set"},
      {"unknown context", "current-context: x\ncontexts: []\n", "contexts: no entry named \"x\""},
      {"unknown cluster", ctx + users + "clusters: []\n", "clusters: no entry named \"k\""},
      {"unknown user", ctx + "clusters: [{name: k, cluster: {server: 'https://h'}}]\nusers: []\n",
       "users: no entry named \"u\""},
      {"no server", ctx + users + "clusters: [{name: k, cluster: {}}]\n", "clusters[k].cluster.server: required"},
      {"bad scheme", ctx + users + "clusters: [{name: k, cluster: {server: 'ftp://h'}}]\n",
       "clusters[k].cluster.server: \"ftp://h\" is not an http:// or https:// URL"},
      {"bad base64", ctx + "clusters: [{name: k, cluster: {server: 'https://h'}}]\n" +
                         "users: [{name: u, user: {client-certificate-data: 'Y2V*', client-key-data: a2V5}}]\n",
       "users[u].user.client-certificate-data: invalid base64 at byte 3"},
      {"cert without key", ctx + "clusters: [{name: k, cluster: {server: 'https://h'}}]\n" +
                               "users: [{name: u, user: {client-certificate-data: Y2VydA==}}]\n",
       "users[u].user: client-certificate without client-key"},
      {"insecure is not a bool", ctx + users + "clusters: [{name: k, cluster: {server: 'https://h', "
                                               "insecure-skip-tls-verify: 'maybe'}}]\n",
       "clusters[k].cluster.insecure-skip-tls-verify: expected true or false"},
      {"insecure with CA", ctx + users + "clusters: [{name: k, cluster: {server: 'https://h', "
                                         "insecure-skip-tls-verify: true, certificate-authority-data: Y2E=}}]\n",
       "mutually exclusive"},
      {"token not a string", ctx + "clusters: [{name: k, cluster: {server: 'https://h'}}]\n" +
                                 "users: [{name: u, user: {token: [1]}}]\n",
       "users[u].user.token: expected string"},
  };
  for (const auto& c : cases) {
    auto cfg = parse_kubeconfig(c.yaml, "t", "/");
    ASSERT_FALSE(cfg.ok()) << c.name;
    EXPECT_NE(cfg.error().message().find(c.want), std::string::npos)
        << c.name << ": " << cfg.error().message();
  }
}

TEST(Base64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(*base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(*base64_decode("aGVsbG8"), "hello");
  EXPECT_EQ(*base64_decode("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(*base64_decode(""), "");
  EXPECT_FALSE(base64_decode("a").ok());
  EXPECT_FALSE(base64_decode("aGVsbG8=x").ok());
  EXPECT_FALSE(base64_decode("aGV$").ok());
}

}  // namespace
}  // namespace kernlet::client
