#include "control/controllers/pv_binder.h"

#include <gtest/gtest.h>

#include <string>

#include "api/object.h"

namespace kernlet::controllers::pv {
namespace {

using A = ClaimDecision::Action;
using V = VolumeDecision::Action;

json::object obj(const std::string& text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v->as_object();
}

// A volume of `size`; `extra` is more JSON members of spec (leading comma), `meta` of metadata.
json::object volume(const std::string& name, const std::string& size, const std::string& extra = "",
                    const std::string& phase = "Available", const std::string& meta = "") {
  return obj(R"({"metadata":{"name":")" + name + R"(")" + meta + R"(},"spec":{"capacity":{"storage":")" + size +
             R"("},"accessModes":["ReadWriteOnce"],"volumeMode":"Filesystem","persistentVolumeReclaimPolicy":"Retain",)"
             R"("hostPath":{"path":"/x"})" + extra + R"(},"status":{"phase":")" + phase + R"("}})");
}

json::object claim(const std::string& name, const std::string& size, const std::string& extra = "",
                   const std::string& meta = "") {
  return obj(R"({"metadata":{"name":")" + name + R"(","namespace":"ns","uid":"uid-)" + name + R"(")" + meta +
             R"(},"spec":{"accessModes":["ReadWriteOnce"],"volumeMode":"Filesystem","resources":{"requests":{"storage":")" +
             size + R"("}})" + extra + R"(},"status":{"phase":"Pending"}})");
}

const std::string kClaimRefA = R"(,"claimRef":{"kind":"PersistentVolumeClaim","namespace":"ns","name":"a","uid":"uid-a"})";

TEST(PvBinder, SmallestFittingVolumeWins) {
  auto small = volume("small", "1Gi");
  auto big = volume("big", "10Gi");
  auto mid = volume("mid", "2Gi");
  auto c = claim("a", "1500Mi");
  const json::object* got = find_matching_volume(c, {&small, &big, &mid}, false, std::nullopt);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(api::Meta(*got).name(), "mid");

  auto too_big = claim("b", "20Gi");
  EXPECT_EQ(find_matching_volume(too_big, {&small, &big, &mid}, false, std::nullopt), nullptr);
}

TEST(PvBinder, AccessModesModeClassAndSelector) {
  auto rwo = volume("rwo", "1Gi");
  auto rwx = volume("rwx", "5Gi", R"(,"accessModes":["ReadWriteOnce","ReadWriteMany"])");
  auto block = volume("block", "1Gi", R"(,"volumeMode":"Block")");
  auto fast = volume("fast", "1Gi", R"(,"storageClassName":"fast")");
  auto labelled = volume("labelled", "3Gi", "", "Available", R"(,"labels":{"tier":"gold"})");

  auto want_rwx = claim("a", "1Gi", R"(,"accessModes":["ReadWriteMany"])");
  EXPECT_EQ(api::Meta(*find_matching_volume(want_rwx, {&rwo, &rwx}, false, std::nullopt)).name(), "rwx");

  auto want_block = claim("a", "1Gi", R"(,"volumeMode":"Block")");
  EXPECT_EQ(api::Meta(*find_matching_volume(want_block, {&rwo, &block}, false, std::nullopt)).name(), "block");

  auto want_fast = claim("a", "1Gi", R"(,"storageClassName":"fast")");
  EXPECT_EQ(api::Meta(*find_matching_volume(want_fast, {&rwo, &fast}, false, std::nullopt)).name(), "fast");
  // No class: only class-less volumes.
  auto plain = claim("a", "1Gi");
  EXPECT_EQ(api::Meta(*find_matching_volume(plain, {&fast, &rwo}, false, std::nullopt)).name(), "rwo");

  auto gold = claim("a", "1Gi", R"(,"selector":{"matchLabels":{"tier":"gold"}})");
  EXPECT_EQ(api::Meta(*find_matching_volume(gold, {&rwo, &labelled}, false, std::nullopt)).name(), "labelled");
}

