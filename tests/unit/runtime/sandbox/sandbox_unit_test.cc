#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "runtime/sandbox/child_util.h"
#include "runtime/sandbox/holder_image.h"
#include "runtime/sandbox/linux.h"
#include "runtime/sandbox/pod_files.h"
#include "runtime/sandbox/sandbox.h"

namespace kernlet::runtime {
namespace {

TEST(PodFiles, EtcHostsHasLocalhostPodIpAndAliases) {
  std::string hosts = render_etc_hosts("web-0", "10.244.1.7", {{"10.0.0.9", {"db", "db.local"}}});
  EXPECT_NE(hosts.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(hosts.find("::1\tlocalhost ip6-localhost ip6-loopback\n"), std::string::npos);
  EXPECT_NE(hosts.find("10.244.1.7\tweb-0\n"), std::string::npos);
  EXPECT_NE(hosts.find("# Entries added by HostAliases.\n10.0.0.9\tdb\tdb.local\n"), std::string::npos);
  EXPECT_EQ(render_etc_hosts("web-0", "", {}).find("web-0"), std::string::npos);
}

TEST(PodFiles, EtcHostsNamesTheFqdnOfAPodWithASubdomain) {
  std::string hosts = render_etc_hosts("db-0", "10.244.1.8", {}, "db-0.db.default.svc.cluster.local");
  EXPECT_NE(hosts.find("\n10.244.1.8\tdb-0.db.default.svc.cluster.local\tdb-0\n"), std::string::npos) << hosts;
}

TEST(PodFiles, ResolvConfKeepsThreeNameservers) {
  DnsConfig dns{{"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"}, {"ns.svc.cluster.local", "svc.cluster.local"}, {"ndots:5"}};
  EXPECT_EQ(render_resolv_conf(dns),
            "nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n"
            "search ns.svc.cluster.local svc.cluster.local\noptions ndots:5\n");
  EXPECT_EQ(render_resolv_conf({}), "");
}

TEST(PodFiles, ValidHostname) {
  for (const char* ok : {"web", "web-0", "a.b-c.d", "x1"}) EXPECT_TRUE(valid_hostname(ok)) << ok;
  for (const char* bad : {"", "-web", "web-", "Web", "a..b", "a_b", ".a", "a."}) EXPECT_FALSE(valid_hostname(bad)) << bad;
  EXPECT_FALSE(valid_hostname(std::string(65, 'a')));
}

TEST(Records, RoundTripAndBadIntegers) {
  Record r{{"pid", "42"}, {"name", "a=b"}, {"bad", "12x"}};
  Record back = parse_record(format_record(r));
  EXPECT_EQ(back, r);
  EXPECT_EQ(*record_int(back, "pid"), 42);
  auto bad = record_int(back, "bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("bad: not an integer: 12x"), std::string::npos);
  EXPECT_EQ(record_int(back, "missing").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(parse_record("=x\nnoeq\nk=v").size(), 1u);
}

TEST(Ids, ValidObjectId) {
  EXPECT_TRUE(valid_object_id("pod-1_a.b"));
  for (const char* bad : {"", ".", "..", "a/b", "a b", "ä"}) EXPECT_FALSE(valid_object_id(bad)) << bad;
}

TEST(Files, AtomicWriteReadAndRemoveTree) {
  std::string dir = "/tmp/kl-sandbox-unit-" + std::to_string(::getpid());
  ASSERT_TRUE(make_dirs(dir + "/a/b").ok());
  ASSERT_TRUE(write_file_atomic(dir + "/a/b/f", "hello").ok());
  EXPECT_EQ(*read_file(dir + "/a/b/f"), "hello");
  ASSERT_EQ(::symlink("/etc", (dir + "/a/link").c_str()), 0);
  ASSERT_TRUE(remove_tree(dir).ok());
  EXPECT_NE(::access(dir.c_str(), F_OK), 0);
  EXPECT_EQ(::access("/etc/passwd", F_OK), 0) << "remove_tree followed a symlink";
  EXPECT_EQ(read_file(dir + "/nope").error().sys_errno(), ENOENT);
}

TEST(Files, MakeDirsCreatesEachMissingLevelWithTheModeAndRefusesAFileOnTheWay) {
  std::string dir = "/tmp/kl-sandbox-unit-dirs-" + std::to_string(::getpid());
  ASSERT_TRUE(make_dirs(dir + "/a//b/c/", 0700).ok());
  struct stat st{};
  for (const char* sub : {"", "/a", "/a/b", "/a/b/c"}) {
    ASSERT_EQ(::stat((dir + sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << sub;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << sub;
  }
  EXPECT_TRUE(make_dirs(dir + "/a/b/c").ok()) << "an existing directory is fine";
  EXPECT_TRUE(make_dirs(dir + "/a/b/d").ok());
  EXPECT_EQ(::stat((dir + "/a/b/d").c_str(), &st), 0);
  ASSERT_TRUE(write_file_atomic(dir + "/f", "x").ok());
  auto r = make_dirs(dir + "/f/g/h");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno(), ENOTDIR) << r.error().to_string();
  EXPECT_NE(r.error().to_string().find(dir + "/f/g"), std::string::npos) << r.error().to_string();
  ASSERT_TRUE(remove_tree(dir).ok());
}

TEST(Process, StartTimeAndPidfdNspids) {
  auto st = process_start_time(::getpid());
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_GT(*st, 0u);
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  int fd = sys_pidfd_open(child, 0);
  ASSERT_GE(fd, 0);
  auto pids = pidfd_nspids(fd);
  ASSERT_TRUE(pids.ok()) << pids.error().to_string();
  EXPECT_EQ((*pids)[0], child);
  EXPECT_FALSE(*pidfd_wait_exit(fd, 0));
  ASSERT_EQ(sys_pidfd_send_signal(fd, SIGKILL), 0);
  EXPECT_TRUE(*pidfd_wait_exit(fd, 5000));
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(pidfd_nspids(fd).ok());
  ::close(fd);
}

// place_fds leaves exactly the planned fds open: nothing of the parent's leaks past it.
TEST(ChildUtil, PlaceFdsClosesEverythingElse) {
  int leak = ::open("/", O_RDONLY | O_DIRECTORY);  // inheritable on purpose
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t child = ::fork();
  if (child == 0) {
    child::FdMove moves[4] = {{-1, false}, {out[1], false}, {-1, false}, {p[1], true}};
    if (child::place_fds(moves, 4) != 0) ::_exit(2);
    int open_fds = 0;
    for (int fd = 0; fd < 1024; ++fd)
      if (::fcntl(fd, F_GETFD) >= 0) ++open_fds;
    bool cloexec = (::fcntl(3, F_GETFD) & FD_CLOEXEC) != 0;
    bool stdout_inherit = (::fcntl(1, F_GETFD) & FD_CLOEXEC) == 0;
    child::report(3, kChildError, 7, "from child");
    ::_exit(open_fds == 4 && cloexec && stdout_inherit ? 0 : 1);
  }
  ::close(p[1]);
  ::close(out[1]);
  ::close(leak);
  int ws = 0;
  ::waitpid(child, &ws, 0);
  EXPECT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 0);
  ChildReport r{};
  ASSERT_EQ(::read(p[0], &r, sizeof(r)), static_cast<ssize_t>(sizeof(r)));
  EXPECT_EQ(r.magic, kChildReportMagic);
  EXPECT_EQ(r.err, 7);
  EXPECT_STREQ(r.message, "from child");
  ::close(p[0]);
  ::close(out[0]);
}

TEST(ChildUtil, MsgBuildsWithoutAllocation) {
  child::Msg m;
  m.add("pid ").add_int(-42).add(" ").add_int(0).add(" ").add(nullptr);
  EXPECT_STREQ(m.c_str(), "pid -42 0 (null)");
}

TEST(HolderImage, IsASealedElf) {
  auto fd = holder_image_fd();
  ASSERT_TRUE(fd.ok()) << fd.error().to_string();
  int seals = ::fcntl(*fd, F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_WRITE | F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK),
            F_SEAL_WRITE | F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK);
  char magic[4] = {};
  ASSERT_EQ(::pread(*fd, magic, 4, 0), 4);
  EXPECT_EQ(std::memcmp(magic, "\177ELF", 4), 0);
  EXPECT_LT(::pwrite(*fd, "x", 1, 0), 0);
  EXPECT_EQ(*holder_image_fd(), *fd) << "one memfd per process";
}

TEST(SandboxManager, RejectsBadIdsAndHostnamesBeforeTouchingAnything) {
  SandboxManager m("/nonexistent-kernlet-root");
  SandboxSpec s;
  s.id = "a/b";
  EXPECT_EQ(m.create(s).error().code(), ErrorCode::kInvalidArgument);
  s.id = "ok";
  s.name = "Not_A_Hostname";
  auto r = m.create(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("invalid hostname \"Not_A_Hostname\""), std::string::npos);
  EXPECT_EQ(m.stop("missing").error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace kernlet::runtime
