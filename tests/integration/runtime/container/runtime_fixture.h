// Shared fixture for the container integration tests: a busybox rootfs lower dir (from
// Debian's busybox-static), a unique state root and cgroup leaves, all removed afterwards.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/container/container_runtime.h"

namespace kernlet::runtime::testing {

inline std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

inline std::string read_all(const std::string& path) {
  auto r = read_file(path);
  return r.ok() ? *r : std::string();
}

// A busybox rootfs made once per test binary.
class BusyboxRootfs {
 public:
  static const std::string& dir() {
    static BusyboxRootfs* instance = new BusyboxRootfs();
    return instance->dir_;
  }
  static void cleanup() {
    std::string d = "/tmp/kl-busybox-" + std::to_string(::getpid());
    (void)remove_tree(d);
  }

 private:
  BusyboxRootfs() {
    dir_ = "/tmp/kl-busybox-" + std::to_string(::getpid());
    (void)remove_tree(dir_);
    for (const char* d : {"", "/bin", "/etc", "/proc", "/sys", "/dev", "/tmp", "/root", "/home"})
      ::mkdir((dir_ + d).c_str(), 0755);
    ::chmod((dir_ + "/tmp").c_str(), 01777);
    std::string cmd = "cp /bin/busybox " + dir_ + "/bin/busybox";
    if (std::system(cmd.c_str()) != 0) dir_.clear();
    FILE* list = ::popen("/bin/busybox --list", "r");
    char applet[128];
    while (list != nullptr && std::fgets(applet, sizeof(applet), list) != nullptr) {
      std::string name(applet);
      while (!name.empty() && name.back() == '\n') name.pop_back();
      if (!name.empty() && name != "busybox")
        (void)::symlink("busybox", (dir_ + "/bin/" + name).c_str());
    }
    if (list != nullptr) ::pclose(list);
    (void)write_file_atomic(dir_ + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  }
  std::string dir_;
};

// Removes the shared busybox rootfs when the test binary ends.
class RootfsCleanup : public ::testing::Environment {
 public:
  void TearDown() override { BusyboxRootfs::cleanup(); }
};
inline ::testing::Environment* const kRootfsCleanup =
    ::testing::AddGlobalTestEnvironment(new RootfsCleanup);

// A small extra lower layer (topmost) made of the given symlinks and files, removed with the
// state root.
struct Layer {
  std::vector<std::pair<std::string, std::string>> symlinks;  // path -> target
  std::vector<std::pair<std::string, std::string>> files;     // path -> content
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, mounts)";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs busybox-static";
    lower_ = BusyboxRootfs::dir();
    ASSERT_FALSE(lower_.empty()) << "could not build the busybox rootfs";
    root_ = "/tmp/" + unique_name("kl-ctr-state");
    auto rt = ContainerRuntime::open(root_);
    ASSERT_TRUE(rt.ok()) << rt.error().to_string();
    rt_ = std::move(*rt);
  }

  void TearDown() override {
    if (rt_) {
      for (const auto& id : rt_->list()) {
        (void)rt_->stop(id, 0);
        (void)rt_->remove(id);
      }
      std::vector<std::string> ids;
      for (const auto& id : sandboxes_) (void)rt_->sandboxes().remove(id);
    }
    rt_.reset();
    for (const auto& cg : cgroups_) ::rmdir(cg.c_str());
    if (!root_.empty()) (void)remove_tree(root_);
  }

  static void TearDownTestSuite() {}

  Sandbox* make_sandbox(SandboxSpec spec = {}) {
    if (spec.id.empty()) spec.id = unique_name("pod");
    if (spec.name.empty()) spec.name = "web";
    auto sb = rt_->sandboxes().create(spec);
    EXPECT_TRUE(sb.ok()) << sb.error().to_string();
    if (!sb.ok()) return nullptr;
    sandboxes_.push_back(spec.id);
    return *sb;
  }

  // A cgroup v2 leaf of our own, or "" when cgroup2 is not writable here.
  std::string make_cgroup() {
    std::string path = "/sys/fs/cgroup/unified/" + unique_name("kl-ctr-test");
    if (::mkdir(path.c_str(), 0755) != 0) return "";
    cgroups_.push_back(path);
    return path;
  }

  ContainerSpec spec_for(const std::string& sandbox, std::vector<std::string> args) {
    ContainerSpec s;
    s.id = unique_name("ctr");
    s.sandbox_id = sandbox;
    s.lower_dirs = {lower_};
    s.process.args = std::move(args);
    out_path_ = root_ + "/" + s.id + ".out";
    s.process.stdout_path = out_path_;
    err_path_ = root_ + "/" + s.id + ".err";
    s.process.stderr_path = err_path_;
    return s;
  }

  // create + start + wait; returns the status (fails the test on a runtime error).
  ContainerStatus run(const ContainerSpec& s) {
    auto c = rt_->create(s);
    EXPECT_TRUE(c.ok()) << c.error().to_string();
    if (!c.ok()) return {};
    auto st = rt_->start(s.id);
    EXPECT_TRUE(st.ok()) << st.error().to_string();
    auto w = rt_->wait(s.id, 20000);
    EXPECT_TRUE(w.ok()) << w.error().to_string();
    return w.ok() ? *w : ContainerStatus{};
  }

  std::string output() { return read_all(out_path_); }
  std::string errors() { return read_all(err_path_); }

  // Makes a layer dir under the state root and returns its path.
  std::string make_layer(const Layer& layer) {
    std::string dir = root_ + "/" + unique_name("layer");
    EXPECT_TRUE(make_dirs(dir).ok());
    for (const auto& [path, target] : layer.symlinks) {
      std::string full = dir + path;
      EXPECT_TRUE(make_dirs(full.substr(0, full.rfind('/'))).ok());
      EXPECT_EQ(::symlink(target.c_str(), full.c_str()), 0) << full;
    }
    for (const auto& [path, content] : layer.files) {
      std::string full = dir + path;
      EXPECT_TRUE(make_dirs(full.substr(0, full.rfind('/'))).ok());
      EXPECT_TRUE(write_file_atomic(full, content, 0755).ok());
    }
    return dir;
  }

  // Status fields of a host pid ("PPid", "VmRSS", ...).
  static std::string proc_status_field(pid_t pid, const std::string& key) {
    std::string s = read_all("/proc/" + std::to_string(pid) + "/status");
    size_t at = s.find("\n" + key + ":");
    if (at == std::string::npos) return "";
    at += key.size() + 2;
    size_t end = s.find('\n', at);
    std::string v = s.substr(at, end - at);
    size_t b = v.find_first_not_of(" \t");
    return b == std::string::npos ? "" : v.substr(b);
  }

  std::string lower_, root_, out_path_, err_path_;
  std::unique_ptr<ContainerRuntime> rt_;
  std::vector<std::string> sandboxes_, cgroups_;
};

}  // namespace kernlet::runtime::testing
