// /proc, /sys, /dev, masked and read-only paths, pod /etc files and bind mounts.
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/runtime/container/runtime_fixture.h"

namespace kernlet::runtime::testing {
namespace {

class MountsTest : public RuntimeTest {};

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
                 {ro, "/etc/app", true, Propagation::kHostToContainer, true}};
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "cfg\ndone\n");
  EXPECT_EQ(read_all(rw + "/new"), "out\n");
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
