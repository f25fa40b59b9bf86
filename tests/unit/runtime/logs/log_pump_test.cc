#include "runtime/logs/log_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

#include "runtime/logs/fifo.h"
#include "test_dir.h"

namespace kernlet::logs {
namespace {

using namespace std::chrono_literals;
using testing::TestDir;
using testing::read_file;

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe make_pipe() {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    ASSERT_GT(n, 0) << strerror(errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The file's records without timestamps: "stdout F hello".
std::vector<std::string> records(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    Result<CriRecord> r = parse_record(line);
    EXPECT_TRUE(r.ok()) << line;
    if (!r.ok()) continue;
    out.push_back(std::string(stream_name(r->stream)) + (r->partial ? " P " : " F ") + std::string(r->content));
  }
  return out;
}

TEST(LogPumpTest, WritesBothStreamsAndFinishesAtEof) {
  TestDir dir;
  auto pump = LogPump::start();
  ASSERT_TRUE(pump.ok()) << pump.error().to_string();
  Pipe out = make_pipe();
  Pipe err = make_pipe();
  std::string log = dir / "ns_pod_uid/app/0.log";
  ASSERT_TRUE((*pump)->add("c1", log, std::move(out.read), std::move(err.read)).ok());
  write_all(out.write.get(), "hello\nwor");
  write_all(err.write.get(), "oops\n");
  write_all(out.write.get(), "ld\nno newline");
  EXPECT_FALSE((*pump)->wait_finished("c1", 50ms));
  out.write.reset();
  err.write.reset();
  ASSERT_TRUE((*pump)->wait_finished("c1", 10s));
  std::vector<std::string> got = records(log);
  // stdout and stderr interleave by arrival; per stream the order is kept.
  std::vector<std::string> stdout_only;
  for (const std::string& r : got) {
    if (r.rfind("stdout", 0) == 0) stdout_only.push_back(r);
  }
  EXPECT_EQ(stdout_only, (std::vector<std::string>{"stdout F hello", "stdout F world", "stdout P no newline"}));
  EXPECT_NE(std::find(got.begin(), got.end(), "stderr F oops"), got.end());
  EXPECT_EQ((*pump)->stats().bytes_read, 27U);
}

// Reads from a non-blocking socket until `want` bytes or EOF (poll, bounded by 10 s).
std::string read_socket(int fd, std::size_t want, bool* eof = nullptr) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (n == 0) {
      if (eof != nullptr) *eof = true;
      break;
    }
  }
  return got;
}

TEST(LogPumpTest, SubscribersGetLiveBytesThenEofAfterTheLast) {
  TestDir dir;
  auto pump = LogPump::start();
  ASSERT_TRUE(pump.ok());
  Pipe out = make_pipe();
  Pipe err = make_pipe();
  std::string log = dir / "0.log";
  ASSERT_TRUE((*pump)->add("c", log, std::move(out.read), std::move(err.read)).ok());
  write_all(out.write.get(), "before\n");
  // What was written before the subscription is not replayed: wait until it is logged.
  for (int i = 0; i < 1000 && records(log).empty(); ++i) std::this_thread::sleep_for(1ms);
  auto sub = (*pump)->subscribe("c");
  ASSERT_TRUE(sub.ok()) << sub.error().to_string();
  auto second = (*pump)->subscribe("c");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(sub->id, second->id);
  write_all(out.write.get(), "live no newline");
  write_all(err.write.get(), "err\n");
  EXPECT_EQ(read_socket(sub->stdout_fd.get(), 15), "live no newline");  // raw, not cut in lines
  EXPECT_EQ(read_socket(sub->stderr_fd.get(), 4), "err\n");
  EXPECT_EQ(read_socket(second->stdout_fd.get(), 15), "live no newline");
  (*pump)->unsubscribe(second->id);
  bool eof = false;
  EXPECT_EQ(read_socket(second->stdout_fd.get(), 1, &eof), "");
  EXPECT_TRUE(eof) << "unsubscribe closes the pump's end";
  write_all(out.write.get(), "!\n");
  out.write.reset();
  err.write.reset();
  eof = false;
  EXPECT_EQ(read_socket(sub->stdout_fd.get(), 100, &eof), "!\n");
  EXPECT_TRUE(eof);
  eof = false;
  EXPECT_EQ(read_socket(sub->finished.get(), 1, &eof), "");
  EXPECT_TRUE(eof) << "finished reads EOF once every stream has ended";
  ASSERT_TRUE((*pump)->wait_finished("c", 10s));
  EXPECT_EQ(records(log), (std::vector<std::string>{"stdout F before", "stderr F err", "stdout F live no newline!"}));
  auto late = (*pump)->subscribe("c");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code(), ErrorCode::kConflict);
  EXPECT_EQ((*pump)->subscribe("nope").error().code(), ErrorCode::kNotFound);
}

