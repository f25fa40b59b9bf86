// ProcessPluginExec against small shell-script "plugins" in a temp dir: real processes,
// no root.
#include "cni/client/plugin_exec.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "temp_dir.h"

namespace kernlet::cni {
namespace {

using testing::TempDir;
using namespace std::chrono_literals;

std::string script(const TempDir& dir, const std::string& name, const std::string& body) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << "#!/bin/sh\n" << body;
  ::chmod(path.c_str(), 0755);
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ProcessPluginExec, FindsTheFirstExecutable) {
  TempDir a, b;
  script(b, "bridge", "exit 0\n");
  std::ofstream(a.path() + "/bridge") << "not executable";
  ProcessPluginExec exec;
  auto p = exec.find("bridge", {a.path(), b.path()});
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(*p, b.path() + "/bridge");
  auto none = exec.find("macvlan", {a.path(), b.path()});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.error().message().find(a.path() + ":" + b.path()), std::string::npos);
}

TEST(ProcessPluginExec, PassesStdinAndEnvAndReadsBothStreams) {
  TempDir dir;
  std::string p = script(dir, "echo",
                         "cat\necho \"cmd=$CNI_COMMAND\"\necho oops >&2\nexit 3\n");
  ProcessPluginExec exec;
  ExecRequest req;
  req.path = p;
  req.env = {"CNI_COMMAND=ADD", "PATH=/usr/bin:/bin"};
  req.stdin_data = std::string(300000, 'x');  // more than a socket buffer holds
  auto out = exec.run(req);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(out->exit_code, 3);
  EXPECT_EQ(out->out, std::string(300000, 'x') + "cmd=ADD\n");
  EXPECT_EQ(out->err, "oops\n");
}

TEST(ProcessPluginExec, PluginThatIgnoresStdinIsFine) {
  TempDir dir;
  std::string p = script(dir, "quiet", "echo '{}'\n");
  ProcessPluginExec exec;
  ExecRequest req;
  req.path = p;
  req.stdin_data = std::string(1 << 20, 'y');
  auto out = exec.run(req);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(out->exit_code, 0);
  EXPECT_EQ(out->out, "{}\n");
}

TEST(ProcessPluginExec, TimeoutKillsTheWholeProcessGroup) {
  TempDir dir;
  std::string pidfile = dir.path() + "/child.pid";
  // The plugin starts a descendant (like an ipam plugin it execs) and hangs.
  std::string p = script(dir, "hang", "sleep 1000 &\necho $! > " + pidfile + "\nwait\n");
  ProcessPluginExec exec;
  ExecRequest req;
  req.path = p;
  req.env = {"PATH=/usr/bin:/bin"};
  req.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto out = exec.run(req);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(out.error().message().find("killed its process group"), std::string::npos);
  EXPECT_LT(took, 10s);
  pid_t child = std::atoi(slurp(pidfile).c_str());
  ASSERT_GT(child, 0);
  // The descendant got SIGKILL too; it is reaped by init, so wait for it to vanish.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (::kill(child, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(::kill(child, 0), 0) << "pid " << child << " survived the timeout";
}

TEST(ProcessPluginExec, WorksWhenTheAgentHasNoStdio) {
  TempDir dir;
  std::string p = script(dir, "echo", "cat\necho err >&2\n");
  int saved[3];
  for (int fd = 0; fd < 3; ++fd) saved[fd] = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  for (int fd = 0; fd < 3; ++fd) ::close(fd);
  ProcessPluginExec exec;
  ExecRequest req;
  req.path = p;
  req.stdin_data = "{\"cniVersion\":\"1.0.0\"}";
  auto out = exec.run(req);
  for (int fd = 0; fd < 3; ++fd) {
    ::dup2(saved[fd], fd);
    ::close(saved[fd]);
  }
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(out->out, req.stdin_data);
  EXPECT_EQ(out->err, "err\n");
}

TEST(ProcessPluginExec, MissingBinaryIsAnError) {
  ProcessPluginExec exec;
  ExecRequest req;
  req.path = "/nonexistent/plugin";
  auto out = exec.run(req);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().sys_errno(), ENOENT);
}

}  // namespace
}  // namespace kernlet::cni
