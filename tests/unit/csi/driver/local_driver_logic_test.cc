// kernlet-csi-local's pure decisions and its state files, without root: capacity planning,
// volume ids, record round trips and crash leftovers, mountinfo parsing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "csi/driver/mount_info.h"
#include "csi/driver/volume_store.h"

namespace kernlet::csi::local {
namespace {

TEST(PlanCapacity, HonoursTheRange) {
  EXPECT_EQ(*plan_capacity(0, 0), kDefaultVolumeBytes);
  EXPECT_EQ(*plan_capacity(1, 0), kMinVolumeBytes);                    // raised to the minimum
  EXPECT_EQ(*plan_capacity(20 * kMiB + 1, 0), 21 * kMiB);              // whole MiB, rounded up
  EXPECT_EQ(*plan_capacity(20 * kMiB + 1, 21 * kMiB), 21 * kMiB);
  EXPECT_EQ(*plan_capacity(0, 32 * kMiB), 32 * kMiB);                  // only a limit: up to it
  EXPECT_EQ(*plan_capacity(20 * kMiB, 20 * kMiB + 100), 20 * kMiB);    // rounding down fits the limit
  auto tiny = plan_capacity(0, 4 * kMiB);
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.error().message().find("limit_bytes 4194304"), std::string::npos) << tiny.error().message();
  auto inverted = plan_capacity(64 * kMiB, 32 * kMiB);
  ASSERT_FALSE(inverted.ok());
  EXPECT_EQ(inverted.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(plan_capacity(-1, 0).ok());
}

TEST(VolumeIds, OnlyFileNameSafeNames) {
  EXPECT_EQ(*volume_id_for_name("pvc-3f1c2a9e-1b2c-4d5e-8f90-0123456789ab"), "pvc-3f1c2a9e-1b2c-4d5e-8f90-0123456789ab");
  for (const char* bad : {"", "../etc", "a/b", "Upper", "-lead", "trail.", "a b"}) {
    auto r = volume_id_for_name(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find(std::string("\"") + bad + "\""), std::string::npos);
    EXPECT_FALSE(validate_volume_id(bad).ok()) << bad;
  }
  EXPECT_FALSE(validate_volume_id(std::string(129, 'a')).ok());
}

TEST(VolumeRecords, RoundTrip) {
  VolumeRecord r{"pvc-1", "pvc-1", 64 * kMiB, 32 * kMiB, "node-a", 1};
  auto back = decode_record(encode_record(r));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->id, "pvc-1");
  EXPECT_EQ(back->capacity_bytes, 64 * kMiB);
  EXPECT_EQ(back->fs_bytes, 32 * kMiB);
  EXPECT_EQ(back->node_id, "node-a");
  EXPECT_FALSE(decode_record("{\"id\":\"../x\",\"capacityBytes\":1}").ok());
  EXPECT_FALSE(decode_record("{\"id\":\"ok\"}").ok());
  EXPECT_FALSE(decode_record("not json").ok());
}

TEST(VolumeStoreFiles, SaveListRemoveAndCrashLeftovers) {
  std::string tmpl = "/tmp/kl-csi-driver-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  struct Cleanup {
    std::string p;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } cleanup{tmpl};
  const std::string dir = tmpl + "/data";
  VolumeStore store(dir);
  ASSERT_TRUE(store.init().ok());
  ASSERT_TRUE(store.save({"a", "a", 16 * kMiB, 16 * kMiB, "n", 1}).ok());
  ASSERT_TRUE(store.save({"b", "b", 32 * kMiB, 32 * kMiB, "n", 1}).ok());
  ASSERT_TRUE(store.save({"b", "b", 48 * kMiB, 32 * kMiB, "n", 1}).ok());  // replaced
  // What a crash mid-write leaves: temporaries that init() clears.
  std::ofstream(dir + "/volumes/c.json.tmp") << "{";
  std::ofstream(dir + "/images/c.img.tmp") << "x";

  VolumeStore restarted(dir);
  ASSERT_TRUE(restarted.init().ok());
  EXPECT_FALSE(std::filesystem::exists(dir + "/volumes/c.json.tmp"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/images/c.img.tmp"));
  auto all = restarted.list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  auto b = restarted.load("b");
  ASSERT_TRUE(b.ok() && *b);
  EXPECT_EQ((*b)->capacity_bytes, 48 * kMiB);
  ASSERT_TRUE(restarted.remove("b").ok());
  ASSERT_TRUE(restarted.remove("b").ok());  // idempotent
  EXPECT_FALSE(*restarted.load("b"));
  EXPECT_EQ(restarted.image_path("a"), dir + "/images/a.img");
}

TEST(MountInfo, ParsesFieldsAndEscapes) {
  const char* text =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "90 22 7:3 / /var/lib/kernlet/csi/staging/pvc\\0401 rw,noatime shared:40 - ext4 /dev/loop3 rw\n"
      "91 22 7:3 / /pods/p/volumes/x ro,relatime - ext4 /dev/loop3 rw\n"
      "garbage line\n";
  auto m = parse_mountinfo(text);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[1].mount_point, "/var/lib/kernlet/csi/staging/pvc 1");
  EXPECT_EQ(m[1].source, "/dev/loop3");
  EXPECT_EQ(m[1].fs_type, "ext4");
  EXPECT_FALSE(m[1].read_only);
  EXPECT_TRUE(m[2].read_only);
  EXPECT_EQ(m[2].root, "/");
}

}  // namespace
}  // namespace kernlet::csi::local
