// /proc, /sys, /dev, masked and read-only paths, pod /etc files and bind mounts.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/container/container_plan.h"
#include "tests/integration/runtime/container/runtime_fixture.h"

namespace kernlet::runtime::testing {
namespace {

class MountsTest : public RuntimeTest {};

// A directory of the test bound onto itself and made shared (rshared), as the agent does
// with its pods directory, with a sub directory `inner` for mounts; everything mounted
// under it is detached again, also when the test fails. Only mounts this test made are
// ever changed: the host's / and /tmp stay as they are (private on this machine).
class SharedDir {
 public:
  explicit SharedDir(std::string dir) : dir_(std::move(dir)) {
    if (!make_dirs(dir_ + "/inner").ok()) return;
    if (::mount(dir_.c_str(), dir_.c_str(), nullptr, MS_BIND, nullptr) != 0) return;
    mounted_ = true;
    ok_ = ::mount(nullptr, dir_.c_str(), nullptr, MS_SHARED, nullptr) == 0;
  }
  ~SharedDir() {
    if (mounted_) (void)::umount2(dir_.c_str(), MNT_DETACH);  // with whatever is below
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false, ok_ = false;
};

bool is_mount_point(const std::string& path) {
  std::string info = read_all("/proc/self/mountinfo");
  return info.find(" " + path + " ") != std::string::npos;
}

// The container waits (deadline 10 s) for the host to say it has mounted a tmpfs on
// <vol>/inner, then tells whether it sees the file in that tmpfs.
constexpr const char* kWaitForHostMount =
    "touch /vol/started; i=0; while [ ! -f /vol/host-mounted ] && [ $i -lt 200 ]; do "
    "sleep 0.05; i=$((i+1)); done; cat /vol/inner/from-host 2>/dev/null || echo not-seen";

// The host side: waits for the container to start, mounts a tmpfs on inner with a file in
// it, then says so.
void mount_on_host_when_started(const std::string& dir) {
  for (int i = 0; i < 400 && ::access((dir + "/started").c_str(), F_OK) != 0; ++i) ::usleep(25000);
  ASSERT_EQ(::access((dir + "/started").c_str(), F_OK), 0) << "the container did not start";
  std::string inner = dir + "/inner";
  ASSERT_EQ(::mount("tmpfs", inner.c_str(), "tmpfs", 0, "size=1m"), 0) << strerror(errno);
  ASSERT_TRUE(write_file_atomic(inner + "/from-host", "seen\n").ok());
  ASSERT_TRUE(write_file_atomic(dir + "/host-mounted", "").ok());
}

TEST_F(MountsTest, FreshProcInItsOwnPidNamespace) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  // The glob is expanded by sh itself, after it has reaped cat: sh (PID 1) is then the only
  // process of the namespace. (Counting through `ls /proc | grep` raced: ls could list /proc
  // before grep was forked.)
  ContainerStatus st = run(spec_for(sb->id(), {"sh", "-c", "echo $$; cat /proc/1/comm; echo /proc/[0-9]*"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "1\nsh\n/proc/1\n");
}

TEST_F(MountsTest, SysIsReadOnlyAndDevIsMinimal) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"sh", "-c",
      "echo x > /sys/kernel/uevent_helper 2>/dev/null && echo sys-writable;"
      "mkdir /sys/fs/cgroup/x 2>/dev/null && echo cgroup-writable;"
      "ls /dev | tr '\\n' ' '; echo; readlink /dev/ptmx; readlink /dev/fd;"
      "echo hi > /dev/null && head -c 4 /dev/zero | wc -c"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(),
            "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero \n"
            "pts/ptmx\n/proc/self/fd\n4\n");
}

TEST_F(MountsTest, MaskedPathsAreUnreadableAndReadonlyPathsUnwritable) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"sh", "-c",
      "wc -c < /proc/keys; wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l;"
      "ls -A /proc/acpi | wc -l; touch /sys/firmware/x || echo masked-dir-read-only;"
      "echo 1 > /proc/sys/kernel/ns_last_pid || echo proc-sys-read-only"}));
  EXPECT_EQ(st.exit_code, 0);
  // The host has content in all of them (checked below); the container sees none.
  EXPECT_EQ(output(), "0\n0\n0\n0\nmasked-dir-read-only\nproc-sys-read-only\n");
  EXPECT_NE(read_all("/proc/timer_list"), "");
  EXPECT_NE(read_all("/proc/keys"), "");
}

TEST_F(MountsTest, PodEtcFilesAndHostname) {
  SandboxSpec pod;
  pod.name = "frontend";
  pod.pod_ip = "10.1.2.3";
  pod.dns.servers = {"10.96.0.10"};
  pod.dns.searches = {"default.svc.cluster.local", "svc.cluster.local"};
  pod.dns.options = {"ndots:5"};
  pod.host_aliases = {{"10.9.9.9", {"db.local"}}};
  Sandbox* sb = make_sandbox(pod);
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"sh", "-c",
      "hostname; cat /etc/hostname; grep frontend /etc/hosts; grep db.local /etc/hosts; cat /etc/resolv.conf; echo $HOSTNAME"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(),
            "frontend\nfrontend\n10.1.2.3\tfrontend\n10.9.9.9\tdb.local\n"
            "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\n"
            "options ndots:5\nfrontend\n");
}

