// The pure parts of the event recorder: object references and aggregation keys.
#include <gtest/gtest.h>

#include "agent/node/event_recorder.h"

namespace kernlet::agent {
namespace {

json::object pod() {
  return json::object{{"metadata", json::object{{"name", "web"},
                                                {"namespace", "shop"},
                                                {"uid", "u-1"},
                                                {"resourceVersion", "42"}}}};
}

json::object event_of(const json::object& ref, std::string_view type, std::string_view reason, std::string_view msg) {
  return json::object{{"source", json::object{{"component", "kubelet"}, {"host", "n1"}}},
                      {"involvedObject", ref},
                      {"type", type},
                      {"reason", reason},
                      {"message", msg}};
}

TEST(ObjectReference, PodWithoutKindAndWithFieldPath) {
  json::object ref = object_reference(pod(), container_field_path("app"));
  EXPECT_EQ(ref, (json::object{{"kind", "Pod"},
                               {"name", "web"},
                               {"apiVersion", "v1"},
                               {"namespace", "shop"},
                               {"uid", "u-1"},
                               {"resourceVersion", "42"},
                               {"fieldPath", "spec.containers{app}"}}));
  EXPECT_EQ(container_field_path("init", "initContainers"), "spec.initContainers{init}");
}

TEST(ObjectReference, NodeAndExplicitKind) {
  json::object node{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", json::object{{"name", "n1"}, {"uid", "x"}}}};
  json::object ref = object_reference(node);
  EXPECT_EQ(json::get_string(ref, "kind"), "Node");
  EXPECT_FALSE(ref.contains("namespace"));
  EXPECT_FALSE(ref.contains("fieldPath"));
  json::object bare{{"metadata", json::object{{"name", "n1"}}}};
  EXPECT_EQ(json::get_string(object_reference(bare), "kind"), "Node");
}

TEST(AggregationKey, SameEventIgnoringResourceVersion) {
  json::object ref = object_reference(pod());
  json::object later = ref;
  later["resourceVersion"] = "43";
  std::string k = event_aggregation_key(event_of(ref, "Normal", "Pulled", "pulled busybox"));
  EXPECT_EQ(k, event_aggregation_key(event_of(later, "Normal", "Pulled", "pulled busybox")));
  EXPECT_NE(k, event_aggregation_key(event_of(ref, "Normal", "Pulled", "pulled nginx")));
  EXPECT_NE(k, event_aggregation_key(event_of(ref, "Warning", "Pulled", "pulled busybox")));
  EXPECT_NE(k, event_aggregation_key(event_of(ref, "Normal", "Pulling", "pulled busybox")));
  json::object container = object_reference(pod(), container_field_path("app"));
  EXPECT_NE(k, event_aggregation_key(event_of(container, "Normal", "Pulled", "pulled busybox")));
  json::object other_uid = ref;
  other_uid["uid"] = "u-2";
  EXPECT_NE(k, event_aggregation_key(event_of(other_uid, "Normal", "Pulled", "pulled busybox")));
  // Fields run together must not collide: ("ab","c") vs ("a","bc").
  EXPECT_NE(event_aggregation_key(event_of(ref, "Normal", "ab", "c")),
            event_aggregation_key(event_of(ref, "Normal", "a", "bc")));
}

}  // namespace
}  // namespace kernlet::agent
