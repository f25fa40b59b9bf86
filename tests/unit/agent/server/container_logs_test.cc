#include "agent/server/container_logs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/time.h"
#include "runtime/logs/cri_format.h"

namespace kernlet::agent {
namespace {

namespace fs = std::filesystem;
using logs::Stream;

logs::TimePoint at(int second) {
  return *api::parse_rfc3339("2026-11-26T21:00:00Z") + std::chrono::seconds(second);
}

class ContainerLogs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kl-container-logs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "0.log").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes lines "<prefix><i>" for i in [from, to), one record per second of `at`.
  void write(const std::string& file, int from, int to, const std::string& prefix = "line ") {
    std::string out;
    for (int i = from; i < to; ++i) logs::append_record(out, at(i), Stream::kStdout, false, prefix + std::to_string(i));
    std::ofstream(file, std::ios::app) << out;
  }
  std::string read(const logs::LogReadOptions& o) {
    std::string out;
    auto r = stream_container_logs(path_, o, [&](std::string_view s) {
      out += s;
      return true;
    });
    EXPECT_TRUE(r.ok()) << r.error().to_string();
    return out;
  }
  std::string lines(int from, int to) {
    std::string out;
    for (int i = from; i < to; ++i) out += "line " + std::to_string(i) + "\n";
    return out;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(ContainerLogs, RotatedFilesComeFirstOldestFirst) {
  write(path_ + ".20261126-210000", 0, 3);
  write(path_ + ".20261126-210003", 3, 5);
  write(path_, 5, 7);
  EXPECT_EQ(container_log_files(path_),
            (std::vector<std::string>{path_ + ".20261126-210000", path_ + ".20261126-210003", path_}));
  EXPECT_EQ(read({}), lines(0, 7));
}

TEST_F(ContainerLogs, TailWithinTheCurrentFile) {
  write(path_ + ".20261126-210000", 0, 3);
  write(path_, 3, 10);
  logs::LogReadOptions o;
  o.tail_lines = 2;
  EXPECT_EQ(read(o), lines(8, 10));
}

TEST_F(ContainerLogs, TailReachesIntoRotatedFiles) {
  write(path_ + ".20261126-210000", 0, 3);
  write(path_ + ".20261126-210003", 3, 5);
  write(path_, 5, 7);
  logs::LogReadOptions o;
  o.tail_lines = 5;
  EXPECT_EQ(read(o), lines(2, 7));
  o.tail_lines = 100;
  EXPECT_EQ(read(o), lines(0, 7));
  o.tail_lines = 0;
  EXPECT_EQ(read(o), "");
}

TEST_F(ContainerLogs, SinceAppliesToEveryFile) {
  write(path_ + ".20261126-210000", 0, 3);
  write(path_, 3, 6);
  logs::LogReadOptions o;
  o.since = at(2);
  EXPECT_EQ(read(o), lines(2, 6));
}

TEST_F(ContainerLogs, LimitBytesCountsTheWholeOutput) {
  write(path_ + ".20261126-210000", 0, 3);  // "line 0\n" is 7 bytes
  write(path_, 3, 6);
  logs::LogReadOptions o;
  o.limit_bytes = 24;
  EXPECT_EQ(read(o), lines(0, 3) + "lin");
}

TEST_F(ContainerLogs, TimestampsInGoForm) {
  std::string out;
  logs::append_record(out, at(0) + std::chrono::milliseconds(500), Stream::kStdout, false, "a");
  logs::append_record(out, at(1), Stream::kStderr, false, "b");
  std::ofstream(path_) << out;
  logs::LogReadOptions o;
  o.timestamps = true;
  EXPECT_EQ(read(o), "2026-11-26T21:00:00.5Z a\n2026-11-26T21:00:01Z b\n");
}

TEST_F(ContainerLogs, PartialRecordsAreJoinedAcrossRotation) {
  std::string first, second;
  logs::append_record(first, at(0), Stream::kStdout, true, "hel");
  logs::append_record(second, at(1), Stream::kStdout, true, "lo ");
  logs::append_record(second, at(1), Stream::kStdout, false, "world");
  std::ofstream(path_ + ".20261126-210000") << first;
  std::ofstream(path_) << second;
  EXPECT_EQ(read({}), "hello world\n");
}

TEST_F(ContainerLogs, MissingCurrentFileIsNotFound) {
  auto r = stream_container_logs(path_, {}, [](std::string_view) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST_F(ContainerLogs, SinkRefusalStops) {
  write(path_ + ".20261126-210000", 0, 3);
  write(path_, 3, 6);
  int calls = 0;
  auto r = stream_container_logs(path_, {}, [&](std::string_view) { return ++calls < 2; });
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace kernlet::agent
