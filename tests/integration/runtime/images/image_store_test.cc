// The image store against the project's test images: OCI layout and docker-archive import,
// whiteouts as overlayfs sees them (a real overlay mount in a private mount namespace),
// layer sharing, removal, garbage collection and crash leftovers. Root: chown, mknod,
// trusted.* xattrs, mount.
#include "runtime/images/image_store.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "tests/integration/runtime/images/fixtures.h"

namespace kernlet::images {
namespace {

using namespace testing;

int count_entries(const std::string& dir) {
  int n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d))
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") ++n;
  ::closedir(d);
  return n;
}

bool is_whiteout(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

std::string xattr(const std::string& p, const char* name) {
  char v[64];
  ssize_t n = ::lgetxattr(p.c_str(), name, v, sizeof v);
  return n < 0 ? std::string() : std::string(v, static_cast<size_t>(n));
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown, mknod, trusted.* xattrs)";
    std::string why;
    images_ = test_images(&why);
    if (images_.empty()) GTEST_SKIP() << why;
    auto s = ImageStore::open(tmp_ / "store");
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    store_ = std::move(*s);
  }

  TempDir tmp_{"kl-image-store"};
  std::string images_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, ImportsBusyboxFromAnOciLayout) {
  auto img = store_->import_oci_layout(images_ + "/busybox", "busybox");
  ASSERT_TRUE(img.ok()) << img.error().to_string();
  EXPECT_EQ(img->ref, "docker.io/library/busybox:latest");
  ASSERT_EQ(img->layer_dirs.size(), 1u);
  const std::string& root = img->layer_dirs[0];
  EXPECT_EQ(::access((root + "/bin/busybox").c_str(), X_OK), 0);
  char target[64] = {};
  ASSERT_GT(::readlink((root + "/bin/sh").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "busybox");
  struct stat st;
  ASSERT_EQ(::stat((root + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  ASSERT_EQ(::stat((root + "/root").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_mtime, 1700000000) << "directory mtimes are restored after their children";
  EXPECT_NE(slurp(root + "/etc/passwd").find("app:x:1000:1000"), std::string::npos);
  EXPECT_EQ(img->config.cmd, std::vector<std::string>{"sh"});
  EXPECT_EQ(img->config.labels.at("org.kernlet.test"), "busybox");

  // Found again by any spelling of the reference, and by image ID.
  auto again = store_->resolve("docker.io/library/busybox");
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(again->id, img->id);
  auto by_id = store_->resolve(img->id.str());
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->layer_dirs, img->layer_dirs);
  auto missing = store_->resolve("busybox:other");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  // A process spec from it, with the kubelet's rules.
  auto proc = apply_image_config(img->config, {}, {"echo", "hi"}, {{"IMAGE_VAR", "pod"}});
  ASSERT_TRUE(proc.ok());
  EXPECT_EQ(proc->args, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_NE(std::find(proc->env.begin(), proc->env.end(), "IMAGE_VAR=pod"), proc->env.end());
}

TEST_F(ImageStoreTest, LayeredImageBecomesOverlayLowerDirsWithWhiteouts) {
  auto bb = store_->import_oci_layout(images_ + "/busybox", "kernlet.test/busybox:1");
  ASSERT_TRUE(bb.ok()) << bb.error().to_string();
  auto img = store_->import_oci_layout(images_ + "/layered", "kernlet.test/layered:1");
  ASSERT_TRUE(img.ok()) << img.error().to_string();
  ASSERT_EQ(img->layer_dirs.size(), 4u);
  EXPECT_EQ(img->layer_dirs[0], bb->layer_dirs[0]) << "the shared base layer is unpacked once";
  EXPECT_EQ(count_entries(tmp_ / "store/layers"), 4);

  const auto& l = img->layer_dirs;
  // Layer 2 (plain tar): a hardlink pair and a 0640 file.
  struct stat a, b;
  ASSERT_EQ(::stat((l[1] + "/data/file").c_str(), &a), 0);
  ASSERT_EQ(::stat((l[1] + "/data/hardlink").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  ASSERT_EQ(::stat((l[1] + "/data/old/a").c_str(), &a), 0);
  EXPECT_EQ(a.st_mode & 07777, 0640u);
  // Layer 3 (gzip): whiteout and opaque dir in overlayfs form.
  EXPECT_TRUE(is_whiteout(l[2] + "/etc/remove-me"));
  EXPECT_FALSE(::access((l[2] + "/etc/.wh.remove-me").c_str(), F_OK) == 0);
  EXPECT_EQ(xattr(l[2] + "/data/old", "trusted.overlay.opaque"), "y");
  EXPECT_FALSE(::access((l[2] + "/data/old/.wh..wh..opq").c_str(), F_OK) == 0);
  // Layer 4 (zstd).
  EXPECT_TRUE(is_whiteout(l[3] + "/data/keep"));

  // Mount them the way the container code will (overlayfs wants the top layer first) in a
  // private mount namespace of a child, and look at the merged view.
  std::string lower;
  for (auto it = l.rbegin(); it != l.rend(); ++it) lower += (lower.empty() ? "" : ":") + *it;
  std::string mnt = tmp_ / "merged";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) _exit(10);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(11);
    if (::mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, ("lowerdir=" + lower).c_str()) != 0) _exit(12);
    if (::access((mnt + "/etc/remove-me").c_str(), F_OK) == 0) _exit(20);  // whited out
    if (::access((mnt + "/data/keep").c_str(), F_OK) == 0) _exit(21);      // whited out
    if (::access((mnt + "/data/old/a").c_str(), F_OK) == 0) _exit(22);     // hidden by opaque
    if (::access((mnt + "/data/old/c").c_str(), F_OK) != 0) _exit(23);     // new in the opaque dir
    if (slurp(mnt + "/etc/motd") != "layered image motd\n") _exit(24);     // replaced upstairs
    if (::access((mnt + "/bin/busybox").c_str(), X_OK) != 0) _exit(25);    // from the base
    if (slurp(mnt + "/data/hardlink") != "linked\n") _exit(26);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "merged-view check failed (code " << WEXITSTATUS(status)
                                    << "; 10-12 setup, 20+ content: see the test)";
}

TEST_F(ImageStoreTest, ImportsADockerSaveArchive) {
  if (!have("/usr/bin/skopeo")) GTEST_SKIP() << "skopeo not installed";
  std::string archive = tmp_ / "busybox-docker.tar";
  std::string log = tmp_ / "skopeo.log";
  ASSERT_EQ(run({"skopeo", "--insecure-policy", "--tmpdir", tmp_.path(), "copy", "-q",
                 "oci:" + images_ + "/busybox:latest", "docker-archive:" + archive + ":kernlet.test/dock:v1"},
                log),
            0)
      << slurp(log);
  auto oci = store_->import_oci_layout(images_ + "/busybox", "kernlet.test/oci:v1");
  ASSERT_TRUE(oci.ok()) << oci.error().to_string();
  auto imgs = store_->import_docker_archive(archive);
  ASSERT_TRUE(imgs.ok()) << imgs.error().to_string();
  ASSERT_EQ(imgs->size(), 1u);
  const Image& img = (*imgs)[0];
  EXPECT_EQ(img.ref, "kernlet.test/dock:v1");
  EXPECT_EQ(img.id, oci->id) << "same config, same image ID";
  ASSERT_EQ(img.layer_dirs.size(), 1u);
  EXPECT_EQ(img.layer_dirs, oci->layer_dirs) << "same diff_id, same layer directory";
  auto resolved = store_->resolve("kernlet.test/dock:v1");
  ASSERT_TRUE(resolved.ok()) << resolved.error().to_string();
  auto listed = store_->list();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);

  // Bad archives name the problem.
  spit(tmp_ / "junk.tar", "not a tar file at all, not even close................");
  auto bad = store_->import_docker_archive(tmp_ / "junk.tar");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("junk.tar"), std::string::npos);
}

TEST_F(ImageStoreTest, RemoveThenGcFreesOnlyWhatNoImageUses) {
  ASSERT_TRUE(store_->import_oci_layout(images_ + "/busybox", "kernlet.test/busybox:1").ok());
  ASSERT_TRUE(store_->import_oci_layout(images_ + "/layered", "kernlet.test/layered:1").ok());
  int blobs_before = count_entries(tmp_ / "store/blobs/sha256");
  EXPECT_EQ(blobs_before, 3 + 2 + 3);  // busybox: manifest, config, layer; layered: +2 +3 layers

  auto nothing = store_->gc();
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(nothing->blobs_removed, 0);
  EXPECT_EQ(nothing->layers_removed, 0);

  ASSERT_TRUE(store_->remove("kernlet.test/layered:1").ok());
  auto gone = store_->resolve("kernlet.test/layered:1");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  auto again = store_->remove("kernlet.test/layered:1");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);

  auto stats = store_->gc();
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->layers_removed, 3);  // the shared base layer stays
  EXPECT_EQ(stats->blobs_removed, 5);
  EXPECT_EQ(count_entries(tmp_ / "store/layers"), 1);
  auto bb = store_->resolve("kernlet.test/busybox:1");
  ASSERT_TRUE(bb.ok()) << bb.error().to_string();
  EXPECT_EQ(::access((bb->layer_dirs[0] + "/bin/busybox").c_str(), X_OK), 0);

  ASSERT_TRUE(store_->remove("kernlet.test/busybox:1").ok());
  ASSERT_TRUE(store_->gc().ok());
  EXPECT_EQ(count_entries(tmp_ / "store/layers"), 0);
  EXPECT_EQ(count_entries(tmp_ / "store/blobs/sha256"), 0);
  EXPECT_EQ(count_entries(tmp_ / "store/tmp"), 0);
}

TEST_F(ImageStoreTest, ACorruptLayerIsNeverUsedOrRecorded) {
  // Copy the layered layout and flip a byte in its plain-tar layer: the digest check on
  // import must refuse it before anything is unpacked or recorded.
  std::string copy = tmp_ / "corrupt";
  ASSERT_EQ(run({"cp", "-a", images_ + "/layered", copy}), 0);
  std::string manifest_digest;
  {
    auto index = slurp(copy + "/index.json");
    auto p = index.find("sha256:");
    manifest_digest = index.substr(p + 7, 64);
  }
  std::string manifest = slurp(copy + "/blobs/sha256/" + manifest_digest);
  const std::string needle = "v1.tar\",\"digest\":\"sha256:";
  auto p = manifest.find(needle);
  ASSERT_NE(p, std::string::npos);
  std::string layer = copy + "/blobs/sha256/" + manifest.substr(p + needle.size(), 64);
  std::string data = slurp(layer);
  data[700] ^= 1;
  spit(layer, data);

  auto img = store_->import_oci_layout(copy, "kernlet.test/corrupt:1");
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.error().message().find("digest mismatch"), std::string::npos) << img.error().message();
  EXPECT_FALSE(store_->resolve("kernlet.test/corrupt:1").ok());
  EXPECT_EQ(count_entries(tmp_ / "store/tmp"), 0);
  // No layer of the failed import is visible (the base may have been unpacked: it is intact).
  EXPECT_LE(count_entries(tmp_ / "store/layers"), 1);
}

TEST_F(ImageStoreTest, LeftoversOfACrashAreRemovedOnOpen) {
  ASSERT_TRUE(store_->import_oci_layout(images_ + "/busybox", "kernlet.test/busybox:1").ok());
  // What a crash mid-pull leaves: a partial blob and a half-unpacked layer in tmp/.
  spit(tmp_ / "store/tmp/blob-deadbeef", "partial");
  ASSERT_EQ(::mkdir((tmp_ / "store/tmp/unpack-deadbeef").c_str(), 0755), 0);
  spit(tmp_ / "store/tmp/unpack-deadbeef/half", "x");
  store_.reset();
  auto reopened = ImageStore::open(tmp_ / "store");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(count_entries(tmp_ / "store/tmp"), 0);
  auto img = (*reopened)->resolve("kernlet.test/busybox:1");
  ASSERT_TRUE(img.ok()) << img.error().to_string();
}

}  // namespace
}  // namespace kernlet::images