TEST(LogPumpTest, ASubscriberThatDoesNotReadNeverHoldsThePump) {
  TestDir dir;
  auto pump = LogPump::start();
  ASSERT_TRUE(pump.ok());
  Pipe out = make_pipe();
  std::string log = dir / "0.log";
  ASSERT_TRUE((*pump)->add("c", log, std::move(out.read), UniqueFd()).ok());
  auto sub = (*pump)->subscribe("c");
  ASSERT_TRUE(sub.ok());
  EXPECT_FALSE(sub->stderr_fd.valid());
  const std::string line(1000, 'x');
  for (int i = 0; i < 4000; ++i) write_all(out.write.get(), line + "\n");  // ~4 MB, far over a socket buffer
  out.write.reset();
  ASSERT_TRUE((*pump)->wait_finished("c", 30s));
  EXPECT_EQ(records(log).size(), 4000U);
  EXPECT_GT((*pump)->stats().subscriber_drops, 0U);
}

// stdin of a container (fifo.h): without stdinOnce the container holds a writer itself and
// never reads EOF; with it, EOF comes when the agent's writer closes.
TEST(StdinFifoTest, EofOnlyWithStdinOnce) {
  TestDir dir;
  const std::string path = stdin_fifo_path(dir.str());
  ASSERT_TRUE(create_fifo(path).ok());
  for (bool once : {false, true}) {
    auto container = open_stdin_for_container(path, once);
    ASSERT_TRUE(container.ok()) << container.error().to_string();
    EXPECT_EQ(::fcntl(container->get(), F_GETFL) & O_NONBLOCK, 0) << "the container's stdin blocks";
    auto agent = open_stdin_for_writer(path);
    ASSERT_TRUE(agent.ok()) << agent.error().to_string();
    write_all(agent->get(), "line\n");
    agent->reset();  // the session (or the agent) is gone
    char buf[16];
    ASSERT_EQ(::read(container->get(), buf, sizeof buf), 5);
    pollfd p{container->get(), POLLIN, 0};
    if (once) {
      EXPECT_EQ(::read(container->get(), buf, sizeof buf), 0) << "stdinOnce: EOF";
    } else {
      EXPECT_EQ(::poll(&p, 1, 50), 0) << "open stdin: nothing to read, and no EOF";
      EXPECT_TRUE(open_stdin_for_writer(path).ok()) << "a later session (or agent) opens it again";
    }
  }
  auto nobody = open_stdin_for_writer(path);
  ASSERT_FALSE(nobody.ok());
  EXPECT_NE(nobody.error().message().find(path), std::string::npos);
}

TEST(LogPumpTest, LongLinesBecomePartialRecords) {
  TestDir dir;
  auto pump = LogPump::start({.max_line = 8, .rotation = {}, .clock = std::chrono::system_clock::now});
  ASSERT_TRUE(pump.ok());
  Pipe out = make_pipe();
  std::string log = dir / "0.log";
  ASSERT_TRUE((*pump)->add("c", log, std::move(out.read), UniqueFd()).ok());
  write_all(out.write.get(), "0123456789abcdefXY\n");
  out.write.reset();
  ASSERT_TRUE((*pump)->wait_finished("c", 10s));
  EXPECT_EQ(records(log), (std::vector<std::string>{"stdout P 01234567", "stdout P 89abcdef", "stdout F XY"}));
}

