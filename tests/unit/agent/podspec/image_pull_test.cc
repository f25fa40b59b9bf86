// Table tests of agent/podspec/image_pull.h against the kubelet's documented behaviour
// (shouldPullImage, credentialprovider BasicDockerKeyring, URLsMatch, isDefaultRegistryMatch).
#include "agent/podspec/image_pull.h"

#include <gtest/gtest.h>

#include <string>

namespace kernlet::agent::podspec {
namespace {

std::string b64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

json::object secret(std::string_view name, std::string_view type, std::string_view key, std::string_view content) {
  json::object s;
  s["metadata"] = json::object{{"name", name}, {"namespace", "ns"}};
  s["type"] = type;
  s["data"] = json::object{{key, b64(content)}};
  return s;
}

std::vector<std::string> users(const std::vector<images::Credentials>& creds) {
  std::vector<std::string> out;
  for (const images::Credentials& c : creds) out.push_back(c.username + ":" + c.password);
  return out;
}

TEST(ShouldPullTest, Policies) {
  struct Case {
    std::string_view policy;
    bool present, want;
  };
  const Case cases[] = {
      {"Always", true, true},        {"Always", false, true},  {"IfNotPresent", true, false},
      {"IfNotPresent", false, true}, {"Never", true, false},   {"Never", false, false},
      {"", false, false},
  };
  for (const Case& c : cases) EXPECT_EQ(should_pull(c.policy, c.present), c.want) << c.policy << " " << c.present;
  EXPECT_EQ(never_pull_message("busybox:1.36"), "Container image \"busybox:1.36\" is not present with pull policy of Never");
  EXPECT_EQ(already_present_message("busybox"), "Container image \"busybox\" already present on machine");
  EXPECT_EQ(invalid_image_name_message("Bad:Image"),
            "Failed to apply default image tag \"Bad:Image\": couldn't parse image name \"Bad:Image\": invalid reference format");
}

class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secrets_.push_back(secret("regcred", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", R"({"auths": {
        "https://index.docker.io/v1/": {"auth": ")" + b64("hub:hubpw") + R"("},
        "quay.io": {"username": "q", "password": "qpw"},
        "quay.io/org": {"auth": ")" + b64("org:orgpw") + R"("},
        "*.example.com": {"auth": ")" + b64("wild:wpw") + R"("},
        "registry.local:5000": {"auth": ")" + b64("port:ppw") + R"("},
        "http://gcr.io/v2/proj": {"Username": "g", "PASSWORD": "gpw"},
        "bad:port": {"username": "never", "password": "used"}}})"));
    secrets_.push_back(secret("old", "kubernetes.io/dockercfg", ".dockercfg",
                              R"({"quay.io": {"auth": ")" + b64("alice:s3cret:with:colons") + R"("}})"));
    secrets_.push_back(secret("opaque", "Opaque", ".dockerconfigjson", R"({"auths": {"quay.io": {"username": "no"}}})"));
    for (const json::object& s : secrets_) ptrs_.push_back(&s);
    ptrs_.push_back(nullptr);  // a pull secret that could not be fetched
  }
  std::vector<json::object> secrets_;
  std::vector<const json::object*> ptrs_;
};

TEST_F(KeyringTest, LookupMatchesLikeTheKubelet) {
  Result<DockerKeyring> keyring = keyring_from_secrets(ptrs_);
  ASSERT_TRUE(keyring.ok()) << keyring.error().to_string();
  struct Case {
    std::string repo;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      // Docker Hub: no key matches docker.io, the index.docker.io entry is the fallback
      {"docker.io/library/busybox", {"hub:hubpw"}},
      {"library/busybox", {"hub:hubpw"}},
      // the kubelet's rule: a first component without '.' or ':' means Docker Hub
      {"localhost/x", {"hub:hubpw"}},
      // more specific keys first, then each key's credentials in secret order
      {"quay.io/org/app", {"org:orgpw", "q:qpw", "alice:s3cret:with:colons"}},
      {"quay.io/other/app", {"q:qpw", "alice:s3cret:with:colons"}},
      {"quay.io/organization/app", {"org:orgpw", "q:qpw", "alice:s3cret:with:colons"}},  // a plain string prefix
      {"a.example.com/x", {"wild:wpw"}},
      {"a.b.example.com/x", {}},  // a glob matches one label only
      {"example.com/x", {}},
      {"registry.local:5000/x", {"port:ppw"}},
      {"registry.local/x", {}},
      {"registry.local:5001/x", {}},
      {"gcr.io/proj/img", {"g:gpw"}},  // scheme and /v2/ dropped from the key
      {"gcr.io/other/img", {}},
      {"ghcr.io/x/y", {}},
  };
  for (const Case& c : cases) EXPECT_EQ(users(keyring->lookup(c.repo)), c.want) << c.repo;
}

TEST_F(KeyringTest, PullCredentialsNormalizesTheImage) {
  struct Case {
    std::string image;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"busybox", {"hub:hubpw"}},
      {"busybox:1.36", {"hub:hubpw"}},
      {"docker.io/library/busybox@sha256:" + std::string(64, 'a'), {"hub:hubpw"}},
      {"quay.io/org/app:1.0", {"org:orgpw", "q:qpw", "alice:s3cret:with:colons"}},
      {"registry.local:5000/team/app", {"port:ppw"}},
      {"ghcr.io/x/y:latest", {}},
  };
  for (const Case& c : cases) {
    Result<std::vector<images::Credentials>> creds = pull_credentials(c.image, ptrs_);
    ASSERT_TRUE(creds.ok()) << c.image << ": " << creds.error().to_string();
    EXPECT_EQ(users(*creds), c.want) << c.image;
  }
  // No usable secrets: anonymous, whatever the image.
  Result<std::vector<images::Credentials>> none = pull_credentials("quay.io/org/app", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(KeyringErrorsTest, MalformedSecretsNameTheSecret) {
  struct Case {
    std::string type, key, content;
    std::string want_prefix, want_suffix;
  };
  const Case cases[] = {
      {"kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{not json", "secret ns/s: ", ""},
      {"kubernetes.io/dockerconfigjson", ".dockerconfigjson",
       R"({"auths": {"quay.io": {"auth": ")" + b64("nocolon") + R"("}}})", "secret ns/s: .dockerconfigjson: auths[quay.io].auth: ",
       "unable to parse auth field, must be formatted as base64(username:password)"},
      {"kubernetes.io/dockerconfigjson", ".dockerconfigjson", R"({"auths": {"quay.io": "x"}})",
       "secret ns/s: .dockerconfigjson: auths[quay.io]: expected object", ""},
      {"kubernetes.io/dockercfg", ".dockercfg", R"({"quay.io": {"auth": "!!!"}})", "secret ns/s: .dockercfg: auths[quay.io].auth: ",
       ""},
  };
  for (const Case& c : cases) {
    json::object s = secret("s", c.type, c.key, c.content);
    Result<DockerKeyring> k = keyring_from_secrets({&s});
    ASSERT_FALSE(k.ok()) << c.content;
    const std::string& msg = k.error().message();
    EXPECT_EQ(msg.rfind(c.want_prefix, 0), 0u) << msg;
    if (!c.want_suffix.empty()) {
      ASSERT_GE(msg.size(), c.want_suffix.size());
      EXPECT_EQ(msg.substr(msg.size() - c.want_suffix.size()), c.want_suffix) << msg;
    }
  }
}

TEST(KeyringErrorsTest, UnpaddedAuthAndCaseInsensitiveFields) {
  std::string unpadded = b64("wild:wpw");  // "d2lsZDp3cHc="
  while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
  json::object s = secret("s", "kubernetes.io/dockerconfigjson", ".dockerconfigjson",
                          R"({"Auths": {"r.io": {"AUTH": ")" + unpadded + R"("}}})");
  Result<std::vector<images::Credentials>> creds = pull_credentials("r.io/a/b", {&s});
  ASSERT_TRUE(creds.ok()) << creds.error().to_string();
  EXPECT_EQ(users(*creds), (std::vector<std::string>{"wild:wpw"}));
  // A plain "docker.io" key matches Docker Hub images by host.
  json::object hub = secret("h", "kubernetes.io/dockerconfigjson", ".dockerconfigjson",
                            R"({"auths": {"docker.io": {"username": "d", "password": "dpw"}}})");
  creds = pull_credentials("nginx", {&hub});
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(users(*creds), (std::vector<std::string>{"d:dpw"}));
  // An empty config, or one without auths, gives nothing.
  json::object empty = secret("e", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{}");
  creds = pull_credentials("r.io/a/b", {&empty});
  ASSERT_TRUE(creds.ok());
  EXPECT_TRUE(creds->empty());
}

}  // namespace
}  // namespace kernlet::agent::podspec
