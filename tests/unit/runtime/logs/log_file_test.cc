#include "runtime/logs/log_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "api/time.h"
#include "test_dir.h"

namespace kernlet::logs {
namespace {

using testing::TestDir;
using testing::read_file;

TEST(RotatingLogFileTest, RejectsBadPolicies) {
  TestDir dir;
  EXPECT_EQ(RotatingLogFile::open(dir / "0.log", {.max_size = 4096, .max_files = 1}).error().message(),
            "log rotation: max_files must be at least 2, got 1");
  EXPECT_EQ(RotatingLogFile::open(dir / "0.log", {.max_size = 10, .max_files = 2}).error().message(),
            "log rotation: max_size must be at least 1024 bytes, got 10");
}

TEST(RotatingLogFileTest, CreatesParentsAndAppends) {
  TestDir dir;
  std::string path = dir / "ns_pod_uid/c/0.log";
  {
    Result<RotatingLogFile> f = RotatingLogFile::open(path, {});
    ASSERT_TRUE(f.ok()) << f.error().to_string();
    ASSERT_TRUE(f->write("a\n").ok());
  }
  Result<RotatingLogFile> f = RotatingLogFile::open(path, {});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size(), 2U);  // reopening continues at the end
  ASSERT_TRUE(f->write("b\n").ok());
  EXPECT_EQ(read_file(path), "a\nb\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640U);
}

TEST(RotatingLogFileTest, RotatesBySizeAndKeepsMaxFiles) {
  TestDir dir;
  std::string path = dir / "0.log";
  int tick = 0;
  auto clock = [&] { return *api::parse_rfc3339("2026-11-26T21:00:00Z") + std::chrono::seconds(tick); };
  Result<RotatingLogFile> f = RotatingLogFile::open(path, {.max_size = 1024, .max_files = 3}, clock);
  ASSERT_TRUE(f.ok());
  std::string record(400, 'x');
  record.back() = '\n';
  for (int i = 0; i < 10; ++i) {
    ++tick;
    ASSERT_TRUE(f->write(record).ok());
    EXPECT_LE(f->size(), 1024U);
  }
  // 10 records, 2 per file: files rotated at ticks 3, 5, 7, 9; the newest two rotated
  // files and the current one remain.
  std::vector<std::string> rotated = rotated_log_files(path);
  EXPECT_EQ(rotated, (std::vector<std::string>{path + ".20261126-210007", path + ".20261126-210009"}));
  EXPECT_EQ(read_file(path), record + record);
  for (const std::string& r : rotated) EXPECT_EQ(read_file(r), record + record);
}

TEST(RotatingLogFileTest, RotationsWithinOneSecondDoNotOverwrite) {
  TestDir dir;
  std::string path = dir / "0.log";
  auto clock = [] { return *api::parse_rfc3339("2026-11-26T21:00:00Z"); };
  Result<RotatingLogFile> f = RotatingLogFile::open(path, {.max_size = 1024, .max_files = 5}, clock);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->write("one\n").ok());
  ASSERT_TRUE(f->rotate().ok());
  ASSERT_TRUE(f->write("two\n").ok());
  ASSERT_TRUE(f->rotate().ok());
  std::vector<std::string> rotated = rotated_log_files(path);
  ASSERT_EQ(rotated.size(), 2U);
  EXPECT_EQ(read_file(rotated[0]), "one\n");
  EXPECT_EQ(read_file(rotated[1]), "two\n");
}

TEST(RotatingLogFileTest, ReopenFollowsAnExternalRename) {
  TestDir dir;
  std::string path = dir / "0.log";
  Result<RotatingLogFile> f = RotatingLogFile::open(path, {});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->write("old\n").ok());
  ASSERT_EQ(::rename(path.c_str(), (path + ".moved").c_str()), 0);
  ASSERT_TRUE(f->reopen().ok());
  ASSERT_TRUE(f->write("new\n").ok());
  EXPECT_EQ(read_file(path), "new\n");
  EXPECT_EQ(read_file(path + ".moved"), "old\n");
}

}  // namespace
}  // namespace kernlet::logs
