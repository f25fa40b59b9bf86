#include "csi/volume/atomic_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/unit/csi/volume/temp_dir.h"

namespace kernlet::csi {
namespace {

using testing::read_all;
using testing::TempDir;

std::string link_of(const std::string& p) {
  std::error_code ec;
  return std::filesystem::read_symlink(p, ec).string();
}

mode_t mode_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(AtomicWriter, LaysOutTimestampDirDataLinkAndVisibleLinks) {
  TempDir t;
  AtomicWriter w(t.path(), "test");
  Payload p{{"a", {"A", 0644}}, {"conf/b.yaml", {"B", 0600}}};
  Result<bool> r = w.write(p, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(*r);
  std::string ts = link_of(t.path() + "/..data");
  EXPECT_TRUE(ts.starts_with("..2")) << ts;
  EXPECT_EQ(link_of(t.path() + "/a"), "..data/a");
  EXPECT_EQ(link_of(t.path() + "/conf"), "..data/conf");
  EXPECT_EQ(read_all(t.path() + "/a"), "A");
  EXPECT_EQ(read_all(t.path() + "/conf/b.yaml"), "B");
  EXPECT_EQ(mode_of(t.path() + "/" + ts + "/a"), 0644u);
  EXPECT_EQ(mode_of(t.path() + "/" + ts + "/conf/b.yaml"), 0600u);
  EXPECT_EQ(mode_of(t.path() + "/" + ts), 0755u);
}

TEST(AtomicWriter, UnchangedPayloadIsNotRewritten) {
  TempDir t;
  AtomicWriter w(t.path(), "test");
  Payload p{{"a", {"A", 0644}}};
  ASSERT_TRUE(w.write(p, std::nullopt).ok());
  std::string ts = link_of(t.path() + "/..data");
  Result<bool> again = w.write(p, std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(link_of(t.path() + "/..data"), ts);
  // A mode change alone is a change.
  p["a"].mode = 0400;
  Result<bool> mode_change = w.write(p, std::nullopt);
  ASSERT_TRUE(mode_change.ok());
  EXPECT_TRUE(*mode_change);
}

TEST(AtomicWriter, UpdateSwapsDataRemovesOldVersionAndStaleLinks) {
  TempDir t;
  AtomicWriter w(t.path(), "test");
  ASSERT_TRUE(w.write({{"a", {"1", 0644}}, {"old", {"x", 0644}}}, std::nullopt).ok());
  std::string ts1 = link_of(t.path() + "/..data");
  ASSERT_TRUE(w.write({{"a", {"2", 0644}}, {"new", {"y", 0644}}}, std::nullopt).ok());
  std::string ts2 = link_of(t.path() + "/..data");
  EXPECT_NE(ts1, ts2);
  EXPECT_FALSE(std::filesystem::exists(t.path() + "/" + ts1));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(t.path() + "/old")));
  EXPECT_EQ(read_all(t.path() + "/a"), "2");
  EXPECT_EQ(read_all(t.path() + "/new"), "y");
  EXPECT_FALSE(std::filesystem::exists(t.path() + "/..data_tmp"));
  // Only ..data and one version directory remain besides the visible links.
  int dot_entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(t.path()))
    if (e.path().filename().string().starts_with("..")) ++dot_entries;
  EXPECT_EQ(dot_entries, 2);
}

TEST(AtomicWriter, EmptyPayloadLeavesAnEmptyVersion) {
  TempDir t;
  AtomicWriter w(t.path(), "test");
  ASSERT_TRUE(w.write({{"a", {"1", 0644}}}, std::nullopt).ok());
  ASSERT_TRUE(w.write({}, std::nullopt).ok());
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(t.path() + "/a")));
  EXPECT_TRUE(std::filesystem::is_directory(t.path() + "/..data"));
}

TEST(AtomicWriter, RejectsBadPathsAndKeepsTheOldVersion) {
  TempDir t;
  AtomicWriter w(t.path(), "vol cfg");
  ASSERT_TRUE(w.write({{"a", {"1", 0644}}}, std::nullopt).ok());
  for (const char* bad : {"/abs", "../up", "a/../../b", "..hidden", ""}) {
    Result<bool> r = w.write({{bad, {"x", 0644}}}, std::nullopt);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("vol cfg"), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(read_all(t.path() + "/a"), "1");
}

TEST(AtomicWriter, FsGroupGivesGroupReadAndSetgidDirs) {
  TempDir t;
  AtomicWriter w(t.path(), "test");
  gid_t gid = ::getegid();
  ASSERT_TRUE(w.write({{"d/f", {"x", 0600}}}, gid).ok());
  std::string ts = t.path() + "/" + link_of(t.path() + "/..data");
  EXPECT_EQ(mode_of(ts + "/d/f"), 0640u);
  EXPECT_NE(mode_of(ts + "/d") & S_ISGID, 0u);
  struct stat st {};
  ASSERT_EQ(::stat((ts + "/d/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, gid);
}

// A reader that resolves ..data once and reads two files through it must always see one
// version: both files carry the same version number. A reader going through the visible
// names must never find a file missing.
TEST(AtomicWriter, ReaderNeverSeesAMix) {
  TempDir t;
  AtomicWriter w(t.path(), "test");
  ASSERT_TRUE(w.write({{"a", {"0", 0644}}, {"b", {"0", 0644}}}, std::nullopt).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> consistent_reads{0};
  std::atomic<int> mixes{0};
  std::atomic<int> missing{0};
  auto read_at = [](int dir, const char* name, std::string& out) {
    int fd = ::openat(dir, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n < 0) return false;
    out.assign(buf, static_cast<size_t>(n));
    return true;
  };
  std::thread reader([&] {
    std::string data = t.path() + "/..data";
    while (!stop.load()) {
      // A version can be deleted right after the reader resolved ..data to it (ENOENT);
      // a fresh lookup then finds the newer one. Only a lookup failing again and again
      // would be a real gap.
      int dir = -1;
      for (int attempt = 0; attempt < 5 && dir < 0; ++attempt)
        dir = ::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir < 0) {
        missing++;
        continue;
      }
      std::string a, b;
      // The old version may be deleted between open and read (ENOENT): not a mix, retry.
      if (read_at(dir, "a", a) && read_at(dir, "b", b)) {
        if (a == b) consistent_reads++;
        else mixes++;
      }
      ::close(dir);
      std::string via_link;
      bool found = false;
      for (int attempt = 0; attempt < 5 && !found; ++attempt)
        found = read_at(AT_FDCWD, (t.path() + "/a").c_str(), via_link);
      if (!found) missing++;
    }
  });
  for (int v = 1; v <= 300; ++v) {
    std::string s = std::to_string(v);
    Result<bool> r = w.write({{"a", {s, 0644}}, {"b", {s, 0644}}}, std::nullopt);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
  }
  // Let the reader observe the final version at least once before stopping.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int before = consistent_reads.load();
  while (consistent_reads.load() < before + 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(mixes.load(), 0);
  EXPECT_EQ(missing.load(), 0);
  EXPECT_GT(consistent_reads.load(), 0);
}

}  // namespace
}  // namespace kernlet::csi
