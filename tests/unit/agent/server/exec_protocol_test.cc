#include "agent/server/exec_protocol.h"

#include <gtest/gtest.h>

#include "api/json.h"

namespace kernlet::agent {
namespace {

TEST(ExecProtocolTest, AttachQueryHasStreamsAndNoCommand) {
  auto q = parse_attach_query("input=1&output=1&error=0&tty=1&container=c");
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  EXPECT_TRUE(q->input);
  EXPECT_TRUE(q->output);
  EXPECT_FALSE(q->error);
  EXPECT_TRUE(q->tty);
  EXPECT_TRUE(q->command.empty());
  auto cmd = parse_attach_query("command=sh&output=1");
  ASSERT_FALSE(cmd.ok());
  EXPECT_EQ(cmd.error().message(), "attach takes no command");
  EXPECT_FALSE(parse_attach_query("tty=1").ok());  // no stream at all
  EXPECT_FALSE(parse_attach_query("output=1&error=1&tty=1").ok());
}

TEST(ExecQuery, KubeletNamesAndKubectlNames) {
  auto q = parse_exec_query("command=sh&command=-c&command=echo%20hi%3B%20exit%203&input=1&output=1&error=true");
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_EQ(q->command, (std::vector<std::string>{"sh", "-c", "echo hi; exit 3"}));
  EXPECT_TRUE(q->input);
  EXPECT_TRUE(q->output);
  EXPECT_TRUE(q->error);
  EXPECT_FALSE(q->tty);

  auto k = parse_exec_query("command=tty&stdin=true&stdout=true&stderr=false&tty=true&container=c");
  ASSERT_TRUE(k.ok()) << k.error().message();
  EXPECT_EQ(k->command, std::vector<std::string>{"tty"});
  EXPECT_TRUE(k->input);
  EXPECT_TRUE(k->output);
  EXPECT_FALSE(k->error);
  EXPECT_TRUE(k->tty);
}

TEST(ExecQuery, BadQueriesAreNamed) {
  auto none = parse_exec_query("output=1");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(none.error().message(), "you must specify at least one command for the container");
  auto no_stream = parse_exec_query("command=ls&output=false&tty=1");
  ASSERT_FALSE(no_stream.ok());
  EXPECT_EQ(no_stream.error().message(), "you must specify at least one of stdin, stdout, stderr");
  auto tty_stderr = parse_exec_query("command=ls&output=1&error=1&tty=1");
  ASSERT_FALSE(tty_stderr.ok());
  EXPECT_EQ(tty_stderr.error().message(), "tty and stderr cannot both be true");
  EXPECT_FALSE(parse_exec_query("command=%zz&output=1").ok());
}

TEST(ExecProtocol, NegotiatesV5ThenV4WhateverTheClientsOrder) {
  EXPECT_EQ(negotiate_exec_protocol("v5.channel.k8s.io, v4.channel.k8s.io"), "v5.channel.k8s.io");
  EXPECT_EQ(negotiate_exec_protocol("v4.channel.k8s.io,v5.channel.k8s.io"), "v5.channel.k8s.io");
  EXPECT_EQ(negotiate_exec_protocol("channel.k8s.io, v4.channel.k8s.io"), "v4.channel.k8s.io");
  EXPECT_EQ(negotiate_exec_protocol("base64.channel.k8s.io"), std::nullopt);
  EXPECT_EQ(negotiate_exec_protocol(""), std::nullopt);
}

TEST(ExecProtocol, FramesCarryTheChannelInTheFirstByte) {
  std::string m = frame_message(kChannelStderr, std::string("a\0b", 3));
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0], '\x02');
  EXPECT_EQ(m.substr(1), std::string("a\0b", 3));
  auto parsed = parse_message(m);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->channel, kChannelStderr);
  EXPECT_EQ(parsed->data, std::string_view("a\0b", 3));

  auto close = parse_message(std::string("\xff\x00", 2));
  ASSERT_TRUE(close.ok());
  EXPECT_EQ(close->channel, kChannelClose);
  ASSERT_EQ(close->data.size(), 1u);
  EXPECT_EQ(close->data[0], '\0');

  EXPECT_EQ(frame_message(kChannelStdout, ""), std::string("\x01"));
  EXPECT_FALSE(parse_message("").ok());
}

TEST(ExecProtocol, Resize) {
  auto s = parse_resize(R"({"Width":132,"Height":43})");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->width, 132);
  EXPECT_EQ(s->height, 43);
  EXPECT_FALSE(parse_resize("{").ok());
  auto big = parse_resize(R"({"Width":70000,"Height":1})");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find("Width 70000"), std::string::npos) << big.error().message();
}

TEST(ExecProtocol, SuccessStatus) {
  auto s = json::parse_object(exit_status_json(0, {"true"}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(json::get_string(*s, "status"), "Success");
  EXPECT_EQ(json::get_string(*s, "kind"), "Status");
  EXPECT_EQ(json::find(*s, "details"), nullptr);
}

// kubectl's decoder: Failure + NonZeroExitCode + a cause of type (JSON "reason") ExitCode
// whose message parses as an 8-bit unsigned integer becomes its own exit code.
TEST(ExecProtocol, NonZeroExitStatusCarriesTheCodeAsKubectlReadsIt) {
  auto s = json::parse_object(exit_status_json(3, {"sh", "-c", "exit 3"}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(json::get_string(*s, "status"), "Failure");
  EXPECT_EQ(json::get_string(*s, "reason"), "NonZeroExitCode");
  EXPECT_EQ(json::get_string(*s, "message"),
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3");
  const json::object* details = json::get_object(*s, "details");
  ASSERT_NE(details, nullptr);
  const json::array* causes = json::get_array(*details, "causes");
  ASSERT_NE(causes, nullptr);
  ASSERT_EQ(causes->size(), 1u);
  EXPECT_EQ(json::get_string(causes->at(0).as_object(), "reason"), "ExitCode");
  EXPECT_EQ(json::get_string(causes->at(0).as_object(), "message"), "3");

  auto killed = json::parse_object(exit_status_json(137, {"sleep", "9"}));
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(json::get_string(json::get_array(*json::get_object(*killed, "details"), "causes")->at(0).as_object(),
                             "message"),
            "137");
}

TEST(ExecProtocol, ErrorStatusHasNoExitCode) {
  auto s = json::parse_object(error_status_json("exec: \"nope\": executable file not found in $PATH"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(json::get_string(*s, "status"), "Failure");
  EXPECT_EQ(json::get_string(*s, "reason"), "InternalError");
  EXPECT_EQ(json::get_string(*s, "message"), "exec: \"nope\": executable file not found in $PATH");
  EXPECT_EQ(json::get_int_or(*s, "code", 0), 500);
}

}  // namespace
}  // namespace kernlet::agent
