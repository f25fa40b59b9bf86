// Pulls from a real OCI distribution registry: Debian's docker-registry (distribution 2.8)
// on 127.0.0.1 with its own storage, images pushed into it by skopeo. Plain HTTP, HTTPS
// with a CA generated here, and token auth with a token server written here (python3-jwt,
// RS256, the signing certificate as the registry's rootcertbundle).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "runtime/images/image_store.h"
#include "tests/integration/runtime/images/fixtures.h"

namespace kernlet::images {
namespace {

using namespace testing;

constexpr const char* kRegistry = "/usr/bin/docker-registry";
constexpr const char* kPython = "/usr/bin/python3";  // Debian's, which has python3-jwt

// A token server for distribution's `auth: token`: checks Basic credentials, then issues
// an RS256 JWT for the scopes asked, with the signing certificate in the x5c header.
constexpr const char* kTokenServer = R"PY(
import base64, http.server, json, secrets, sys, time
from urllib.parse import urlparse, parse_qs
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

key, cert_pem, port_file, creds, issuer, log = sys.argv[1:7]
key = open(key, 'rb').read()
cert = x509.load_pem_x509_certificate(open(cert_pem, 'rb').read())
x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
want = 'Basic ' + base64.b64encode(creds.encode()).decode()

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        ok = self.headers.get('Authorization', '') == want
        with open(log, 'a') as f:
            f.write('%s %s\n' % ('granted' if ok else 'denied', ' '.join(q.get('scope', []))))
        if not ok:
            self.send_response(401)
            self.end_headers()
            return
        access = []
        for scope in q.get('scope', []):
            for one in scope.split(' '):
                typ, rest = one.split(':', 1)
                name, actions = rest.rsplit(':', 1)
                access.append({'type': typ, 'name': name, 'actions': actions.split(',')})
        now = int(time.time())
        claims = {'iss': issuer, 'sub': creds.split(':')[0], 'aud': q.get('service', [''])[0],
                  'exp': now + 600, 'nbf': now - 10, 'iat': now, 'jti': secrets.token_hex(8),
                  'access': access}
        token = jwt.encode(claims, key, algorithm='RS256', headers={'x5c': x5c})
        body = json.dumps({'token': token, 'access_token': token, 'expires_in': 600}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
with open(port_file + '.tmp', 'w') as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + '.tmp', port_file)
server.serve_forever()
)PY";

struct RegistryConfig {
  std::string tls_cert, tls_key;        // HTTPS when set
  std::string token_realm, token_cert;  // auth: token when set
  std::string htpasswd;                 // auth: htpasswd (Basic) when set
};

class RegistryPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (layer ownership, device nodes)";
    if (!have(kRegistry)) GTEST_SKIP() << "docker-registry not installed";
    if (!have("/usr/bin/skopeo")) GTEST_SKIP() << "skopeo not installed";
    std::string why;
    images_ = test_images(&why);
    if (images_.empty()) GTEST_SKIP() << why;
    auto s = ImageStore::open(tmp_ / "store");
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    store_ = std::move(*s);
  }

  // Starts docker-registry on an unused loopback port; retries if the port was taken
  // between choosing and binding it.
  void start_registry(const RegistryConfig& c) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = unused_port();
      std::string cfg =
          "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
          "storage:\n  filesystem:\n    rootdirectory: " +
          tmp_ / "registry-data" + "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) +
          "\n";
      if (!c.tls_cert.empty()) cfg += "  tls:\n    certificate: " + c.tls_cert + "\n    key: " + c.tls_key + "\n";
      if (!c.htpasswd.empty()) cfg += "auth:\n  htpasswd:\n    realm: kernlet-basic\n    path: " + c.htpasswd + "\n";
      if (!c.token_realm.empty())
        cfg += "auth:\n  token:\n    realm: " + c.token_realm +
               "\n    service: kernlet-test-registry\n"
               "    issuer: kernlet-test-issuer\n    rootcertbundle: " +
               c.token_cert + "\n";
      spit(tmp_ / "registry.yml", cfg);
      registry_ = Child({kRegistry, "serve", tmp_ / "registry.yml"}, tmp_ / "registry.log");
      if (wait_for_port(port_, registry_, std::chrono::seconds(15))) return;
      registry_.stop();
    }
    FAIL() << "docker-registry did not start: " << slurp(tmp_ / "registry.log");
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  // skopeo copy oci:<layout>:<name> docker://<registry>/<repo>.
  void push(const std::string& layout, const std::string& name, const std::string& repo,
            const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"skopeo", "--insecure-policy",      "--tmpdir", tmp_.path(), "copy",
                                     "-q",     "--dest-tls-verify=false"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("oci:" + layout + ":" + name);
    argv.push_back("docker://" + host() + "/" + repo);
    std::string log = tmp_ / "skopeo.log";
    ASSERT_EQ(run(argv, log), 0) << slurp(log) << "\nregistry log:\n" << slurp(tmp_ / "registry.log");
  }

  // A self-signed certificate for 127.0.0.1 (also used to sign tokens: RSA).
  void make_cert(const std::string& prefix) {
    std::string log = tmp_ / "openssl.log";
    ASSERT_EQ(
        run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", prefix + "-key.pem", "-out",
             prefix + "-cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
            log),
        0)
        << slurp(log);
  }

  TempDir tmp_{"kl-registry"};
  std::string images_;
  std::unique_ptr<ImageStore> store_;
  Child registry_;
  int port_ = 0;
};

