#include "runtime/images/oci.h"

#include <gtest/gtest.h>

#include "runtime/images/registry_client.h"

namespace kernlet::images {
namespace {

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

std::string index_json() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
         kD1 + R"(","size":10,
       "platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
         kD2 + R"(","size":11,
       "platform":{"os":"linux","architecture":"amd64"}},
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
         kD3 + R"(","size":12,
       "platform":{"os":"windows","architecture":"amd64"}}]})";
}

TEST(OciTest, ClassifiesByContentTypeThenMediaTypeThenShape) {
  EXPECT_EQ(*classify_document("{}", "application/vnd.oci.image.index.v1+json"), DocumentKind::kIndex);
  EXPECT_EQ(*classify_document(index_json()), DocumentKind::kIndex);
  EXPECT_EQ(*classify_document(R"({"schemaVersion":2,"layers":[]})"), DocumentKind::kManifest);
  auto v1 = classify_document(R"({"schemaVersion":1,"fsLayers":[]})");
  ASSERT_FALSE(v1.ok());
  EXPECT_NE(v1.error().message().find("schema1"), std::string::npos);
}

TEST(OciTest, SelectsLinuxAmd64FromAManifestList) {
  auto idx = parse_index(index_json());
  ASSERT_TRUE(idx.ok()) << idx.error().to_string();
  ASSERT_EQ(idx->manifests.size(), 3u);
  auto d = select_platform(*idx, Platform{});
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_EQ(d->digest.str(), kD2);
  auto arm = select_platform(*idx, Platform{"linux", "arm64", "v8"});
  ASSERT_TRUE(arm.ok());
  EXPECT_EQ(arm->digest.str(), kD1);
  auto none = select_platform(*idx, Platform{"linux", "s390x", ""});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.error().message().find("linux/arm64/v8, linux/amd64, windows/amd64"), std::string::npos)
      << none.error().message();
}

TEST(OciTest, ParsesDockerAndOciManifests) {
  std::string docker = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
                       kD1 + R"(","size":7},
    "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")" +
                       kD2 + R"(","size":99}]})";
  auto m = parse_manifest(docker);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->config.digest.str(), kD1);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 99);

  std::string foreign = R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kD1 +
                        R"(","size":1},"layers":[{"mediaType":"application/x-squashfs","digest":")" + kD2 +
                        R"(","size":1}]})";
  auto bad = parse_manifest(foreign);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("layers[0]"), std::string::npos);
  EXPECT_NE(bad.error().message().find("application/x-squashfs"), std::string::npos);

  auto bad_digest = parse_manifest(R"({"schemaVersion":2,"config":{"digest":"sha256:xyz","size":1},"layers":[]})");
  ASSERT_FALSE(bad_digest.ok());
  EXPECT_NE(bad_digest.error().message().find("config.digest"), std::string::npos);
}

TEST(OciTest, ParsesImageConfig) {
  std::string cfg = R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/e"],"Cmd":null,
    "Env":["A=1"],"WorkingDir":"/w","User":"1:2","ExposedPorts":{"80/tcp":{}},"Labels":{"k":"v"},"StopSignal":"SIGQUIT"},
    "rootfs":{"type":"layers","diff_ids":[")" +
                    kD3 + R"("]}})";
  auto c = parse_image_config(cfg);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/e"});
  EXPECT_TRUE(c->cmd.empty());
  EXPECT_EQ(c->working_dir, "/w");
  EXPECT_EQ(c->user, "1:2");
  EXPECT_EQ(c->stop_signal, "SIGQUIT");
  EXPECT_EQ(c->exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(c->labels.at("k"), "v");
  ASSERT_EQ(c->diff_ids.size(), 1u);
  auto bad = parse_image_config(R"({"config":{"Cmd":"sh"},"rootfs":{"type":"layers","diff_ids":[]}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("config.Cmd"), std::string::npos);
}

TEST(WwwAuthenticateTest, ParsesBearerChallenge) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params.at("realm"), "https://auth.example.com/token");
  EXPECT_EQ(c->params.at("service"), "registry.example.com");
  EXPECT_EQ(c->params.at("scope"), "repository:a/b:pull,push");
  auto b = parse_www_authenticate(R"(Basic realm="basic-realm")");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->scheme, "basic");
  EXPECT_FALSE(parse_www_authenticate(R"(Bearer realm="unterminated)").ok());
}

TEST(UrlTest, ParsesAndResolves) {
  auto u = Url::parse("https://127.0.0.1:5443/token?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "5443");
  EXPECT_EQ(u->target, "/token?x=1");
  EXPECT_EQ(Url::parse("http://example.com")->port, "80");
  EXPECT_EQ(Url::parse("http://example.com")->target, "/");
  auto r = u->resolve("/v2/x/blobs/y");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str(), "https://127.0.0.1:5443/v2/x/blobs/y");
  EXPECT_FALSE(Url::parse("ftp://x/").ok());
  EXPECT_FALSE(Url::parse("http://user@x/").ok());
}

}  // namespace
}  // namespace kernlet::images
