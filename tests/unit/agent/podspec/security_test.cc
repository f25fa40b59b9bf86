// Table tests of agent/podspec/security.h against the kubelet's and containerd's
// documented behaviour (determineEffectiveSecurityContext, verifyRunAsNonRoot,
// getSeccompProfile, containerd's user string and additional gids).
#include "agent/podspec/security.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

// The tables name only the Input fields a case sets.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace kernlet::agent::podspec {
namespace {

constexpr std::string_view kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000::/home/app:/bin/sh\n"
    "svc:x:1001:50::/:/bin/sh\n";
constexpr std::string_view kGroup =
    "root:x:0:\n"
    "app:x:1000:\n"
    "staff:x:50:\n"
    "wheel:x:10:app\n"
    "audio:x:29:app,svc\n";

json::object obj(std::string_view text) {
  Result<json::object> o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return o.ok() ? *o : json::object();
}

struct Input {
  std::string pod_sc = "{}";        // spec.securityContext
  std::string container_sc = "{}";  // containers[0].securityContext
  std::string image_user;
  std::string pod_extra;            // extra top-level members of the pod (annotations)
  SecurityOptions options;
};

Result<ContainerSecurity> run(const Input& in) {
  json::object pod = obj(R"({"metadata": {"name": "web", "namespace": "ns", "uid": "u-1")" + in.pod_extra +
                         R"(}, "spec": {"securityContext": )" + in.pod_sc +
                         R"(, "containers": [{"name": "app", "securityContext": )" + in.container_sc + "}]}}");
  const json::object& c = pod.at("spec").as_object().at("containers").as_array()[0].as_object();
  UserResolver resolve = [](std::string_view user) { return images::resolve_user_from(kPasswd, kGroup, user); };
  return container_security(api::PodView(pod), api::ContainerView(c), in.image_user, resolve, in.options);
}

TEST(ContainerSecurityTest, UserGroupsAndSupplementalGroups) {
  struct Case {
    Input in;
    uint32_t uid, gid;
    std::vector<uint32_t> groups;
  };
  const Case cases[] = {
      {{.image_user = ""}, 0, 0, {0}},                            // no USER: root
      {{.image_user = "app"}, 1000, 1000, {1000, 10, 29}},        // name: passwd + /etc/group members
      {{.image_user = "1000"}, 1000, 1000, {1000, 10, 29}},       // numeric uid listed in passwd
      {{.image_user = "1000:50"}, 1000, 1000, {1000, 10, 29}},    // the image's group is not used
      {{.image_user = "app:staff"}, 1000, 1000, {1000, 10, 29}},
      {{.image_user = "4242"}, 4242, 0, {0}},                     // not in passwd: gid 0
      {{.pod_sc = R"({"runAsUser": 1001})", .image_user = "app"}, 1001, 50, {50, 29}},
      {{.pod_sc = R"({"runAsUser": 1001})", .container_sc = R"({"runAsUser": 1000})"}, 1000, 1000, {1000, 10, 29}},
      {{.pod_sc = R"({"runAsGroup": 3000})", .image_user = "app"}, 1000, 3000, {3000, 10, 29}},
      // a runAsGroup the image already lists for the user stays where it is
      {{.pod_sc = R"({"runAsGroup": 29})", .image_user = "app"}, 1000, 29, {10, 29}},
      {{.pod_sc = R"({"runAsGroup": 3000})", .container_sc = R"({"runAsGroup": 7})", .image_user = "app"},
       1000, 7, {7, 10, 29}},
      {{.pod_sc = R"({"runAsUser": 5, "runAsGroup": 6, "fsGroup": 2000, "supplementalGroups": [4000, 5000]})"},
       5, 6, {6, 2000, 4000, 5000}},
      {{.pod_sc = R"({"fsGroup": 2000, "supplementalGroups": [29]})", .image_user = "app"},
       1000, 1000, {1000, 10, 29, 2000, 29}},                     // duplicates kept, as containerd
      {{.pod_sc = R"({"supplementalGroupsPolicy": "Strict", "fsGroup": 2000})", .image_user = "app"},
       1000, 1000, {1000, 2000}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in.pod_sc + " " + c.in.container_sc + " USER=" + c.in.image_user);
    Result<ContainerSecurity> s = run(c.in);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(s->uid, c.uid);
    EXPECT_EQ(s->gid, c.gid);
    EXPECT_EQ(s->supplemental_gids, c.groups);
    ASSERT_TRUE(s->request.identity.has_value());
    EXPECT_EQ(s->request.identity->uid, c.uid);
    EXPECT_EQ(s->request.identity->gid, c.gid);
    EXPECT_EQ(std::vector<uint32_t>(s->request.identity->additional_gids.begin(),
                                    s->request.identity->additional_gids.end()),
              c.groups);
    EXPECT_EQ(s->request.capabilities.uid, c.uid);
  }
}

TEST(ContainerSecurityTest, UnknownUserNameInTheImageFails) {
  Result<ContainerSecurity> s = run({.image_user = "ghost"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "user \"ghost\" not found in the image's /etc/passwd");
}

TEST(ContainerSecurityTest, RunAsNonRootWithTheKubeletsMessages) {
  const std::string where = R"js( (pod: "web_ns(u-1)", container: app))js";
  struct Case {
    Input in;
    std::string error;  // "" = allowed
  };
  const Case cases[] = {
      {{.pod_sc = R"({"runAsNonRoot": true})", .image_user = ""},
       "container has runAsNonRoot and image will run as root" + where},
      {{.pod_sc = R"({"runAsNonRoot": true})", .image_user = "0:0"},
       "container has runAsNonRoot and image will run as root" + where},
      {{.container_sc = R"({"runAsNonRoot": true})", .image_user = "app"},
       "container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root" + where},
      {{.pod_sc = R"({"runAsNonRoot": true})", .image_user = "1000"}, ""},
      {{.pod_sc = R"({"runAsNonRoot": true, "runAsUser": 0})", .image_user = "1000"},
       "container's runAsUser breaks non-root policy" + where},
      {{.pod_sc = R"({"runAsNonRoot": true})", .container_sc = R"({"runAsUser": 1000})", .image_user = "root"}, ""},
      {{.pod_sc = R"({"runAsNonRoot": true})", .container_sc = R"({"runAsNonRoot": false})", .image_user = ""}, ""},
      {{.pod_sc = R"({"runAsNonRoot": false})", .image_user = ""}, ""},
      {{.pod_sc = R"({"runAsNonRoot": true})", .image_user = "3000000000"},
       "container has runAsNonRoot and image has an invalid user id (3000000000). (Must be 1-(2147483647)): "
       "must be between 0 and 2147483647, inclusive" + where},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in.pod_sc + " " + c.in.container_sc + " USER=" + c.in.image_user);
    Result<ContainerSecurity> s = run(c.in);
    if (c.error.empty()) {
      EXPECT_TRUE(s.ok()) << s.error().to_string();
    } else {
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.error().message(), c.error);
    }
  }
}