TEST_F(RegistryPullTest, PullsOverHttpByTagByDigestAndFromAnIndex) {
  start_registry({});
  push(images_ + "/busybox", "latest", "test/busybox:v1");
  push(images_ + "/layered", "latest", "test/layered:v1");

  PullOptions opts;
  opts.registry.plain_http = true;
  auto bb = store_->pull(host() + "/test/busybox:v1", opts);
  ASSERT_TRUE(bb.ok()) << bb.error().to_string();
  EXPECT_EQ(bb->ref, host() + "/test/busybox:v1");
  ASSERT_EQ(bb->layer_dirs.size(), 1u);
  EXPECT_EQ(::access((bb->layer_dirs[0] + "/bin/busybox").c_str(), X_OK), 0);

  // Four layers (gzip, plain, gzip, zstd), fetched concurrently; the base is shared.
  auto layered = store_->pull(host() + "/test/layered:v1", opts);
  ASSERT_TRUE(layered.ok()) << layered.error().to_string();
  ASSERT_EQ(layered->layer_dirs.size(), 4u);
  EXPECT_EQ(layered->layer_dirs[0], bb->layer_dirs[0]);
  struct stat st;
  ASSERT_EQ(::lstat((layered->layer_dirs[2] + "/etc/remove-me").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));

  // Docker v2 schema2: skopeo converts the manifest on push; same layer, same directory.
  push(images_ + "/busybox", "latest", "test/docker:v2s2", {"--format", "v2s2"});
  auto v2s2 = store_->pull(host() + "/test/docker:v2s2", opts);
  ASSERT_TRUE(v2s2.ok()) << v2s2.error().to_string();
  auto v2s2_manifest = store_->blobs().read(v2s2->manifest_digest);
  ASSERT_TRUE(v2s2_manifest.ok());
  EXPECT_NE(v2s2_manifest->find("application/vnd.docker.distribution.manifest.v2+json"), std::string::npos);
  EXPECT_EQ(v2s2->layer_dirs, bb->layer_dirs);

  // The same image by digest.
  auto by_digest = store_->pull(host() + "/test/busybox@" + bb->manifest_digest.str(), opts);
  ASSERT_TRUE(by_digest.ok()) << by_digest.error().to_string();
  EXPECT_EQ(by_digest->id, bb->id);

  // An index with two platforms: linux/amd64 → busybox, linux/arm64 → layered.
  std::string multi = tmp_ / "multi";
  ASSERT_EQ(run({"cp", "-a", images_ + "/layered", multi}), 0);
  ASSERT_EQ(run({"sh", "-c", "cp -n " + images_ + "/busybox/blobs/sha256/* " + multi + "/blobs/sha256/"}), 0);
  // Manifest descriptors as the layouts' own index.json files have them.
  auto descriptor = [](const std::string& layout_index, const std::string& arch) {
    std::string text = slurp(layout_index);
    auto b = text.find("{\"mediaType\"", text.find("\"manifests\""));
    auto e = text.find(",\"platform\"", b);
    return text.substr(b, e - b) + ",\"platform\":{\"os\":\"linux\",\"architecture\":\"" + arch + "\"}}";
  };
  std::string index = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[" +
                      descriptor(images_ + "/layered/index.json", "arm64") + "," +
                      descriptor(images_ + "/busybox/index.json", "amd64") + "]}";
  Digest index_digest = Digest::of(index);
  spit(multi + "/blobs/sha256/" + std::string(index_digest.hex()), index);
  spit(multi + "/index.json",
       "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"" +
           index_digest.str() + "\",\"size\":" + std::to_string(index.size()) +
           ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"multi\"}}]}");
  push(multi, "multi", "test/multi:v1", {"--all"});
  auto amd = store_->pull(host() + "/test/multi:v1", opts);
  ASSERT_TRUE(amd.ok()) << amd.error().to_string();
  EXPECT_FALSE(amd->index_digest.empty());
  EXPECT_EQ(amd->id, bb->id);
  EXPECT_EQ(amd->layer_dirs.size(), 1u);
  PullOptions arm = opts;
  arm.platform.architecture = "arm64";
  auto arm_img = store_->pull(host() + "/test/multi:v1", arm);
  ASSERT_TRUE(arm_img.ok()) << arm_img.error().to_string();
  EXPECT_EQ(arm_img->id, layered->id);
  EXPECT_EQ(arm_img->layer_dirs.size(), 4u);
  PullOptions s390 = opts;
  s390.platform.architecture = "s390x";
  auto none = store_->pull(host() + "/test/multi:v1", s390);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("linux/s390x"), std::string::npos) << none.error().message();

  // Unknown repositories and tags are kNotFound with the registry's own explanation.
  auto missing = store_->pull(host() + "/test/nope:v1", opts);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << missing.error().to_string();
  EXPECT_NE(missing.error().message().find("MANIFEST_UNKNOWN"), std::string::npos) << missing.error().message();
}

