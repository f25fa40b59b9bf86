#include "runtime/seccomp/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

namespace kernlet::seccomp {
namespace {

// What the kernel has here (CAP_CHOWN..CAP_CHECKPOINT_RESTORE), for deterministic tables.
const CapabilitySet kAll((uint64_t{1} << 41) - 1);

TEST(CapabilitiesTest, DefaultSetIsContainerdsFourteen) {
  CapabilitySet d = default_capabilities();
  EXPECT_EQ(d.count(), 14);
  // The mask Docker and containerd containers show as CapBnd.
  EXPECT_EQ(d.to_hex(), "00000000a80425fb");
  EXPECT_EQ(d.names(), (std::vector<std::string>{
                           "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                           "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                           "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE",
                           "CAP_SETFCAP"}));
}

TEST(CapabilitiesTest, ParsesNamesWithOrWithoutPrefixInAnyCase) {
  EXPECT_EQ(*parse_capability("NET_ADMIN"), CAP_NET_ADMIN);
  EXPECT_EQ(*parse_capability("CAP_NET_ADMIN"), CAP_NET_ADMIN);
  EXPECT_EQ(*parse_capability("net_admin"), CAP_NET_ADMIN);
  EXPECT_EQ(*parse_capability("cap_sys_admin"), CAP_SYS_ADMIN);
  EXPECT_EQ(*parse_capability("checkpoint_restore"), CAP_CHECKPOINT_RESTORE);
}

TEST(CapabilitiesTest, UnknownNameIsAnErrorNamingItAndTheField) {
  Result<int> r = parse_capability("NET_ADMINN", "securityContext.capabilities.add");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "securityContext.capabilities.add: unknown capability \"NET_ADMINN\"");
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(parse_capability("").ok());
  EXPECT_FALSE(parse_capability("CAP_").ok());
  EXPECT_FALSE(parse_capability("ALL").ok());  // ALL only in add/drop lists
}

struct CapCase {
  const char* name;
  CapabilityRequest request;
  CapabilitySets want;
};

CapabilitySets full(CapabilitySet s) { return {s, s, s, CapabilitySet(), CapabilitySet()}; }

TEST(CapabilitiesTest, ComputeTable) {
  const CapabilitySet d = default_capabilities();
  auto with = [&](std::initializer_list<int> add, std::initializer_list<int> drop) {
    CapabilitySet s = d | CapabilitySet::of(add);
    return s - CapabilitySet::of(drop);
  };
  std::vector<CapCase> cases = {
      {"root defaults", {}, full(d)},
      {"add one", {.add = {"NET_ADMIN"}}, full(with({CAP_NET_ADMIN}, {}))},
      {"drop one", {.drop = {"net_raw"}}, full(with({}, {CAP_NET_RAW}))},
      {"drop ALL", {.drop = {"ALL"}}, full(CapabilitySet())},
      {"drop ALL add one (restricted PSS)", {.add = {"NET_BIND_SERVICE"}, .drop = {"ALL"}},
       full(CapabilitySet::of({CAP_NET_BIND_SERVICE}))},
      {"add ALL", {.add = {"ALL"}}, full(kAll)},
      {"add ALL drop one", {.add = {"all"}, .drop = {"SYS_ADMIN"}},
       full(kAll - CapabilitySet::of({CAP_SYS_ADMIN}))},
      {"add ALL drop ALL", {.add = {"ALL"}, .drop = {"ALL"}}, full(CapabilitySet())},
      {"add and drop the same: drop wins", {.add = {"NET_ADMIN"}, .drop = {"CAP_NET_ADMIN"}}, full(d)},
      {"privileged ignores drop", {.privileged = true, .drop = {"ALL"}}, full(kAll)},
      {"non-root: nothing effective or permitted", {.uid = 1000},
       {d, CapabilitySet(), CapabilitySet(), CapabilitySet(), CapabilitySet()}},
      {"non-root privileged: bounding only", {.privileged = true, .uid = 1000},
       {kAll, CapabilitySet(), CapabilitySet(), CapabilitySet(), CapabilitySet()}},
      {"non-root with ambient", {.add = {"NET_ADMIN"}, .uid = 1000, .ambient = {"NET_ADMIN"}},
       {with({CAP_NET_ADMIN}, {}), CapabilitySet::of({CAP_NET_ADMIN}), CapabilitySet::of({CAP_NET_ADMIN}),
        CapabilitySet::of({CAP_NET_ADMIN}), CapabilitySet::of({CAP_NET_ADMIN})}},
  };
  for (const CapCase& c : cases) {
    Result<CapabilitySets> got = compute_capabilities(c.request, kAll);
    ASSERT_TRUE(got.ok()) << c.name << ": " << got.error().to_string();
    EXPECT_EQ(got->bounding.to_hex(), c.want.bounding.to_hex()) << c.name;
    EXPECT_EQ(got->effective.to_hex(), c.want.effective.to_hex()) << c.name;
    EXPECT_EQ(got->permitted.to_hex(), c.want.permitted.to_hex()) << c.name;
    EXPECT_EQ(got->inheritable.to_hex(), c.want.inheritable.to_hex()) << c.name;
    EXPECT_EQ(got->ambient.to_hex(), c.want.ambient.to_hex()) << c.name;
  }
}

TEST(CapabilitiesTest, PrivilegedIsLimitedToWhatTheHostHas) {
  CapabilitySet host = kAll - CapabilitySet::of({CAP_SYS_RESOURCE});
  Result<CapabilitySets> got = compute_capabilities({.privileged = true}, host);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->bounding.has(CAP_SYS_RESOURCE));
  EXPECT_TRUE(got->bounding.has(CAP_SYS_ADMIN));
}

TEST(CapabilitiesTest, AddingWhatTheHostLacksIsAnError) {
  CapabilitySet host = kAll - CapabilitySet::of({CAP_SYS_RESOURCE});
  Result<CapabilitySets> r = compute_capabilities({.add = {"SYS_RESOURCE"}}, host);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "capability CAP_SYS_RESOURCE is not available on this node (not in the runtime's bounding set)");
  EXPECT_TRUE(compute_capabilities({.add = {"ALL"}}, host).ok());  // ALL means what there is
}

TEST(CapabilitiesTest, UnknownNamesInAddOrDropAreErrors) {
  Result<CapabilitySets> r = compute_capabilities({.add = {"NET_ADMIN", "FLY"}}, kAll);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "securityContext.capabilities.add: unknown capability \"FLY\"");
  r = compute_capabilities({.privileged = true, .drop = {"SYS_TYPO"}}, kAll);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "securityContext.capabilities.drop: unknown capability \"SYS_TYPO\"");
}

TEST(CapabilitiesTest, AmbientOutsideTheSetIsAnError) {
  Result<CapabilitySets> r = compute_capabilities({.uid = 1000, .ambient = {"SYS_ADMIN"}}, kAll);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "ambient capability CAP_SYS_ADMIN is not in the container's capability set");
}

TEST(CapabilitiesTest, HostCapabilitiesAreThisProcesssBoundingSet) {
  CapabilitySet host = host_capabilities();
  // Whatever we run as, the set is within what the kernel knows.
  EXPECT_TRUE((host - kAll).empty());
}

}  // namespace
}  // namespace kernlet::seccomp
