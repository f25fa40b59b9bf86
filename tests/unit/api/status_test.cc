#include "api/status.h"

#include <gtest/gtest.h>

namespace kernlet::api {
namespace {

TEST(Status, NotFoundWireForm) {
  auto s = Status::not_found({"", "pods"}, "web");
  EXPECT_EQ(s.to_json_string(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"pods \"web\" not found","reason":"NotFound",)"
            R"("details":{"name":"web","kind":"pods"},"code":404})");
}

TEST(Status, GroupedResourceIsQualified) {
  auto s = Status::already_exists({"apps", "deployments"}, "web");
  EXPECT_EQ(s.code(), 409);
  EXPECT_EQ(s.message(), "deployments.apps \"web\" already exists");
  EXPECT_EQ(json::dump(s.to_json()["details"]), R"({"name":"web","group":"apps","kind":"deployments"})");
}

TEST(Status, ConflictMessageMatchesKubernetes) {
  auto s = Status::conflict_modified({"", "pods"}, "web");
  EXPECT_EQ(s.reason(), "Conflict");
  EXPECT_EQ(s.message(),
            "Operation cannot be fulfilled on pods \"web\": the object has been modified; please "
            "apply your changes to the latest version and try again");
}

TEST(Status, InvalidListsEveryCause) {
  auto s = Status::invalid("", "Pod", "web",
                           {{"FieldValueRequired", "Required value", "spec.containers"},
                            {"FieldValueInvalid", "Invalid value: \"Web\": must be lowercase", "metadata.name"}});
  EXPECT_EQ(s.code(), 422);
  EXPECT_EQ(s.message(),
            "Pod \"web\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: "
            "\"Web\": must be lowercase]");
  auto details = s.to_json()["details"].as_object();
  EXPECT_EQ(details["kind"], "Pod");
  ASSERT_EQ(details["causes"].as_array().size(), 2u);
  EXPECT_EQ(details["causes"].as_array()[0].as_object()["field"], "spec.containers");
}

TEST(Status, SingleCauseHasNoBrackets) {
  auto s = Status::invalid("apps", "Deployment", "web", {{"FieldValueRequired", "Required value", "spec.selector"}});
  EXPECT_EQ(s.message(), "Deployment.apps \"web\" is invalid: spec.selector: Required value");
  EXPECT_EQ(json::dump(s.to_json()["details"].as_object()["kind"]), "\"Deployment\"");
}

TEST(Status, ExpiredIs410) {
  auto s = Status::resource_expired(5, 120);
  EXPECT_EQ(s.code(), 410);
  EXPECT_EQ(s.reason(), "Expired");
  EXPECT_EQ(s.message(), "too old resource version: 5 (120)");
}

TEST(Status, TooLargeNamesTheLimit) {
  auto s = Status::request_entity_too_large(3 * 1024 * 1024);
  EXPECT_EQ(s.code(), 413);
  EXPECT_EQ(s.message(), "Request entity too large: limit is 3145728");
}

TEST(Status, FromErrorMapsCodes) {
  EXPECT_EQ(Status::from_error(Error(ErrorCode::kNotFound, "x")).code(), 404);
  EXPECT_EQ(Status::from_error(Error(ErrorCode::kConflict, "x")).code(), 409);
  EXPECT_EQ(Status::from_error(Error(ErrorCode::kCompacted, "x")).code(), 410);
  EXPECT_EQ(Status::from_error(Error(ErrorCode::kInvalidArgument, "x")).code(), 400);
  auto internal = Status::from_error(Error("open /var/lib/kernlet/db", ENOSPC));
  EXPECT_EQ(internal.code(), 500);
  EXPECT_EQ(internal.message(), "Internal error occurred: open /var/lib/kernlet/db: ENOSPC");
}

}  // namespace
}  // namespace kernlet::api
