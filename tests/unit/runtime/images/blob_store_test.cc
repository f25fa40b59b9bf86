#include "runtime/images/blob_store.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/unit/runtime/images/temp_dir.h"

namespace kernlet::images {
namespace {

using testing::TempDir;

int count_entries(const std::string& dir) {
  int n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d))
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") ++n;
  ::closedir(d);
  return n;
}

TEST(DigestTest, Sha256OfKnownInput) {
  EXPECT_EQ(Digest::of("").str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Digest::of("abc").str(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(Digest::parse("sha256:ABC").ok());
  EXPECT_FALSE(Digest::parse("sha512:" + std::string(128, 'a')).ok());
}

TEST(BlobStoreTest, PutVerifiesAndPublishes) {
  TempDir tmp;
  auto s = BlobStore::open(tmp.path());
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  auto d = s->put("hello", Digest::of("hello"));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(s->has(*d));
  EXPECT_EQ(*s->read(*d), "hello");
  struct stat st;
  EXPECT_EQ(::stat(s->path(*d).c_str(), &st), 0);
  auto all = s->list();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
  ASSERT_TRUE(s->remove(*d).ok());
  EXPECT_FALSE(s->has(*d));
}

TEST(BlobStoreTest, MismatchedContentIsNeverVisible) {
  TempDir tmp;
  auto s = BlobStore::open(tmp.path());
  ASSERT_TRUE(s.ok());
  Digest want = Digest::of("the real thing");
  auto r = s->put("tampered", want);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(s->has(want));
  EXPECT_FALSE(s->has(Digest::of("tampered")));
  EXPECT_EQ(count_entries(tmp / "blobs/sha256"), 0);
  EXPECT_EQ(count_entries(tmp / "tmp"), 0) << "the temp file of a failed write was left behind";
}

TEST(BlobStoreTest, WrongSizeIsRejected) {
  TempDir tmp;
  auto s = BlobStore::open(tmp.path());
  ASSERT_TRUE(s.ok());
  auto w = s->writer();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write("abc", 3).ok());
  auto r = w->commit(Digest::of("abc"), 4);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("size 3, expected 4"), std::string::npos);
}

TEST(BlobStoreTest, AnAbandonedWriteLeavesNothing) {
  TempDir tmp;
  auto s = BlobStore::open(tmp.path());
  ASSERT_TRUE(s.ok());
  {
    auto w = s->writer();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write("partial", 7).ok());
    EXPECT_EQ(count_entries(tmp / "tmp"), 1);
    EXPECT_EQ(count_entries(tmp / "blobs/sha256"), 0) << "a partial blob is visible";
  }
  EXPECT_EQ(count_entries(tmp / "tmp"), 0);
}

TEST(BlobStoreTest, CorruptionOnDiskIsDetectedOnRead) {
  TempDir tmp;
  auto s = BlobStore::open(tmp.path());
  ASSERT_TRUE(s.ok());
  auto d = s->put("{\"a\":1}");
  ASSERT_TRUE(d.ok());
  FILE* f = std::fopen(s->path(*d).c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("{\"a\":2}", f);
  std::fclose(f);
  auto r = s->read(*d);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("corrupt"), std::string::npos);
}

}  // namespace
}  // namespace kernlet::images