TEST_F(RegistryPullTest, ConcurrentPullsOfOneImageShareTheWork) {
  start_registry({});
  push(images_ + "/layered", "latest", "test/layered:v1");
  PullOptions opts;
  opts.registry.plain_http = true;
  // Two pulls race for the same blobs and layer directories; both must succeed and end
  // with one copy of each.
  Result<Image> a = Error("not run"), b = Error("not run");
  std::thread ta([&] { a = store_->pull(host() + "/test/layered:v1", opts); });
  std::thread tb([&] { b = store_->pull(host() + "/test/layered:v1", opts); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  EXPECT_EQ(a->layer_dirs, b->layer_dirs);
  std::string count = tmp_ / "count";
  ASSERT_EQ(run({"sh", "-c", "ls -A " + tmp_ / "store/layers" + " | wc -l > " + count}), 0);
  EXPECT_EQ(std::stoi(slurp(count)), 4);
  ASSERT_EQ(run({"sh", "-c", "ls -A " + tmp_ / "store/tmp" + " | wc -l > " + count}), 0);
  EXPECT_EQ(std::stoi(slurp(count)), 0);
  auto listed = store_->list();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(RegistryPullTest, ABlobTheRegistryCorruptedIsRefused) {
  start_registry({});
  push(images_ + "/layered", "latest", "test/layered:v1");
  // Flip a byte of the zstd layer inside the registry's storage: the registry serves it
  // happily, the digest check must not.
  std::string found = tmp_ / "found";
  ASSERT_EQ(run({"sh", "-c",
                 "find " + tmp_ / "registry-data" + " -path '*blobs/sha256/*/data' -size -2k -size +100c > " + found}),
            0);
  std::string path;
  for (std::istringstream in(slurp(found)); std::getline(in, path);) {
    std::string data = slurp(path);
    if (data.size() > 4 && static_cast<unsigned char>(data[0]) == 0x28 && static_cast<unsigned char>(data[1]) == 0xb5) {
      data[data.size() / 2] ^= 0x55;
      spit(path, data);
      break;
    }
  }
  PullOptions opts;
  opts.registry.plain_http = true;
  auto img = store_->pull(host() + "/test/layered:v1", opts);
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.error().message().find("digest mismatch"), std::string::npos) << img.error().message();
  EXPECT_FALSE(store_->resolve(host() + "/test/layered:v1").ok());
  // Only complete layers may be visible, never the corrupted one; tmp/ holds nothing.
  std::string count = tmp_ / "count";
  ASSERT_EQ(run({"sh", "-c", "ls -A " + tmp_ / "store/tmp" + " | wc -l > " + count}), 0);
  EXPECT_EQ(std::stoi(slurp(count)), 0);
  ASSERT_EQ(run({"sh", "-c", "ls -A " + tmp_ / "store/layers" + " | wc -l > " + count}), 0);
  EXPECT_LE(std::stoi(slurp(count)), 3);
}

TEST_F(RegistryPullTest, PullsOverHttpsWithTheGivenCa) {
  make_cert(tmp_ / "tls");
  start_registry({tmp_ / "tls-cert.pem", tmp_ / "tls-key.pem", "", "", ""});
  push(images_ + "/busybox", "latest", "test/busybox:v1");

  PullOptions opts;
  opts.registry.ca_file = tmp_ / "tls-cert.pem";
  auto img = store_->pull(host() + "/test/busybox:v1", opts);
  ASSERT_TRUE(img.ok()) << img.error().to_string();
  EXPECT_EQ(img->layer_dirs.size(), 1u);

  // Without the CA the certificate is not trusted.
  auto untrusted = store_->pull(host() + "/test/busybox:v1", PullOptions{});
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.error().message().find("TLS handshake"), std::string::npos) << untrusted.error().message();
}

TEST_F(RegistryPullTest, PullsWithBearerTokensFromTheRealm) {
  if (!have(kPython) || run({kPython, "-c", "import jwt, cryptography"}) != 0)
    GTEST_SKIP() << "python3-jwt and python3-cryptography are needed for the token server";
  make_cert(tmp_ / "token");
  std::string port_file = tmp_ / "token-port";
  std::string token_log = tmp_ / "token-requests.log";
  spit(tmp_ / "token_server.py", kTokenServer);
  Child token_server({kPython, tmp_ / "token_server.py", tmp_ / "token-key.pem", tmp_ / "token-cert.pem", port_file,
                      "puller:s3cret", "kernlet-test-issuer", token_log},
                     tmp_ / "token-server.log");
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (::access(port_file.c_str(), F_OK) != 0 && token_server.running() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(::access(port_file.c_str(), F_OK), 0) << slurp(tmp_ / "token-server.log");
  std::string realm = "http://127.0.0.1:" + slurp(port_file) + "/token";

  start_registry({"", "", realm, tmp_ / "token-cert.pem", ""});
  push(images_ + "/busybox", "latest", "test/busybox:v1", {"--dest-creds", "puller:s3cret"});

  PullOptions opts;
  opts.registry.plain_http = true;
  opts.registry.credentials = Credentials{"puller", "s3cret"};
  auto img = store_->pull(host() + "/test/busybox:v1", opts);
  ASSERT_TRUE(img.ok()) << img.error().to_string() << "\nregistry log:\n" << slurp(tmp_ / "registry.log");
  EXPECT_EQ(img->layer_dirs.size(), 1u);
  EXPECT_NE(slurp(token_log).find("granted repository:test/busybox:pull"), std::string::npos) << slurp(token_log);

  // Wrong credentials: the token server says no, and the error says so.
  PullOptions wrong = opts;
  wrong.registry.credentials = Credentials{"puller", "guess"};
  auto denied = store_->pull(host() + "/test/busybox:v1", wrong);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code(), ErrorCode::kUnauthenticated) << denied.error().to_string();
  EXPECT_NE(denied.error().message().find("get token"), std::string::npos) << denied.error().message();
}

TEST_F(RegistryPullTest, PullsWithBasicAuth) {
  // A bcrypt htpasswd line (cost 4: the registry checks it on every request) from Debian's
  // python3 (libxcrypt), the format the registry reads.
  std::string htpasswd = tmp_ / "htpasswd";
  std::string log = tmp_ / "htpasswd.log";
  if (!have(kPython) || run({kPython, "-W", "ignore", "-c",
                             "import crypt,sys; open(sys.argv[1],'w').write('puller:' + "
                             "crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)) + '\\n')",
                             htpasswd},
                            log) != 0)
    GTEST_SKIP() << "cannot make a bcrypt htpasswd entry: " << slurp(log);
  start_registry({"", "", "", "", htpasswd});
  push(images_ + "/busybox", "latest", "test/busybox:v1", {"--dest-creds", "puller:s3cret"});

  PullOptions opts;
  opts.registry.plain_http = true;
  auto anonymous = store_->pull(host() + "/test/busybox:v1", opts);
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.error().code(), ErrorCode::kUnauthenticated) << anonymous.error().to_string();
  EXPECT_NE(anonymous.error().message().find("Basic"), std::string::npos) << anonymous.error().message();

  opts.registry.credentials = Credentials{"puller", "s3cret"};
  auto img = store_->pull(host() + "/test/busybox:v1", opts);
  ASSERT_TRUE(img.ok()) << img.error().to_string();
  EXPECT_EQ(img->layer_dirs.size(), 1u);
}

}  // namespace
}  // namespace kernlet::images
