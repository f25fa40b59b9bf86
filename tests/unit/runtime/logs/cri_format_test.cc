#include "runtime/logs/cri_format.h"

#include <gtest/gtest.h>

#include <vector>

#include "api/time.h"

namespace kernlet::logs {
namespace {

TimePoint at(const char* rfc3339) { return *api::parse_rfc3339(rfc3339); }

TEST(CriFormatTest, TimestampsHaveNineDigitsAndGoFormTrimsZeros) {
  EXPECT_EQ(format_timestamp(at("2026-11-26T21:00:00.123456789Z")), "2026-11-26T21:00:00.123456789Z");
  EXPECT_EQ(format_timestamp(at("2026-11-26T21:00:00.5Z")), "2026-11-26T21:00:00.500000000Z");
  EXPECT_EQ(format_timestamp(at("2026-11-26T21:00:00Z")), "2026-11-26T21:00:00.000000000Z");
  EXPECT_EQ(format_timestamp_go(at("2026-11-26T21:00:00.5Z")), "2026-11-26T21:00:00.5Z");
  EXPECT_EQ(format_timestamp_go(at("2026-11-26T21:00:00Z")), "2026-11-26T21:00:00Z");
  EXPECT_EQ(format_timestamp(at("2026-11-26T23:00:00.25+02:00")), "2026-11-26T21:00:00.250000000Z");
}

TEST(CriFormatTest, AppendsRecords) {
  std::string out;
  append_record(out, at("2026-11-26T21:00:00.1Z"), Stream::kStdout, false, "hello world");
  append_record(out, at("2026-11-26T21:00:00.2Z"), Stream::kStderr, true, "");
  EXPECT_EQ(out,
            "2026-11-26T21:00:00.100000000Z stdout F hello world\n"
            "2026-11-26T21:00:00.200000000Z stderr P \n");
}

TEST(CriFormatTest, ParsesRecords) {
  Result<CriRecord> r = parse_record("2026-11-26T21:00:00.100000000Z stderr P  two  spaces \n");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->time, at("2026-11-26T21:00:00.1Z"));
  EXPECT_EQ(r->stream, Stream::kStderr);
  EXPECT_TRUE(r->partial);
  EXPECT_EQ(r->content, " two  spaces ");

  r = parse_record("2026-11-26T21:00:00Z stdout F");  // empty content, no space after tag
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "");
  r = parse_record("2026-11-26T21:00:00Z stdout F:x y");  // reserved tag list
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->partial);
  EXPECT_EQ(r->content, "y");
}

TEST(CriFormatTest, ParseErrorsSayWhatIsWrong) {
  struct Case {
    const char* line;
    const char* want;
  };
  const Case cases[] = {
      {"garbage", "CRI log line \"garbage\": missing stream"},
      {"yesterday stdout F x", "CRI log line \"yesterday stdout F x\": bad timestamp"},
      {"2026-11-26T21:00:00Z stdout", "CRI log line \"2026-11-26T21:00:00Z stdout\": missing tag"},
      {"2026-11-26T21:00:00Z stdin F x", "CRI log line \"2026-11-26T21:00:00Z stdin F x\": stream is neither stdout nor stderr"},
      {"2026-11-26T21:00:00Z stdout X x", "CRI log line \"2026-11-26T21:00:00Z stdout X x\": tag is neither F nor P"},
  };
  for (const Case& c : cases) {
    Result<CriRecord> r = parse_record(c.line);
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_EQ(r.error().message(), c.want);
  }
}

struct Rec {
  std::string content;
  bool partial;
  bool operator==(const Rec&) const = default;
};

std::vector<Rec> split(std::vector<std::string> chunks, std::size_t max, bool finish) {
  LineSplitter s(max);
  std::vector<Rec> out;
  auto emit = [&](std::string_view c, bool p) { out.push_back({std::string(c), p}); };
  for (const std::string& c : chunks) s.feed(c, emit);
  if (finish) s.finish(emit);
  return out;
}

TEST(LineSplitterTest, Table) {
  struct Case {
    const char* name;
    std::vector<std::string> chunks;
    std::size_t max;
    bool finish;
    std::vector<Rec> want;
  };
  const std::vector<Case> cases = {
      {"one line", {"hello\n"}, 16, false, {{"hello", false}}},
      {"two lines in one chunk", {"a\nb\n"}, 16, false, {{"a", false}, {"b", false}}},
      {"line across chunks", {"hel", "lo\nwor", "ld\n"}, 16, false, {{"hello", false}, {"world", false}}},
      {"empty line", {"\n"}, 16, false, {{"", false}}},
      {"CRLF loses the CR", {"dos\r\n"}, 16, false, {{"dos", false}}},
      {"exactly max is one full record", {"abcd\n"}, 4, false, {{"abcd", false}}},
      {"max+1 splits", {"abcde\n"}, 4, false, {{"abcd", true}, {"e", false}}},
      {"long line in pieces", {"abcdefghij\n"}, 4, false, {{"abcd", true}, {"efgh", true}, {"ij", false}}},
      {"long unterminated line is cut as it grows", {"abcdefghij"}, 4, false, {{"abcd", true}, {"efgh", true}}},
      {"unterminated tail held back", {"a\nrest"}, 16, false, {{"a", false}}},
      {"unterminated tail is partial at EOF", {"a\nrest"}, 16, true, {{"a", false}, {"rest", true}}},
      {"nothing pending at EOF", {"a\n"}, 16, true, {{"a", false}}},
  };
  for (const Case& c : cases) EXPECT_EQ(split(c.chunks, c.max, c.finish), c.want) << c.name;
}

TEST(LineSplitterTest, DefaultMaxIs16KiB) {
  std::string line(kMaxLineSize * 2 + 5, 'x');
  std::vector<Rec> out = split({line + "\n"}, kMaxLineSize, false);
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0].content.size(), 16384U);
  EXPECT_TRUE(out[0].partial);
  EXPECT_TRUE(out[1].partial);
  EXPECT_EQ(out[2].content.size(), 5U);
  EXPECT_FALSE(out[2].partial);
}

TEST(CriFormatTest, PathLayoutIsTheKubelets) {
  EXPECT_EQ(pod_log_directory("/var/log/pods", "default", "web", "1f2e"), "/var/log/pods/default_web_1f2e");
  EXPECT_EQ(container_log_path("/var/log/pods", "kube-system", "dns-abc", "9a-8b", "coredns", 3),
            "/var/log/pods/kube-system_dns-abc_9a-8b/coredns/3.log");
}

}  // namespace
}  // namespace kernlet::logs
