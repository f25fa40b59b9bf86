#include "runtime/seccomp/security_context.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kernlet::seccomp {
namespace {

json::object obj(std::string_view text) { return *json::parse_object(text); }

Result<ProcessSecurityRequest> request(std::string_view pod_spec, std::string_view container,
                                       const SecurityContextOptions& o = {}) {
  return security_request(obj(pod_spec), obj(container), "spec.containers[0]", o);
}

TEST(SecurityContextTest, NothingSetIsUnconfinedUnlessSeccompDefault) {
  Result<ProcessSecurityRequest> r = request("{}", R"({"name": "app"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seccomp, SeccompProfileType::kUnconfined);
  EXPECT_FALSE(r->no_new_privs);
  EXPECT_FALSE(r->capabilities.privileged);
  r = request("{}", R"({"name": "app"})", {.seccomp_profile_root = "/r", .seccomp_default = true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seccomp, SeccompProfileType::kRuntimeDefault);
}

TEST(SecurityContextTest, ContainerProfileOverridesThePods) {
  const char* pod = R"({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})";
  Result<ProcessSecurityRequest> r = request(pod, R"({"name": "a"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seccomp, SeccompProfileType::kRuntimeDefault);
  r = request(pod, R"({"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seccomp, SeccompProfileType::kUnconfined);
}

TEST(SecurityContextTest, CapabilitiesPrivilegedAndEscalation) {
  Result<ProcessSecurityRequest> r = request("{}", R"({"name": "a", "securityContext": {
      "privileged": false, "allowPrivilegeEscalation": false,
      "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}})");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->capabilities.add, (std::vector<std::string>{"NET_ADMIN"}));
  EXPECT_EQ(r->capabilities.drop, (std::vector<std::string>{"ALL"}));
  EXPECT_TRUE(r->no_new_privs);
  r = request("{}", R"({"name": "a", "securityContext": {"privileged": true, "allowPrivilegeEscalation": true}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->capabilities.privileged);
  EXPECT_FALSE(r->no_new_privs);
}

TEST(SecurityContextTest, ErrorsNameTheField) {
  EXPECT_EQ(request("{}", R"({"securityContext": {"capabilities": {"add": ["NET_ADMN"]}}})").error().message(),
            "spec.containers[0].securityContext.capabilities.add: unknown capability \"NET_ADMN\"");
  EXPECT_EQ(request("{}", R"({"securityContext": {"capabilities": {"drop": ["all", "BOGUS"]}}})").error().message(),
            "spec.containers[0].securityContext.capabilities.drop: unknown capability \"BOGUS\"");
  EXPECT_EQ(request(R"({"securityContext": {"seccompProfile": {"type": "Strict"}}})", "{}").error().message(),
            "spec.securityContext.seccompProfile.type: unsupported value \"Strict\" (supported: \"Localhost\", "
            "\"RuntimeDefault\", \"Unconfined\")");
  EXPECT_EQ(request("{}", R"({"securityContext": {"seccompProfile": {"type": "Localhost"}}})").error().message(),
            "spec.containers[0].securityContext.seccompProfile.localhostProfile: required when type is Localhost");
  EXPECT_EQ(request("{}", R"({"securityContext": {"seccompProfile": {}}})").error().message(),
            "spec.containers[0].securityContext.seccompProfile.type: required");
}

TEST(SecurityContextTest, LocalhostProfileIsLoadedFromTheRoot) {
  std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("kl-seccomp-sc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root);
  struct Cleanup {
    std::filesystem::path d;
    ~Cleanup() { std::filesystem::remove_all(d); }
  } cleanup{root};
  std::ofstream(root / "deny-mkdir.json")
      << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})";
  std::ofstream(root / "broken.json") << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"]}]})";
  SecurityContextOptions o{.seccomp_profile_root = root.string(), .seccomp_default = false};
  Result<ProcessSecurityRequest> r = request(
      "{}", R"({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "deny-mkdir.json"}}})", o);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->seccomp, SeccompProfileType::kLocalhost);
  ASSERT_TRUE(r->localhost_profile.has_value());
  EXPECT_EQ(r->localhost_profile->syscalls.size(), 1U);
  // And the whole chain compiles.
  EXPECT_TRUE(prepare_process_security(*r).ok());

  r = request("{}", R"({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "broken.json"}}})", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "spec.containers[0].securityContext.seccompProfile: seccomp profile " +
                                     (root / "broken.json").string() + ": syscalls[0].action: required");
}

TEST(PrepareProcessSecurityTest, PrivilegedIsUnconfinedAndNeverNoNewPrivs) {
  ProcessSecurityRequest req;
  req.capabilities.privileged = true;
  req.no_new_privs = true;
  Result<ProcessSecurity> s = prepare_process_security(req);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->seccomp.empty());
  EXPECT_FALSE(s->no_new_privs);
}

TEST(PrepareProcessSecurityTest, LocalhostWithoutProfileIsAnError) {
  ProcessSecurityRequest req;
  req.seccomp = SeccompProfileType::kLocalhost;
  Result<ProcessSecurity> s = prepare_process_security(req);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "seccompProfile: type Localhost needs a profile");
}

TEST(PrepareProcessSecurityTest, IdentitySetsTheUidForCapabilities) {
  ProcessSecurityRequest req;
  req.identity = ProcessIdentity{1000, 1000, {}};
  Result<ProcessSecurity> s = prepare_process_security(req);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->set_identity);
  EXPECT_TRUE(s->caps.effective.empty());
  EXPECT_EQ(s->caps.bounding, default_capabilities() & req.all_capabilities);
  EXPECT_FALSE(s->seccomp.empty());  // RuntimeDefault is the request's default
}

}  // namespace
}  // namespace kernlet::seccomp