TEST(PvBinder, ReservedAndUnavailableVolumes) {
  auto reserved = volume("reserved", "10Gi", kClaimRefA, "Available");
  auto other = volume("other", "1Gi", R"(,"claimRef":{"namespace":"ns","name":"zzz","uid":"u"})", "Bound");
  auto released = volume("released", "1Gi", "", "Released");
  auto deleting = volume("deleting", "1Gi", "", "Available", R"(,"deletionTimestamp":"2026-11-27T00:00:00Z")");
  auto a = claim("a", "1Gi");
  // The reserved one wins though it is the largest.
  auto free = volume("free", "1Gi");
  EXPECT_EQ(api::Meta(*find_matching_volume(a, {&free, &reserved}, false, std::nullopt)).name(), "reserved");
  auto b = claim("b", "1Gi");
  EXPECT_EQ(find_matching_volume(b, {&reserved, &other, &released, &deleting}, false, std::nullopt), nullptr);
}

TEST(PvBinder, DelayedBindingNeedsTheNode) {
  const std::string affinity =
      R"(,"nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}})";
  auto local = volume("local", "1Gi", affinity);
  auto c = claim("a", "1Gi");
  EXPECT_EQ(find_matching_volume(c, {&local}, true, std::nullopt), nullptr);
  auto n1 = obj(R"({"kubernetes.io/hostname":"n1"})");
  auto n2 = obj(R"({"kubernetes.io/hostname":"n2"})");
  EXPECT_NE(find_matching_volume(c, {&local}, true, NodeRef{&n1, "n1"}), nullptr);
  EXPECT_EQ(find_matching_volume(c, {&local}, true, NodeRef{&n2, "n2"}), nullptr);
  EXPECT_TRUE(volume_fits_node(local, &n1, "n1"));
  EXPECT_FALSE(volume_fits_node(local, &n2, "n2"));
  auto anywhere = volume("anywhere", "1Gi");
  EXPECT_TRUE(volume_fits_node(anywhere, &n2, "n2"));
}

TEST(PvBinder, UnboundClaimDecisions) {
  auto v = volume("v", "1Gi");
  auto c = claim("a", "1Gi");
  ClaimDecision d = decide_claim({&c, {&v}, nullptr, nullptr});
  EXPECT_EQ(d.action, A::kBind);
  EXPECT_EQ(d.volume, &v);

  // Too large, no class: Pending with upstream's event.
  auto big = claim("big", "5Gi");
  d = decide_claim({&big, {&v}, nullptr, nullptr});
  EXPECT_EQ(d.action, A::kPending);
  ASSERT_TRUE(d.event);
  EXPECT_EQ(d.event->reason, "FailedBinding");
  EXPECT_EQ(d.event->message, "no persistent volumes available for this claim and no storage class is set");

  // A class that does not exist.
  auto gold = claim("g", "5Gi", R"(,"storageClassName":"gold")");
  d = decide_claim({&gold, {&v}, nullptr, nullptr});
  EXPECT_EQ(d.action, A::kPending);
  EXPECT_EQ(d.event->reason, "ProvisioningFailed");
  EXPECT_EQ(d.event->message, "storageclass.storage.k8s.io \"gold\" not found");
}