TEST(ContainerSecurityTest, CapabilitiesPrivilegedEscalationReadOnlyRoot) {
  struct Case {
    std::string container_sc;
    bool no_new_privs;
    bool privileged;
    bool read_only;
  };
  const Case cases[] = {
      {"{}", false, false, false},
      {R"({"allowPrivilegeEscalation": true})", false, false, false},
      {R"({"allowPrivilegeEscalation": false})", true, false, false},
      {R"({"allowPrivilegeEscalation": false, "privileged": true})", false, true, false},
      {R"({"allowPrivilegeEscalation": false, "capabilities": {"add": ["SYS_ADMIN"]}})", false, false, false},
      {R"({"allowPrivilegeEscalation": false, "capabilities": {"add": ["cap_sys_admin"]}})", false, false, false},
      {R"({"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}})", true, false,
       false},
      {R"({"readOnlyRootFilesystem": true})", false, false, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.container_sc);
    Result<ContainerSecurity> s = run({.container_sc = c.container_sc, .image_user = "1000"});
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(s->request.no_new_privs, c.no_new_privs);
    EXPECT_EQ(s->privileged, c.privileged);
    EXPECT_EQ(s->request.capabilities.privileged, c.privileged);
    EXPECT_EQ(s->read_only_rootfs, c.read_only);
  }
  Result<ContainerSecurity> s =
      run({.container_sc = R"({"capabilities": {"add": ["NET_ADMIN", "CAP_SYS_TIME"], "drop": ["all"]}})"});
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->request.capabilities.add, (std::vector<std::string>{"NET_ADMIN", "CAP_SYS_TIME"}));
  EXPECT_EQ(s->request.capabilities.drop, (std::vector<std::string>{"all"}));

  s = run({.container_sc = R"({"capabilities": {"add": ["NET_ADMINN"]}})"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("container app: securityContext.capabilities.add"), std::string::npos)
      << s.error().message();
  EXPECT_NE(s.error().message().find("NET_ADMINN"), std::string::npos) << s.error().message();
}

