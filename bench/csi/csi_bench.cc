// kernlet-bench-csi: mount and unmount latency of a persistent volume through the CSI path
// (needs root). Starts kernlet-csi-local in a temporary directory, creates one 64 MiB
// volume and times, over --rounds rounds, "mount" = NodeStageVolume + NodePublishVolume and
// "unmount" = NodeUnpublishVolume + NodeUnstageVolume through kernlet's CsiClient. The peer,
// on the same image in the same run, is the shell path a script driver (flexvolume-style)
// takes: `losetup --find --show` + `mount` + `mount --bind`, then `umount` twice +
// `losetup -d`, each a fork+exec of util-linux. Everything happens in a private mount
// namespace of this process and is removed at the end. Prints one JSON document.
// A third case times the same volume through the agent's code (csi/node's CsiNodeVolumes:
// setup = records + capabilities + stage + publish, teardown = unpublish + unstage), so the
// agent's own overhead over the raw CSI calls shows.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "api/json.h"
#include "bench/common/bench_process.h"
#include "api/objects/pod.h"
#include "csi/client/csi_client.h"
#include "csi/node/csi_node_volumes.h"
#include "csi/volume/mounter.h"

namespace {

using kernlet::bench::Clock;
namespace fs = std::filesystem;

int64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

bool sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  char buf[256];
  std::string o;
  while (std::fgets(buf, sizeof buf, p) != nullptr) o += buf;
  int rc = ::pclose(p);
  while (!o.empty() && o.back() == '\n') o.pop_back();
  if (out != nullptr) *out = o;
  return rc == 0;
}