TEST(PvBinder, ProvisioningProtocol) {
  auto sc = obj(R"({"metadata":{"name":"local"},"provisioner":"local.csi.kernlet.io","volumeBindingMode":"Immediate"})");
  auto c = claim("a", "1Gi", R"(,"storageClassName":"local")");
  ClaimDecision d = decide_claim({&c, {}, &sc, nullptr});
  EXPECT_EQ(d.action, A::kProvision);
  EXPECT_EQ(d.provisioner, "local.csi.kernlet.io");
  EXPECT_EQ(d.event->reason, "ExternalProvisioning");
  json::object annotated = claim_with_provisioner(c, d.provisioner);
  EXPECT_EQ(api::Meta(annotated).annotation(kAnnStorageProvisioner), "local.csi.kernlet.io");
  EXPECT_EQ(api::Meta(annotated).annotation(kAnnBetaStorageProvisioner), "local.csi.kernlet.io");
  // Annotated already: it waits (Pending), no second write.
  d = decide_claim({&annotated, {}, &sc, nullptr});
  EXPECT_EQ(d.action, A::kPending);

  // The provisioner made a volume reserved for the claim: it binds.
  auto made = volume("pvc-uid-a", "1Gi", kClaimRefA + R"(,"storageClassName":"local")", "Pending",
                     R"(,"annotations":{"pv.kubernetes.io/provisioned-by":"local.csi.kernlet.io"})");
  d = decide_claim({&annotated, {&made}, &sc, nullptr});
  EXPECT_EQ(d.action, A::kBind);

  // WaitForFirstConsumer: nothing until the scheduler picks a node.
  auto wffc = obj(R"({"metadata":{"name":"local"},"provisioner":"local.csi.kernlet.io","volumeBindingMode":"WaitForFirstConsumer"})");
  d = decide_claim({&c, {}, &wffc, nullptr});
  EXPECT_EQ(d.action, A::kPending);
  EXPECT_EQ(d.event->reason, "WaitForFirstConsumer");
  auto selected = claim("a", "1Gi", R"(,"storageClassName":"local")",
                        R"(,"annotations":{"volume.kubernetes.io/selected-node":"n1"})");
  auto node = obj(R"({"metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1"}}})");
  d = decide_claim({&selected, {}, &wffc, &node});
  EXPECT_EQ(d.action, A::kProvision);

  // A class that never provisions.
  auto none = obj(R"({"metadata":{"name":"local"},"provisioner":"kubernetes.io/no-provisioner"})");
  d = decide_claim({&c, {}, &none, nullptr});
  EXPECT_EQ(d.action, A::kPending);
  EXPECT_EQ(d.event->reason, "FailedBinding");
}

TEST(PvBinder, DefaultClassIsAssignedToClaimsWithoutOne) {
  auto old_default = obj(R"({"metadata":{"name":"old","creationTimestamp":"2026-01-01T00:00:00Z",
      "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"a.example.com"})");
  auto new_default = obj(R"({"metadata":{"name":"new","creationTimestamp":"2026-06-01T00:00:00Z",
      "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"b.example.com"})");
  auto plain = obj(R"({"metadata":{"name":"plain","creationTimestamp":"2026-12-01T00:00:00Z"},"provisioner":"c.example.com"})");
  const json::object* def = default_storage_class({&old_default, &plain, &new_default});
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(api::Meta(*def).name(), "new");
  EXPECT_EQ(default_storage_class({&plain}), nullptr);

  auto unset = claim("a", "1Gi");
  ClaimDecision d = decide_claim({&unset, {}, nullptr, nullptr, def});
  EXPECT_EQ(d.action, A::kAssignClass);
  EXPECT_EQ(d.storage_class, "new");
  // "" is a choice (no class), and so is the beta annotation: left alone.
  auto none = claim("a", "1Gi", R"(,"storageClassName":"")");
  EXPECT_EQ(decide_claim({&none, {}, nullptr, nullptr, def}).action, A::kPending);
  auto beta = claim("a", "1Gi", "", R"(,"annotations":{"volume.beta.kubernetes.io/storage-class":"plain"})");
  EXPECT_NE(decide_claim({&beta, {}, &plain, nullptr, def}).action, A::kAssignClass);
}

