// The container escapes of the issue, each a test that fails when its defence is removed.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/integration/runtime/container/runtime_fixture.h"

namespace {

// If this very test binary is ever executed inside a container (the CVE-2019-5736 path:
// a "#!/proc/self/exe" script run by a runtime whose own binary is /proc/self/exe), it
// says so and tries to open itself for writing, instead of running the tests.
__attribute__((constructor)) void cve_2019_5736_payload() {
  char cmdline[4096] = {};
  int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = ::read(fd, cmdline, sizeof(cmdline) - 1);
  ::close(fd);
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(strlen(cmdline + i)) + 1) {
    if (strcmp(cmdline + i, "--kernlet-cve-2019-5736") != 0) continue;
    static const char kRan[] = "HOST-BINARY-RAN\n";
    ssize_t w = ::write(1, kRan, sizeof(kRan) - 1);
    int self = ::open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
    if (self >= 0) w = ::write(1, "HOST-BINARY-WRITABLE\n", 21);
    (void)w;
    ::_exit(42);
  }
}

}  // namespace

namespace kernlet::runtime::testing {
namespace {

class SecurityTest : public RuntimeTest {};

// CVE-2019-5736: the entrypoint is "#!/proc/self/exe". The kernel resolves that in the
// execing process; the runtime's last hop is the sealed holder memfd, so the interpreter is
// that (which refuses to run), never the host binary that set the container up.
TEST_F(SecurityTest, Cve2019_5736HostBinaryIsNeverExecutedInTheContainer) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  // Give the container the host's loader and libraries so the host binary *could* run there.
  Layer layer;
  layer.symlinks = {{"/lib", "usr/lib"}, {"/lib64", "usr/lib64"}};
  layer.files = {{"/evil", "#!/proc/self/exe --kernlet-cve-2019-5736\n"}};
  auto spec = spec_for(sb->id(), {"/evil"});
  spec.lower_dirs.insert(spec.lower_dirs.begin(), make_layer(layer));
  spec.mounts = {{"/usr", "/usr", true, Propagation::kPrivate, true}};
  if (::access("/etc/ld.so.cache", R_OK) == 0)
    spec.mounts.push_back({"/etc/ld.so.cache", "/etc/ld.so.cache", true, Propagation::kPrivate, false});
  ContainerStatus st = run(spec);
  EXPECT_EQ(output().find("HOST-BINARY-RAN"), std::string::npos) << output();
  EXPECT_NE(st.exit_code, 42);
  EXPECT_EQ(st.exit_code, 127) << "the holder binary refuses an unknown argv[0]";

  // And exec sessions take the same last hop.
  auto sleeper = spec_for(sb->id(), {"sleep", "1000"});
  sleeper.lower_dirs = spec.lower_dirs;
  sleeper.mounts = spec.mounts;
  ASSERT_TRUE(rt_->create(sleeper).ok());
  ASSERT_TRUE(rt_->start(sleeper.id).ok());
  std::string out = root_ + "/exec.out";
  ExecSpec ex;
  ex.process.args = {"/evil"};
  ex.process.stdout_path = out;
  auto s = rt_->exec(sleeper.id, ex);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  auto code = (*s)->wait(10000);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 127);
  EXPECT_EQ(read_all(out).find("HOST-BINARY-RAN"), std::string::npos);
}

// CVE-2024-21626: an fd of the driver's (here a host directory without O_CLOEXEC) must not
// reach the container, and a working directory of /proc/self/fd/N must be refused.
TEST_F(SecurityTest, Cve2024_21626NoLeakedFdsAndNoProcSelfFdWorkingDirectory) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  int leaked = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY);  // deliberately inheritable
  ASSERT_GE(leaked, 0);
  auto spec = spec_for(sb->id(), {"sh", "-c", "ls /proc/$$/fd; for f in /proc/$$/fd/*; do readlink $f; done; true"});
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0);
  // Only stdin (/dev/null), stdout and stderr (files the test named); nothing else.
  EXPECT_EQ(output().find("0\n1\n2\n/null\n" + root_ + "/"), 0u) << output();
  EXPECT_EQ(output().find(root_ + "\n"), std::string::npos) << output();

  for (std::string cwd : {"/proc/self/fd/" + std::to_string(leaked), std::string("/proc/self/fd/5"),
                          std::string("/proc/self/cwd")}) {
    auto bad = spec_for(sb->id(), {"pwd"});
    bad.process.cwd = cwd;
    auto c = rt_->create(bad);
    ASSERT_FALSE(c.ok()) << cwd;
    EXPECT_NE(c.error().to_string().find("working directory"), std::string::npos)
        << c.error().to_string();
  }
  ::close(leaked);
}