TEST(LogPumpTest, ManyContainersOneThread) {
  TestDir dir;
  auto pump = LogPump::start();
  ASSERT_TRUE(pump.ok());
  std::vector<Pipe> pipes;
  for (int i = 0; i < 20; ++i) {
    pipes.push_back(make_pipe());
    ASSERT_TRUE((*pump)->add("c" + std::to_string(i), dir / ("c" + std::to_string(i) + "/0.log"),
                             std::move(pipes.back().read), UniqueFd()).ok());
  }
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 20; ++i) write_all(pipes[i].write.get(), "line " + std::to_string(round) + "\n");
  }
  for (Pipe& p : pipes) p.write.reset();
  for (int i = 0; i < 20; ++i) {
    std::string key = "c" + std::to_string(i);
    ASSERT_TRUE((*pump)->wait_finished(key, 10s)) << key;
    std::vector<std::string> got = records(dir / (key + "/0.log"));
    ASSERT_EQ(got.size(), 50U) << key;
    EXPECT_EQ(got[49], "stdout F line 49");
  }
}

TEST(LogPumpTest, DuplicateKeyIsAnError) {
  TestDir dir;
  auto pump = LogPump::start();
  ASSERT_TRUE(pump.ok());
  Pipe a = make_pipe();
  Pipe b = make_pipe();
  ASSERT_TRUE((*pump)->add("c", dir / "0.log", std::move(a.read), UniqueFd()).ok());
  Result<void> again = (*pump)->add("c", dir / "0.log", std::move(b.read), UniqueFd());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
}

TEST(LogPumpTest, RotatesWhileWriting) {
  TestDir dir;
  auto pump = LogPump::start({.max_line = kMaxLineSize, .rotation = {.max_size = 2048, .max_files = 3},
                              .clock = std::chrono::system_clock::now});
  ASSERT_TRUE(pump.ok());
  Pipe out = make_pipe();
  std::string log = dir / "0.log";
  ASSERT_TRUE((*pump)->add("c", log, std::move(out.read), UniqueFd()).ok());
  for (int i = 0; i < 200; ++i) write_all(out.write.get(), std::string(50, 'a' + i % 26) + "\n");
  out.write.reset();
  ASSERT_TRUE((*pump)->wait_finished("c", 10s));
  EXPECT_LE(read_file(log).size(), 2048U);
  EXPECT_EQ(rotated_log_files(log).size(), 2U);
  std::vector<std::string> last = records(log);
  ASSERT_FALSE(last.empty());
  EXPECT_EQ(last.back(), "stdout F " + std::string(50, 'a' + 199 % 26));
}

// The agent-restart story with real FIFOs: the container holds its O_RDWR end, the first
// pump goes away, the container keeps writing without SIGPIPE, and a new pump picks up
// what was buffered and sees EOF when the container exits.
TEST(LogPumpTest, FifoStreamsSurviveAPumpRestart) {
  TestDir dir;
  std::string state = dir / "state";
  std::filesystem::create_directories(state);
  StreamFifos fifos = fifo_paths(state);
  ASSERT_TRUE(create_fifos(fifos).ok());
  ASSERT_TRUE(create_fifos(fifos).ok());  // idempotent
  Result<UniqueFd> container_out = open_fifo_for_container(fifos.stdout_path);
  Result<UniqueFd> container_err = open_fifo_for_container(fifos.stderr_path);
  ASSERT_TRUE(container_out.ok() && container_err.ok());
  std::string log = dir / "0.log";

  // SIGPIPE would kill this test process if a write found no reader.
  struct sigaction old {};
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, &old);

  {
    auto pump = LogPump::start();
    ASSERT_TRUE(pump.ok());
    ASSERT_TRUE((*pump)->add_fifos("c", log, state).ok());
    write_all(container_out->get(), "before restart\n");
    // Wait until the first pump wrote it.
    for (int i = 0; i < 1000 && records(log).empty(); ++i) std::this_thread::sleep_for(5ms);
  }  // the agent dies
  write_all(container_out->get(), "while down\n");  // no reader but the container itself: no EPIPE
  write_all(container_err->get(), "err while down\n");
  {
    auto pump = LogPump::start();
    ASSERT_TRUE(pump.ok());
    ASSERT_TRUE((*pump)->add_fifos("c", log, state).ok());
    write_all(container_out->get(), "after restart\n");
    EXPECT_FALSE((*pump)->wait_finished("c", 50ms));
    container_out->reset();  // the container exits
    container_err->reset();
    ASSERT_TRUE((*pump)->wait_finished("c", 10s));
  }
  ::sigaction(SIGPIPE, &old, nullptr);
  EXPECT_EQ(records(log), (std::vector<std::string>{"stdout F before restart", "stdout F while down",
                                                    "stderr F err while down", "stdout F after restart"}));
}