TEST(PvBinder, PreBoundClaim) {
  auto v = volume("v", "1Gi");
  auto small = claim("a", "1Gi", R"(,"volumeName":"v")");
  EXPECT_EQ(decide_claim({&small, {&v}, nullptr, nullptr}).action, A::kBind);
  auto big = claim("a", "2Gi", R"(,"volumeName":"v")");
  ClaimDecision d = decide_claim({&big, {&v}, nullptr, nullptr});
  EXPECT_EQ(d.action, A::kPending);
  EXPECT_EQ(d.event->reason, "VolumeMismatch");
  EXPECT_EQ(d.event->message, "Cannot bind to requested volume \"v\": requested PV is too small (requested 2Gi, PV has 1Gi)");
  auto missing = claim("a", "1Gi", R"(,"volumeName":"nope")");
  EXPECT_EQ(decide_claim({&missing, {&v}, nullptr, nullptr}).event->message,
            "volume \"nope\" requested by claim not found");
  auto taken = volume("t", "1Gi", R"(,"claimRef":{"namespace":"ns","name":"x","uid":"ux"})", "Bound");
  auto want_taken = claim("a", "1Gi", R"(,"volumeName":"t")");
  EXPECT_EQ(decide_claim({&want_taken, {&taken}, nullptr, nullptr}).event->message,
            "volume \"t\" already bound to a different claim.");
}

TEST(PvBinder, BindingWritesBothSides) {
  auto v = volume("v", "1Gi");
  auto c = claim("a", "1Gi");
  json::object bv = bind_volume_to_claim(v, c);
  EXPECT_EQ(bv.at("spec").at("claimRef").at("uid"), "uid-a");
  EXPECT_EQ(api::Meta(bv).annotation(kAnnBoundByController), "yes");
  json::object bc = bind_claim_to_volume(c, bv);
  EXPECT_EQ(bc.at("spec").at("volumeName"), "v");
  EXPECT_EQ(api::Meta(bc).annotation(kAnnBindCompleted), "yes");
  EXPECT_EQ(api::Meta(bc).annotation(kAnnBoundByController), "yes");
  json::object st = claim_with_status(bc, "Bound", &bv);
  EXPECT_TRUE(claim_status_is(st, "Bound", &bv));
  EXPECT_EQ(st.at("status").at("capacity").at("storage"), "1Gi");
  EXPECT_EQ(st.at("status").at("accessModes").at(0), "ReadWriteOnce");

  // A volume the author reserved by name keeps no bound-by-controller; the uid is filled.
  auto reserved = volume("r", "1Gi", R"(,"claimRef":{"namespace":"ns","name":"a"})");
  json::object br = bind_volume_to_claim(reserved, c);
  EXPECT_EQ(br.at("spec").at("claimRef").at("uid"), "uid-a");
  EXPECT_FALSE(api::Meta(br).annotation(kAnnBoundByController));
  // A claim that named its volume keeps no bound-by-controller either.
  auto named = claim("a", "1Gi", R"(,"volumeName":"v")");
  EXPECT_FALSE(api::Meta(bind_claim_to_volume(named, bv)).annotation(kAnnBoundByController));

  // Bound claim whose volume is gone: Lost.
  ClaimDecision d = decide_claim({&st, {}, nullptr, nullptr});
  EXPECT_EQ(d.action, A::kLost);
  EXPECT_EQ(d.event->reason, "ClaimLost");
  // Bound both ways and status right: nothing to do.
  EXPECT_EQ(decide_claim({&st, {&bv}, nullptr, nullptr}).action, A::kNone);
}

