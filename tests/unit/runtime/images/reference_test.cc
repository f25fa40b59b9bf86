#include "runtime/images/reference.h"

#include <gtest/gtest.h>

namespace kernlet::images {
namespace {

struct Case {
  const char* in;
  const char* canonical;
  const char* domain;
  const char* repository;
};

TEST(ReferenceTest, NormalisesLikeDockerAndTheKubelet) {
  const std::string dig = "sha256:" + std::string(64, 'a');
  const Case cases[] = {
      {"busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox"},
      {"busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox"},
      {"docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox"},
      {"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox"},
      {"user/app", "docker.io/user/app:latest", "docker.io", "user/app"},
      {"127.0.0.1:5000/test/busybox:v1", "127.0.0.1:5000/test/busybox:v1", "127.0.0.1:5000", "test/busybox"},
      {"localhost/app", "localhost/app:latest", "localhost", "app"},
      {"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9", "registry.k8s.io", "pause"},
      {"quay.io/a/b/c-d__e.f:tag_1.2-x", "quay.io/a/b/c-d__e.f:tag_1.2-x", "quay.io", "a/b/c-d__e.f"},
  };
  for (const auto& c : cases) {
    auto r = Reference::parse(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().to_string();
    EXPECT_EQ(r->str(), c.canonical) << c.in;
    EXPECT_EQ(r->domain, c.domain) << c.in;
    EXPECT_EQ(r->repository, c.repository) << c.in;
  }
}

TEST(ReferenceTest, DigestsReplaceTheDefaultTag) {
  const std::string dig = "sha256:" + std::string(64, 'a');
  auto r = Reference::parse("busybox@" + dig);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->digest, dig);
  EXPECT_EQ(r->str(), "docker.io/library/busybox@" + dig);
  EXPECT_EQ(r->manifest_reference(), dig);

  auto both = Reference::parse("127.0.0.1:5000/x:1.0@" + dig);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->str(), "127.0.0.1:5000/x:1.0@" + dig);
  EXPECT_EQ(both->manifest_reference(), dig);  // the digest wins
}

TEST(ReferenceTest, RegistryHostOfDockerHub) {
  EXPECT_EQ(Reference::parse("busybox")->registry_host(), "registry-1.docker.io");
  EXPECT_EQ(Reference::parse("127.0.0.1:5000/x")->registry_host(), "127.0.0.1:5000");
}

TEST(ReferenceTest, BadInputNamesTheProblem) {
  struct Bad {
    std::string in;
    const char* why;
  };
  const Bad bad[] = {
      {"", "empty"},
      {"Busybox", "lowercase"},
      {"busybox:", "invalid tag"},
      {"busybox:-x", "invalid tag"},
      {"busybox@sha256:abc", "64 hex"},
      {"busybox@md5:" + std::string(32, 'a'), "unsupported algorithm"},
      {"a//b", "invalid repository path component"},
      {"a/b-", "invalid repository path component"},
      {"example.com/", "missing repository"},
      {"busybox:" + std::string(129, 'a'), "invalid tag"},
  };
  for (const auto& b : bad) {
    auto r = Reference::parse(b.in);
    ASSERT_FALSE(r.ok()) << b.in;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(b.why), std::string::npos) << b.in << " -> " << r.error().message();
  }
}

}  // namespace
}  // namespace kernlet::images