TEST(LogPumpTest, AddingTheFifosOfAnExitedContainerDrainsThemAndFinishes) {
  TestDir dir;
  StreamFifos fifos = fifo_paths(dir.str());
  ASSERT_TRUE(create_fifos(fifos).ok());
  auto pump = LogPump::start();
  ASSERT_TRUE(pump.ok());
  // Nobody holds a write end: the container is gone (its buffered bytes died with it).
  ASSERT_TRUE((*pump)->add_fifos("gone", dir / "0.log", dir.str()).ok());
  EXPECT_TRUE((*pump)->wait_finished("gone", 1s));
}

TEST(LogPumpTest, FifoHelpersRefuseWhatIsNotAFifo) {
  TestDir dir;
  std::string plain = dir / "plain";
  { std::ofstream(plain) << "x"; }
  Result<void> r = create_fifo(plain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "mkfifo " + plain + ": exists and is not a FIFO");
  EXPECT_FALSE(open_fifo_for_pump(plain).ok());
  Result<UniqueFd> missing = open_fifo_for_pump(dir / "none");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sys_errno(), ENOENT);
  EXPECT_TRUE(remove_fifo(dir / "none").ok());
}

TEST(LogPumpTest, RemoveWritesPendingTail) {
  TestDir dir;
  auto pump = LogPump::start();
  ASSERT_TRUE(pump.ok());
  Pipe out = make_pipe();
  std::string log = dir / "0.log";
  ASSERT_TRUE((*pump)->add("c", log, std::move(out.read), UniqueFd()).ok());
  write_all(out.write.get(), "done\nhalf");
  (*pump)->remove("c");
  EXPECT_EQ(records(log), (std::vector<std::string>{"stdout F done", "stdout P half"}));
  EXPECT_TRUE((*pump)->wait_finished("c", 0ms));
}

}  // namespace
}  // namespace kernlet::logs

namespace kernlet::logs {
namespace {

// End to end with a real process: its fd 1 and 2 are the container ends of the FIFOs,
// the runtime side closes its copies, the process exits, the pump sees EOF, and the
// reader shows what `kubectl logs` would.
TEST(LogPumpTest, RealProcessThroughFifosToKubectlLogsOutput) {
  TestDir dir;
  StreamFifos fifos = fifo_paths(dir.str());
  ASSERT_TRUE(create_fifos(fifos).ok());
  Result<UniqueFd> out = open_fifo_for_container(fifos.stdout_path);
  Result<UniqueFd> err = open_fifo_for_container(fifos.stderr_path);
  ASSERT_TRUE(out.ok() && err.ok());
  std::string log = container_log_path(dir.str(), "default", "web", "uid-1", "app", 0);
  auto pump = LogPump::start();
  ASSERT_TRUE(pump.ok());
  ASSERT_TRUE((*pump)->add_fifos("app", log, dir.str()).ok());

  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out->get(), STDOUT_FILENO);
    ::dup2(err->get(), STDERR_FILENO);
    const char* argv[] = {"sh", "-c", "echo hello; echo oops >&2; printf 'no newline'", nullptr};
    ::execv("/bin/sh", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  out->reset();  // the runtime's copies: without closing them, EOF never comes
  err->reset();
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE((*pump)->wait_finished("app", 10s));

  std::vector<std::string> got = records(log);
  EXPECT_NE(std::find(got.begin(), got.end(), "stdout F hello"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "stderr F oops"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "stdout P no newline"), got.end());
  EXPECT_EQ(got.size(), 3U);
}

}  // namespace
}  // namespace kernlet::logs