kernlet::json::object summary(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  kernlet::json::object o;
  o["p50_ms"] = kernlet::bench::pct_ms(v, 0.50);
  o["p99_ms"] = kernlet::bench::pct_ms(v, 0.99);
  o["n"] = static_cast<int64_t>(v.size());
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 20;
  std::string bin_dir = std::getenv("KERNLET_BIN") ? std::getenv("KERNLET_BIN") : "build/bin";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: kernlet-bench-csi [--rounds N]\n");
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "kernlet-bench-csi: needs root (loop devices, mounts)\n");
    return 77;
  }
  if (rounds < 1 || rounds > 1000) {
    std::fprintf(stderr, "kernlet-bench-csi: --rounds must be 1-1000\n");
    return 2;
  }
  // Before any thread exists: our mounts live and die with this namespace.
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("kernlet-bench-csi: private mount namespace");
    return 1;
  }
  const std::string machine = kernlet::bench::machine_json();
  std::string tmpl = "/tmp/kl-bench-csi.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return 1;
  const std::string dir = tmpl, sock = dir + "/csi.sock";
  fs::create_directories(dir + "/staging/pvc-bench");
  fs::create_directories(dir + "/pods/p");
  pid_t driver = kernlet::bench::spawn({bin_dir + "/kernlet-csi-local", "--endpoint", "unix://" + sock, "--node-id",
                                        "bench", "--data-dir", dir + "/data"},
                                       dir + "/driver.log");
  int status = 1;
  std::vector<int64_t> csi_mount, csi_unmount, agent_mount, agent_unmount, sh_mount, sh_unmount;
  auto client = kernlet::csi::CsiClient::connect("unix://" + sock, std::chrono::seconds(60));
  do {
    if (!client.ok()) break;
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!(*client)->probe(kernlet::csi::CallOptions{std::chrono::milliseconds(500)}).ok() && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kernlet::csi::VolumeCapability cap;
    cap.fs_type = "ext4";
    auto vol = (*client)->create_volume({"pvc-bench", 64 << 20, 0, {cap}, {}, {}, {}, {}});
    if (!vol.ok()) {
      std::fprintf(stderr, "kernlet-bench-csi: CreateVolume: %s\n", vol.error().to_string().c_str());
      break;
    }
    const std::string staging = dir + "/staging/pvc-bench", target = dir + "/pods/p/pvc-bench";
    bool ok = true;
    for (int r = 0; r < rounds && ok; ++r) {
      auto t0 = Clock::now();
      ok = (*client)->node_stage_volume({"pvc-bench", {}, staging, cap, {}, {}}).ok() &&
           (*client)->node_publish_volume({"pvc-bench", {}, staging, target, cap, false, {}, {}}).ok();
      csi_mount.push_back(ns_since(t0));
      t0 = Clock::now();
      ok = ok && (*client)->node_unpublish_volume("pvc-bench", target).ok() &&
           (*client)->node_unstage_volume("pvc-bench", staging).ok();
      csi_unmount.push_back(ns_since(t0));
    }
    // The agent's path on the same volume: CsiNodeVolumes (what the volume manager calls
    // for a pod's claim: records, capability check, stage, publish; teardown: unpublish,
    // unstage, directories removed), with the claim and PV answered from memory, so the
    // API round trips of a real agent are not in the figure.
    std::shared_ptr<kernlet::csi::CsiClient> shared(std::move(*client));
    kernlet::csi::LinuxMounter mounter;
    kernlet::csi::CsiNodeDeps deps;
    auto claim = kernlet::json::parse_object(R"({"metadata":{"name":"c","namespace":"default","uid":"c-1"},
      "spec":{"volumeName":"pvc-bench"},"status":{"phase":"Bound"}})").value();
    auto pv = kernlet::json::parse_object(R"({"metadata":{"name":"pvc-bench"},"spec":{"accessModes":["ReadWriteOnce"],
      "claimRef":{"uid":"c-1"},"csi":{"driver":"local.csi.kernlet.io","volumeHandle":"pvc-bench","fsType":"ext4"}}})")
                  .value();
    auto pod = kernlet::json::parse_object(R"({"metadata":{"name":"p","namespace":"default","uid":"u1"},
      "spec":{"volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"c"}}],"containers":[{"name":"c"}]}})")
                   .value();
    using Obj = kernlet::Result<std::optional<kernlet::json::object>>;
    deps.claim = [&](std::string_view, std::string_view) -> Obj { return std::optional(claim); };
    deps.volume = [&](std::string_view) -> Obj { return std::optional(pv); };
    deps.csi_driver = [](std::string_view) -> Obj { return std::optional<kernlet::json::object>(); };
    deps.driver = [&](std::string_view) -> kernlet::Result<std::shared_ptr<kernlet::csi::NodeDriver>> {
      return kernlet::csi::node_driver_of(shared);
    };
    kernlet::csi::CsiNodeVolumes node(dir + "/agent", dir + "/agent/pods", mounter, deps);
    kernlet::api::VolumeView volume(*kernlet::api::get_object_array(*kernlet::json::get_object(pod, "spec"), "volumes")[0]);
    for (int r = 0; r < rounds && ok; ++r) {
      auto t0 = Clock::now();
      auto info = node.setup(pod, volume, dir + "/agent/pods/u1");
      agent_mount.push_back(ns_since(t0));
      if (!info.ok()) {
        std::fprintf(stderr, "kernlet-bench-csi: agent path setup: %s\n", info.error().to_string().c_str());
        ok = false;
        break;
      }
      t0 = Clock::now();
      auto down = node.teardown_pod("u1", dir + "/agent/pods/u1");
      agent_unmount.push_back(ns_since(t0));
      if (!down.ok()) {
        std::fprintf(stderr, "kernlet-bench-csi: agent path teardown: %s\n", down.error().to_string().c_str());
        ok = false;
      }
    }
    // The peer, on the same image.
    const std::string image = dir + "/data/images/pvc-bench.img", peer_target = dir + "/pods/p/peer";
    fs::create_directories(peer_target);
    for (int r = 0; r < rounds && ok; ++r) {
      std::string dev;
      auto t0 = Clock::now();
      ok = sh("losetup --find --show " + image, &dev) && sh("mount -t ext4 " + dev + " " + staging) &&
           sh("mount --bind " + staging + " " + peer_target);
      sh_mount.push_back(ns_since(t0));
      t0 = Clock::now();
      ok = sh("umount " + peer_target) && sh("umount " + staging) && sh("losetup -d " + dev) && ok;
      sh_unmount.push_back(ns_since(t0));
    }
    if (!ok) {
      std::fprintf(stderr, "kernlet-bench-csi: a round failed (see %s/driver.log)\n", dir.c_str());
      break;
    }
    (void)shared->delete_volume("pvc-bench");
    shared.reset();  // drop the channel before stopping the driver
    status = 0;
  } while (false);
  if (client.ok()) client->reset();
  kernlet::bench::stop(driver);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (status != 0) return status;

  kernlet::json::object doc;
  doc["benchmark"] = "csi_mount";
  doc["machine"] = kernlet::json::parse(machine).value();
  doc["rounds"] = rounds;
  kernlet::json::object k;
  k["mount_stage_publish"] = summary(csi_mount);
  k["unmount_unpublish_unstage"] = summary(csi_unmount);
  kernlet::json::object p;
  p["mount_losetup_mount_bind"] = summary(sh_mount);
  p["unmount_umount_losetup_d"] = summary(sh_unmount);
  doc["kernlet_csi_local"] = k;
  kernlet::json::object a;
  a["mount_setup"] = summary(agent_mount);
  a["unmount_teardown"] = summary(agent_unmount);
  doc["agent_csi_node_volumes"] = a;
  doc["peer_shell_losetup_mount"] = p;
  std::printf("%s\n", kernlet::json::dump(doc).c_str());
  return 0;
}
