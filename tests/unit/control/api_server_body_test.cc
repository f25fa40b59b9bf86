// The API server's request-body path: protobuf bodies (what kubectl's typed clients send)
// and server-side field validation (fieldValidation=Strict|Warn|Ignore), driven through
// the handler with a real SQLite store in a temporary directory.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/json.h"
#include "control/apiserver/api_server.h"
#include "control/store/sqlite_store.h"

namespace kernlet::apiserver {
namespace {

class Recorder final : public Responder {
 public:
  std::optional<Response> response;
  asio::awaitable<Result<void>> send(Response r) override {
    response = std::move(r);
    co_return Ok();
  }
  asio::awaitable<Result<void>> begin_stream(unsigned, std::string) override {
    co_return Error(ErrorCode::kInternal, "no streams here");
  }
  asio::awaitable<Result<void>> write_chunk(std::string_view) override {
    co_return Error(ErrorCode::kInternal, "no streams here");
  }
  asio::awaitable<Result<void>> end_stream() override { co_return Error(ErrorCode::kInternal, "no streams here"); }
};

std::string testdata(const std::string& name) {
  std::ifstream in(std::string(KERNLET_TESTDATA) + "/protobuf/" + name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> warnings(const Response& r) {
  std::vector<std::string> out;
  for (const auto& [k, v] : r.headers) {
    if (k == "Warning") out.push_back(v);
  }
  return out;
}

class ApiServerBodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kl-apibody-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store::SqliteStoreOptions o;
    o.path = dir_ + "/state.db";
    auto s = store::SqliteStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    store_ = std::move(s).value();
    ApiServerOptions opts;
    opts.store_threads = 2;
    server_ = std::make_unique<ApiServer>(*store_, opts);
    ASSERT_TRUE(server_->bootstrap().ok());
  }
  void TearDown() override {
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  Response call(const std::string& method, const std::string& target, const std::string& content_type,
                const std::string& body) {
    Request req;
    req.msg.method_string(method);
    req.msg.target(target);
    req.msg.version(11);
    if (!content_type.empty()) req.msg.set(http::field::content_type, content_type);
    req.msg.body() = body;
    req.msg.prepare_payload();
    req.identity.authenticated = true;
    req.identity.user = "kernlet-admin";
    Recorder rec;
    asio::io_context io;
    asio::co_spawn(io, server_->handle(req, rec), asio::detached);
    io.run();
    EXPECT_TRUE(rec.response.has_value()) << method << " " << target;
    return rec.response.value_or(Response{});
  }

  std::string dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiServerBodyTest, ProtobufCreateFromKubectl) {
  Response r = call("POST", "/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-create&fieldValidation=Strict",
                    "application/vnd.kubernetes.protobuf", testdata("deployment-kubectl-1.33.pb"));
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_TRUE(warnings(r).empty());
  json::object obj = json::parse_object(r.body).value();
  EXPECT_EQ(json::get_string(obj, "kind"), "Deployment");
  const json::object* spec = json::get_object(obj, "spec");
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(json::get_int_or(*spec, "replicas", -1), 2);
  EXPECT_EQ(json::get_int_or(*spec, "revisionHistoryLimit", -1), 10);  // defaulted after decoding

  Response got = call("GET", "/apis/apps/v1/namespaces/default/deployments/web", "", "");
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(json::get_path(json::parse_object(got.body).value(), "spec.template.spec")->at("containers").at(0).at("image"),
            json::value("nginx:1.27"));
}

TEST_F(ApiServerBodyTest, ProtobufBodyMustMatchThePath) {
  Response r = call("POST", "/apis/apps/v1/namespaces/default/deployments", "application/vnd.kubernetes.protobuf",
                    testdata("secret-generic-kubectl-1.33.pb"));
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("does not match the expected API version"), std::string::npos) << r.body;
  Response bad = call("POST", "/api/v1/namespaces/default/secrets", "application/vnd.kubernetes.protobuf", "k8s");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_NE(bad.body.find("unable to decode protobuf body"), std::string::npos) << bad.body;
  Response cbor = call("POST", "/api/v1/namespaces/default/secrets", "application/cbor", "\xa0");
  EXPECT_EQ(cbor.status, 415u);
}

constexpr const char* kTypo =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","name":"cm"},"data":{"a":"1"},"dta":{"b":"2"}})";

TEST_F(ApiServerBodyTest, StrictRefusesUnknownAndDuplicateFields) {
  Response r = call("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", "application/json", kTypo);
  ASSERT_EQ(r.status, 400u) << r.body;
  json::object st = json::parse_object(r.body).value();
  EXPECT_EQ(json::get_string(st, "reason"), "BadRequest");
  EXPECT_EQ(json::get_string(st, "message"),
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: "
            "duplicate field \"metadata.name\", unknown field \"dta\"");
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/configmaps/cm", "", "").status, 404u);
}

TEST_F(ApiServerBodyTest, WarnIsTheDefaultAndDropsUnknownFields) {
  Response r = call("POST", "/api/v1/namespaces/default/configmaps", "application/json", kTypo);
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(warnings(r), (std::vector<std::string>{R"(299 - "duplicate field \"metadata.name\"")",
                                                   R"(299 - "unknown field \"dta\"")"}));
  Response got = call("GET", "/api/v1/namespaces/default/configmaps/cm", "", "");
  json::object obj = json::parse_object(got.body).value();
  EXPECT_FALSE(obj.contains("dta"));
  EXPECT_EQ(obj.at("data"), json::parse(R"({"a":"1"})").value());
}

TEST_F(ApiServerBodyTest, IgnoreIsSilentButStillDrops) {
  Response r = call("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Ignore", "application/json", kTypo);
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_TRUE(warnings(r).empty());
  EXPECT_FALSE(json::parse_object(r.body).value().contains("dta"));
}

TEST_F(ApiServerBodyTest, UpdateAndPatchAreValidatedToo) {
  ASSERT_EQ(call("POST", "/api/v1/namespaces/default/configmaps", "application/json",
                 R"({"metadata":{"name":"cm"},"data":{"a":"1"}})")
                .status,
            201u);
  Response put = call("PUT", "/api/v1/namespaces/default/configmaps/cm?fieldValidation=Strict", "application/json",
                      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"2"},"extra":1})");
  EXPECT_EQ(put.status, 400u);
  EXPECT_NE(put.body.find(R"(cannot be handled as a ConfigMap: strict decoding error: unknown field \"extra\")"),
            std::string::npos)
      << put.body;
  Response patch = call("PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldValidation=Strict",
                        "application/merge-patch+json", R"({"metadata":{"labls":{"x":"y"}}})");
  EXPECT_EQ(patch.status, 400u);
  EXPECT_NE(patch.body.find(R"(strict decoding error: unknown field \"metadata.labls\")"), std::string::npos)
      << patch.body;
  Response warn = call("PATCH", "/api/v1/namespaces/default/configmaps/cm", "application/strategic-merge-patch+json",
                       R"({"data":{"a":"3"},"dta":1})");
  EXPECT_EQ(warn.status, 200u) << warn.body;
  EXPECT_EQ(warnings(warn), (std::vector<std::string>{R"(299 - "unknown field \"dta\"")"}));
  Response bad = call("PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldValidation=strict",
                      "application/merge-patch+json", "{}");
  EXPECT_EQ(bad.status, 422u);
  EXPECT_NE(bad.body.find("PatchOptions"), std::string::npos) << bad.body;
}

}  // namespace
}  // namespace kernlet::apiserver
