#include "runtime/logs/log_reader.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "api/time.h"
#include "runtime/logs/log_file.h"
#include "test_dir.h"

namespace kernlet::logs {
namespace {

using namespace std::chrono_literals;
using testing::TestDir;

TimePoint t0() { return *api::parse_rfc3339("2026-11-26T21:00:00Z"); }

// A log with interleaved streams and a line split into partial records.
std::string sample() {
  std::string s;
  append_record(s, t0() + 1s, Stream::kStdout, false, "one");
  append_record(s, t0() + 2s, Stream::kStdout, true, "two-a ");
  append_record(s, t0() + 3s, Stream::kStderr, false, "err");
  append_record(s, t0() + 4s, Stream::kStdout, false, "two-b");
  s += "torn garbage line\n";
  append_record(s, t0() + 5s, Stream::kStdout, false, "three");
  return s;
}

std::string read_all(const std::string& path, const LogReadOptions& opts) {
  std::string out;
  Result<void> r = read_logs(path, opts, [&](std::string_view s) {
    out += s;
    return true;
  });
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return out;
}

class LogReaderTest : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(path_) << sample(); }
  TestDir dir_;
  std::string path_ = dir_ / "0.log";
};

TEST_F(LogReaderTest, JoinsPartialRecordsAndSkipsGarbage) {
  EXPECT_EQ(read_all(path_, {}), "one\nerr\ntwo-a two-b\nthree\n");
}

TEST_F(LogReaderTest, TimestampsAreThoseOfTheFirstRecord) {
  EXPECT_EQ(read_all(path_, {.timestamps = true}),
            "2026-11-26T21:00:01Z one\n"
            "2026-11-26T21:00:03Z err\n"
            "2026-11-26T21:00:02Z two-a two-b\n"
            "2026-11-26T21:00:05Z three\n");
}

TEST_F(LogReaderTest, TailCountsLines) {
  EXPECT_EQ(read_all(path_, {.tail_lines = 2}), "two-a two-b\nthree\n");
  EXPECT_EQ(read_all(path_, {.tail_lines = 0}), "");
  EXPECT_EQ(read_all(path_, {.tail_lines = 100}), "one\nerr\ntwo-a two-b\nthree\n");
}

TEST_F(LogReaderTest, SinceDropsOlderLines) {
  EXPECT_EQ(read_all(path_, {.since = t0() + 3s}), "err\nthree\n");
}

TEST_F(LogReaderTest, LimitBytesCuts) {
  EXPECT_EQ(read_all(path_, {.limit_bytes = 6}), "one\ner");
}

TEST_F(LogReaderTest, StreamFilter) {
  EXPECT_EQ(read_all(path_, {.include_stdout = false}), "err\n");
}

TEST_F(LogReaderTest, MissingFileIsNotFound) {
  Result<void> r = read_logs(dir_ / "9.log", {}, [](std::string_view) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST_F(LogReaderTest, UnfinishedLineAtEndIsShownWithoutNewline) {
  std::string more;
  append_record(more, t0() + 6s, Stream::kStdout, true, "half");
  std::ofstream(path_, std::ios::app) << more;
  EXPECT_EQ(read_all(path_, {.tail_lines = 1}), "three\nhalf");
}

// Follow: a writer appends and rotates while the reader follows; the reader stops once the
// writer says the container is done, having seen every line exactly once.
TEST_F(LogReaderTest, FollowAcrossRotationUntilTheContainerStops) {
  std::atomic<bool> running{true};
  std::mutex mu;
  std::string out;
  std::atomic<int> lines_seen{0};
  std::thread reader([&] {
    Result<void> r = read_logs(
        path_, {.tail_lines = 1, .follow = true},
        [&](std::string_view s) {
          std::lock_guard<std::mutex> lock(mu);
          out += s;
          lines_seen += static_cast<int>(std::count(s.begin(), s.end(), '\n'));
          return true;
        },
        {.stop_fd = -1, .still_running = [&] { return running.load(); }, .recheck = 50ms});
    EXPECT_TRUE(r.ok()) << r.error().to_string();
  });
  // Wait for the tail before writing more, so the test knows what the reader saw first.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (lines_seen.load() < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ(lines_seen.load(), 1);

  Result<RotatingLogFile> f = RotatingLogFile::open(path_, {.max_size = 1024, .max_files = 3});
  ASSERT_TRUE(f.ok());
  for (int i = 0; i < 60; ++i) {
    std::string rec;
    append_record(rec, std::chrono::system_clock::now(), Stream::kStdout, false, "line " + std::to_string(i));
    ASSERT_TRUE(f->write(rec).ok());
    if (i % 7 == 0) std::this_thread::sleep_for(2ms);  // let the reader interleave with rotations
  }
  EXPECT_FALSE(rotated_log_files(path_).empty());
  deadline = std::chrono::steady_clock::now() + 10s;
  while (lines_seen.load() < 61 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  running = false;
  reader.join();
  std::string want = "three\n";
  for (int i = 0; i < 60; ++i) want += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(out, want);
}

TEST_F(LogReaderTest, FollowStopsOnTheStopFd) {
  int stop = ::eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(stop, 0);
  std::atomic<bool> saw{false};
  std::thread reader([&] {
    Result<void> r = read_logs(path_, {.follow = true}, [&](std::string_view) {
      saw = true;
      return true;
    }, {.stop_fd = stop, .still_running = {}, .recheck = 10s});
    EXPECT_TRUE(r.ok());
  });
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!saw.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  uint64_t one = 1;
  ASSERT_EQ(::write(stop, &one, sizeof one), 8);
  reader.join();  // returns promptly although recheck is 10 s
  ::close(stop);
}

}  // namespace
}  // namespace kernlet::logs