TEST(ContainerSecurityTest, SeccompProfileChoice) {
  using T = seccomp::SeccompProfileType;
  struct Case {
    Input in;
    T want;
    std::optional<std::string> path;
  };
  const Case cases[] = {
      {{}, T::kUnconfined, std::nullopt},
      {{.options = {.seccomp_default = true}}, T::kRuntimeDefault, std::nullopt},
      {{.pod_sc = R"({"seccompProfile": {"type": "RuntimeDefault"}})"}, T::kRuntimeDefault, std::nullopt},
      {{.pod_sc = R"({"seccompProfile": {"type": "RuntimeDefault"}})",
        .container_sc = R"({"seccompProfile": {"type": "Unconfined"}})",
        .options = {.seccomp_default = true}},
       T::kUnconfined, std::nullopt},
      {{.container_sc = R"({"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/a.json"}})",
        .options = {.seccomp_profile_root = "/var/lib/kernlet/seccomp/"}},
       T::kLocalhost, "/var/lib/kernlet/seccomp/profiles/a.json"},
      {{.pod_sc = R"({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})",
        .options = {.seccomp_profile_root = "/r"}},
       T::kLocalhost, "/r/p.json"},
      {{.container_sc = R"({"seccompProfile": {"type": "Strict"}})", .options = {.seccomp_default = true}},
       T::kUnconfined, std::nullopt},
      // privileged containers run without seccomp
      {{.container_sc = R"({"privileged": true, "seccompProfile": {"type": "RuntimeDefault"}})"}, T::kUnconfined,
       std::nullopt},
      // the removed annotations change nothing
      {{.pod_extra = R"(, "annotations": {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"})"},
       T::kUnconfined, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in.pod_sc + " " + c.in.container_sc);
    Result<ContainerSecurity> s = run(c.in);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(s->request.seccomp, c.want);
    EXPECT_EQ(s->localhost_profile_path, c.path);
    EXPECT_FALSE(s->request.localhost_profile.has_value());
  }

  Result<ContainerSecurity> s = run({.container_sc = R"({"seccompProfile": {"type": "Localhost"}})"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "localhostProfile must be set if seccompProfile type is Localhost.");
  s = run({.container_sc = R"({"seccompProfile": {"type": "Localhost", "localhostProfile": "../etc/x.json"}})"});
  EXPECT_FALSE(s.ok());
}