// CVE-2021-30465 class: the image makes a volume's destination a symlink out of the rootfs
// (absolute and relative). The destination is resolved inside the rootfs (openat2
// RESOLVE_IN_ROOT) and the volume is attached to that fd, so it lands inside the container
// (visible there through the symlink), never on the host path.
TEST_F(SecurityTest, MountDestinationSymlinksCannotLeaveTheRootfs) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  std::string vol = root_ + "/volume", host_target = root_ + "/host-target";
  ASSERT_TRUE(make_dirs(vol).ok());
  ASSERT_TRUE(make_dirs(host_target).ok());
  ASSERT_TRUE(write_file_atomic(vol + "/marker", "volume\n").ok());
  Layer layer;
  layer.symlinks = {{"/abs", host_target}, {"/rel", "../../../../../../../../.." + host_target}};
  auto spec = spec_for(sb->id(), {"sh", "-c", "cat /abs/marker /rel/sub/marker; readlink -f /abs"});
  spec.lower_dirs.insert(spec.lower_dirs.begin(), make_layer(layer));
  spec.mounts = {{vol, "/abs", false, Propagation::kPrivate, true},
                 {vol, "/rel/sub", false, Propagation::kPrivate, true}};
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "volume\nvolume\n" + host_target + "\n");
  // The container's copy of the target dir got the mounts; the host's stays empty.
  struct stat s{};
  EXPECT_NE(::stat((host_target + "/marker").c_str(), &s), 0);
  EXPECT_NE(::stat((host_target + "/sub").c_str(), &s), 0);
}

// An image whose /proc or /dev is a symlink (to a host path): refused, nothing mounted
// through it.
TEST_F(SecurityTest, ImageWithProcOrDevSymlinkIsRefused) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  std::string target = root_ + "/target";
  ASSERT_TRUE(make_dirs(target).ok());
  for (const char* dir : {"/proc", "/dev", "/sys"}) {
    Layer layer;
    layer.symlinks = {{dir, target}};
    auto spec = spec_for(sb->id(), {"true"});
    spec.lower_dirs.insert(spec.lower_dirs.begin(), make_layer(layer));
    auto c = rt_->create(spec);
    ASSERT_FALSE(c.ok()) << dir;
    EXPECT_NE(c.error().to_string().find(std::string("ContainerCannotRun: mount destination is or passes a symlink: ") + dir),
              std::string::npos) << c.error().to_string();
    EXPECT_TRUE(rt_->list().empty());
  }
  EXPECT_EQ(read_all("/proc/self/mountinfo").find(target), std::string::npos);
}

// Without CAP_SYS_ADMIN (not in the default set) mount and unshare fail.
TEST_F(SecurityTest, DefaultCapabilitiesRefuseMountAndUnshare) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"sh", "-c",
      "mount -t tmpfs none /tmp 2>/dev/null && echo mounted; unshare -m true 2>/dev/null && echo unshared; echo done"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "done\n");
}

}  // namespace
}  // namespace kernlet::runtime::testing

namespace kernlet::runtime::testing {
namespace {

// The same, with the destination swapped between a directory and a symlink out of the
// rootfs while containers are set up (renameat2 RENAME_EXCHANGE in the image layer). The
// volume must be attached inside the rootfs every time: the destination is resolved once,
// to an fd, and the mount goes onto that fd.
TEST_F(SecurityTest, MountDestinationSwappedDuringSetupStaysInside) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  std::string vol = root_ + "/volume", host_target = root_ + "/host-target";
  ASSERT_TRUE(make_dirs(vol).ok());
  ASSERT_TRUE(make_dirs(host_target).ok());
  ASSERT_TRUE(write_file_atomic(vol + "/marker", "volume\n").ok());
  Layer layer;
  layer.symlinks = {{"/swap-link", host_target}};
  std::string top = make_layer(layer);
  ASSERT_TRUE(make_dirs(top + "/data").ok());
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&] {
    while (!stop) {
      if (::renameat2(AT_FDCWD, (top + "/data").c_str(), AT_FDCWD, (top + "/swap-link").c_str(),
                      RENAME_EXCHANGE) == 0)
        ++swaps;
    }
  });
  int visible = 0;
  const int kRuns = 12;
  for (int i = 0; i < kRuns; ++i) {
    auto spec = spec_for(sb->id(), {"sh", "-c", "cat /data/marker 2>/dev/null || cat " + host_target + "/marker"});
    spec.lower_dirs.insert(spec.lower_dirs.begin(), top);
    spec.mounts = {{vol, "/data", false, Propagation::kPrivate, true}};
    auto c = rt_->create(spec);
    if (!c.ok()) continue;  // e.g. the layer changed under overlayfs; never an escape
    ASSERT_TRUE(rt_->start(spec.id).ok());
    auto st = rt_->wait(spec.id, 10000);
    ASSERT_TRUE(st.ok());
    if (st->exit_code == 0 && output() == "volume\n") ++visible;
    EXPECT_TRUE(rt_->remove(spec.id).ok());
  }
  stop = true;
  swapper.join();
  EXPECT_GT(swaps.load(), 0);
  EXPECT_EQ(visible, kRuns) << "a volume was attached outside the container's rootfs";
  struct stat s{};
  EXPECT_NE(::stat((host_target + "/marker").c_str(), &s), 0);
}

}  // namespace
}  // namespace kernlet::runtime::testing