TEST_F(MountsTest, BindMountsReadWriteAndReadOnly) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  std::string rw = root_ + "/vol-rw", ro = root_ + "/vol-ro";
  ASSERT_TRUE(make_dirs(rw).ok());
  ASSERT_TRUE(make_dirs(ro).ok());
  ASSERT_TRUE(write_file_atomic(ro + "/config", "cfg\n").ok());
  auto spec = spec_for(sb->id(), {"sh", "-c",
      "echo out > /data/new; cat /etc/app/config; echo x > /etc/app/other 2>/dev/null && echo ro-writable; echo done"});
  spec.mounts = {{rw, "/data", false, Propagation::kPrivate, true},
                 {ro, "/etc/app", true, Propagation::kPrivate, true}};
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "cfg\ndone\n");
  EXPECT_EQ(read_all(rw + "/new"), "out\n");
}

TEST_F(MountsTest, HostToContainerSeesLaterHostMounts) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  SharedDir dir(root_ + "/h2c");
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  auto spec = spec_for(sb->id(), {"sh", "-c", kWaitForHostMount});
  spec.mounts = {{dir.path(), "/vol", false, Propagation::kHostToContainer, true}};
  auto created = rt_->create(spec);
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  auto started = rt_->start(spec.id);
  ASSERT_TRUE(started.ok()) << started.error().to_string();
  mount_on_host_when_started(dir.path());
  auto w = rt_->wait(spec.id, 20000);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  EXPECT_EQ(w->exit_code, 0) << errors();
  EXPECT_EQ(output(), "seen\n");
}

TEST_F(MountsTest, NonePropagationSeesNoLaterHostMount) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  SharedDir dir(root_ + "/none");
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  auto spec = spec_for(sb->id(), {"sh", "-c", kWaitForHostMount});
  spec.mounts = {{dir.path(), "/vol", false, Propagation::kPrivate, true}};
  auto created = rt_->create(spec);
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  auto started = rt_->start(spec.id);
  ASSERT_TRUE(started.ok()) << started.error().to_string();
  mount_on_host_when_started(dir.path());
  auto w = rt_->wait(spec.id, 20000);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  EXPECT_EQ(w->exit_code, 0) << errors();
  EXPECT_EQ(output(), "not-seen\n");
}

TEST_F(MountsTest, BidirectionalMountInsideReachesTheHost) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  SharedDir dir(root_ + "/bidi");
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  auto spec = spec_for(sb->id(), {"sh", "-c",
      "mount -t tmpfs -o size=1m tmpfs /vol/inner && echo from-container > /vol/inner/f && "
      "mkdir -p /private-mnt && mount -t tmpfs -o size=1m tmpfs /private-mnt && echo done"});
  spec.privileged = true;
  spec.mounts = {{dir.path(), "/vol", false, Propagation::kBidirectional, true}};
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0) << errors();
  EXPECT_EQ(output(), "done\n") << errors();
  // The container's tmpfs outlives it on the host path; nothing else of it shows.
  EXPECT_TRUE(is_mount_point(dir.path() + "/inner"));
  EXPECT_EQ(read_all(dir.path() + "/inner/f"), "from-container\n");
  EXPECT_FALSE(read_all("/proc/self/mountinfo").find("private-mnt") != std::string::npos);
}

TEST_F(MountsTest, BidirectionalAlsoSeesLaterHostMounts) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  SharedDir dir(root_ + "/bidi2");
  ASSERT_TRUE(dir.ok()) << strerror(errno);
  auto spec = spec_for(sb->id(), {"sh", "-c", kWaitForHostMount});
  spec.privileged = true;
  spec.mounts = {{dir.path(), "/vol", false, Propagation::kBidirectional, true}};
  auto created = rt_->create(spec);
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  auto started = rt_->start(spec.id);
  ASSERT_TRUE(started.ok()) << started.error().to_string();
  mount_on_host_when_started(dir.path());
  auto w = rt_->wait(spec.id, 20000);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  EXPECT_EQ(output(), "seen\n");
}

TEST_F(MountsTest, PropagationNeedsASharedSourceAndBidirectionalPrivilege) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  std::string plain = root_ + "/plain";  // on /tmp's mount: private here
  ASSERT_TRUE(make_dirs(plain).ok());
  if (mount_sharing_of(read_all("/proc/self/mountinfo"), root_) != MountSharing::kPrivate)
    GTEST_SKIP() << root_ << " is not on a private mount on this host";
  auto spec = spec_for(sb->id(), {"true"});
  spec.privileged = true;
  spec.mounts = {{plain, "/vol", false, Propagation::kBidirectional, true}};
  auto r = rt_->create(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("is not a shared mount"), std::string::npos) << r.error().message();
  spec.mounts[0].propagation = Propagation::kHostToContainer;
  r = rt_->create(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("neither shared nor a slave"), std::string::npos) << r.error().message();
  SharedDir dir(root_ + "/shared");
  ASSERT_TRUE(dir.ok());
  spec.privileged = false;
  spec.mounts = {{dir.path(), "/vol", false, Propagation::kBidirectional, true}};
  r = rt_->create(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("only to privileged containers"), std::string::npos) << r.error().message();
}

TEST_F(MountsTest, WorkingDirectoryIsCreatedWhenMissing) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"pwd"});
  spec.process.cwd = "/srv/app";
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "/srv/app\n");
}

}  // namespace
}  // namespace kernlet::runtime::testing