TEST(ContainerSecurityTest, LocalhostProfileIsReadThroughTheReader) {
  Result<ContainerSecurity> s = run({.container_sc = R"({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})",
                                     .options = {.seccomp_profile_root = "/r"}});
  ASSERT_TRUE(s.ok());
  std::string asked;
  FileReader reader = [&](const std::string& path) -> Result<std::string> {
    asked = path;
    return std::string(R"({"defaultAction": "SCMP_ACT_ALLOW",
                           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})");
  };
  ContainerSecurity sec = *s;
  Result<void> r = load_localhost_profile(sec, reader);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(asked, "/r/p.json");
  ASSERT_TRUE(sec.request.localhost_profile.has_value());
  EXPECT_EQ(sec.request.localhost_profile->default_action, seccomp::SeccompAction::kAllow);
  ASSERT_EQ(sec.request.localhost_profile->syscalls.size(), 1u);

  sec = *s;
  r = load_localhost_profile(sec, [](const std::string& p) -> Result<std::string> {
    return Error::from_errno("open " + p);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("seccomp profile /r/p.json: open /r/p.json", 0), 0u) << r.error().message();

  sec = *s;
  r = load_localhost_profile(sec, [](const std::string&) -> Result<std::string> { return std::string("{"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("seccomp profile /r/p.json: ", 0), 0u) << r.error().message();

  // Nothing to load for other profile types.
  Result<ContainerSecurity> plain = run({});
  ASSERT_TRUE(plain.ok());
  ContainerSecurity p = *plain;
  EXPECT_TRUE(load_localhost_profile(p, nullptr).ok());
}

// The real seams read real files: a profile and an image's passwd in a scratch dir.
TEST(ContainerSecurityTest, RealSeamsReadFiles) {
  char tmpl[] = "/tmp/kl-podspec-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(::mkdir((dir + "/etc").c_str(), 0755), 0);
  {
    std::ofstream(dir + "/etc/passwd") << kPasswd;
    std::ofstream(dir + "/etc/group") << kGroup;
    std::ofstream(dir + "/p.json") << R"({"defaultAction": "SCMP_ACT_ALLOW"})";
  }
  Result<images::ResolvedUser> u = image_user_resolver({dir})("app");
  Result<std::string> text = host_file_reader()(dir + "/p.json");
  Result<std::string> missing = host_file_reader()(dir + "/absent.json");
  ::unlink((dir + "/etc/passwd").c_str());
  ::unlink((dir + "/etc/group").c_str());
  ::unlink((dir + "/p.json").c_str());
  ::rmdir((dir + "/etc").c_str());
  ::rmdir(dir.c_str());
  ASSERT_TRUE(u.ok()) << u.error().to_string();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{10, 29}));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, R"({"defaultAction": "SCMP_ACT_ALLOW"})");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sys_errno(), ENOENT);
}

// The request is what the runtime consumes: it must prepare (capabilities computed for
// the non-root uid, RuntimeDefault compiled) without root.
TEST(ContainerSecurityTest, RequestPreparesForTheRuntime) {
  Result<ContainerSecurity> s =
      run({.pod_sc = R"({"seccompProfile": {"type": "RuntimeDefault"}})",
           .container_sc = R"({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})",
           .image_user = "app"});
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  s->request.all_capabilities = seccomp::CapabilitySet((uint64_t{1} << (seccomp::kLastKnownCapability + 1)) - 1);
  Result<seccomp::ProcessSecurity> prepared = seccomp::prepare_process_security(s->request);
  ASSERT_TRUE(prepared.ok()) << prepared.error().to_string();
  EXPECT_TRUE(prepared->set_identity);
  EXPECT_EQ(prepared->identity.uid, 1000u);
  EXPECT_TRUE(prepared->no_new_privs);
  EXPECT_FALSE(prepared->seccomp.empty());
  EXPECT_EQ(prepared->caps.bounding, seccomp::CapabilitySet::of({10}));  // CAP_NET_BIND_SERVICE
  EXPECT_TRUE(prepared->caps.effective.empty());                        // non-root after execve
}

}  // namespace
}  // namespace kernlet::agent::podspec