TEST(PvBinder, VolumePhasesAndReclaim) {
  auto free = volume("v", "1Gi", "", "Pending");
  VolumeDecision d = decide_volume({&free, nullptr});
  EXPECT_EQ(d.action, V::kPhase);
  EXPECT_EQ(d.phase, "Available");

  auto c = claim("a", "1Gi", R"(,"volumeName":"v")");
  auto bound = volume("v", "1Gi", kClaimRefA, "Available");
  d = decide_volume({&bound, &c});
  EXPECT_EQ(d.phase, "Bound");
  auto half = claim("a", "1Gi");
  EXPECT_EQ(decide_volume({&bound, &half}).action, V::kEnqueueClaim);

  // Claim gone, Retain: Released and kept.
  auto was_bound = volume("v", "1Gi", kClaimRefA, "Bound");
  d = decide_volume({&was_bound, nullptr});
  EXPECT_EQ(d.phase, "Released");
  // A new claim of the same name (another uid) does not count.
  auto again = claim("a", "1Gi");
  api::MutableMeta(again).set_uid("uid-new");
  EXPECT_EQ(decide_volume({&was_bound, &again}).phase, "Released");

  // Delete, provisioned: left Released for the provisioner.
  auto provisioned = volume("v", "1Gi", kClaimRefA + R"(,"persistentVolumeReclaimPolicy":"Delete")", "Bound",
                            R"(,"annotations":{"pv.kubernetes.io/provisioned-by":"local.csi.kernlet.io"})");
  EXPECT_EQ(decide_volume({&provisioned, nullptr}).phase, "Released");
  // Delete without a provisioner: Failed with an Event.
  auto manual = volume("v", "1Gi", kClaimRefA + R"(,"persistentVolumeReclaimPolicy":"Delete")", "Bound");
  d = decide_volume({&manual, nullptr});
  EXPECT_EQ(d.phase, "Failed");
  ASSERT_TRUE(d.event);
  EXPECT_EQ(d.event->reason, "VolumeFailedDelete");
  auto failed = volume_with_phase(manual, "Failed", d.message, "2026-11-27T07:00:00Z");
  EXPECT_EQ(failed.at("status").at("lastPhaseTransitionTime"), "2026-11-27T07:00:00Z");
  EXPECT_EQ(decide_volume({&failed, nullptr}).action, V::kNone);

  // Reserved by the controller for a claim that bound elsewhere: unbound.
  auto stale = volume("v", "1Gi", kClaimRefA, "Bound", R"(,"annotations":{"pv.kubernetes.io/bound-by-controller":"yes"})");
  auto elsewhere = claim("a", "1Gi", R"(,"volumeName":"w")");
  EXPECT_EQ(decide_volume({&stale, &elsewhere}).action, V::kUnbind);
}

TEST(PvBinder, ProtectionFinalizers) {
  auto c = claim("a", "1Gi");
  EXPECT_EQ(claim_protection(c, {}), FinalizerAction::kAdd);
  auto held = with_finalizer(c, kPvcProtectionFinalizer, true);
  EXPECT_EQ(claim_protection(held, {}), FinalizerAction::kNone);
  api::MutableMeta(held).set_deletion_timestamp("2026-11-27T07:00:00Z");
  auto user = obj(R"({"metadata":{"name":"p","namespace":"ns"},"spec":{"volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"a"}}]},"status":{"phase":"Running"}})");
  auto done = obj(R"({"metadata":{"name":"q","namespace":"ns"},"spec":{"volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"a"}}]},"status":{"phase":"Succeeded"}})");
  auto elsewhere = obj(R"({"metadata":{"name":"p","namespace":"other"},"spec":{"volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"a"}}]},"status":{"phase":"Running"}})");
  EXPECT_EQ(claim_protection(held, {&user}), FinalizerAction::kNone);
  EXPECT_EQ(claim_protection(held, {&done, &elsewhere}), FinalizerAction::kRemove);
  EXPECT_TRUE(api::Meta(with_finalizer(held, kPvcProtectionFinalizer, false)).finalizers().empty());

  auto v = with_finalizer(volume("v", "1Gi", kClaimRefA, "Bound"), kPvProtectionFinalizer, true);
  api::MutableMeta(v).set_deletion_timestamp("2026-11-27T07:00:00Z");
  EXPECT_EQ(volume_protection(v), FinalizerAction::kNone);
  auto released = volume_with_phase(v, "Released", "", "2026-11-27T07:00:00Z");
  EXPECT_EQ(volume_protection(released), FinalizerAction::kRemove);
}

}  // namespace
}  // namespace kernlet::controllers::pv
