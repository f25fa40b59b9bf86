// InProcessTransport: a RestClient whose requests enter the API server's handler directly
// must get exactly the answers the same requests get over HTTP — the binding
// subresource's 201 / 409 already bound / 409 being deleted / 404 / 422, resourceVersion
// conflicts — while its watches still go over HTTP. One ApiServer with a real SQLite store
// in a temporary directory, served on a loopback port and in-process at once.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "api/client/rest_client.h"
#include "api/json.h"
#include "api/object.h"
#include "control/apiserver/api_server.h"
#include "control/apiserver/in_process_transport.h"
#include "control/store/sqlite_store.h"

namespace kernlet::apiserver {
namespace {

std::string pod_json(const std::string& name, bool finalizer = false) {
  json::object meta{{"name", name}, {"namespace", "default"}};
  if (finalizer) meta["finalizers"] = json::array{"example.com/hold"};
  json::object pod{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", std::move(meta)},
                   {"spec", json::object{{"containers", json::array{json::object{{"name", "c"}, {"image", "busybox"}}}}}}};
  return json::dump(json::value(std::move(pod)));
}

// What a test compares between the two transports: status code, reason, message.
struct Answer {
  int status = 0;
  std::string reason;
  std::string message;
  bool operator==(const Answer&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Answer& a) {
  return os << a.status << " " << a.reason << " \"" << a.message << "\"";
}

class InProcessTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kl-inproc-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto s = store::SqliteStore::open({.path = dir_ + "/state.db"});
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    store_ = std::move(s).value();
    ApiServerOptions opts;
    opts.store_threads = 4;
    opts.trust_unauthenticated = true;  // plain loopback HTTP, as --insecure-listen
    opts.metrics_resolution = std::chrono::milliseconds(0);
    api_ = std::make_shared<ApiServer>(*store_, opts);
    ASSERT_TRUE(api_->bootstrap().ok());
    HttpServerOptions h;
    h.address = "127.0.0.1";
    server_ = std::make_unique<HttpServer>(h, api_);
    ASSERT_TRUE(server_->start().ok());
    client::ClientConfig cfg;
    cfg.server = "http://127.0.0.1:" + std::to_string(server_->port());
    http_ = client::RestClient::create(cfg).value();
    transport_ = std::make_shared<InProcessTransport>(api_, server_->io_context());
    local_ = client::RestClient::create(cfg, transport_).value();
  }
  void TearDown() override {
    local_.reset();
    transport_.reset();  // it holds the ApiServer, which must go before the store
    http_.reset();
    if (server_) server_->stop();
    server_.reset();
    api_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static Answer answer(client::RestClient& c, const std::string& method, const std::string& target,
                       const std::string& body) {
    auto res = c.request(method, target, body);
    EXPECT_TRUE(res.ok()) << method << " " << target << ": " << res.error().to_string();
    if (!res.ok()) return {};
    Answer a;
    a.status = res->status;
    auto doc = json::parse_object(res->body);
    if (doc.ok() && json::get_string(*doc, "kind") == "Status") {
      a.reason = std::string(json::get_string(*doc, "reason"));
      a.message = std::string(json::get_string(*doc, "message"));
    }
    return a;
  }
  static std::string binding(const std::string& node) {
    return R"({"apiVersion":"v1","kind":"Binding","metadata":{},"target":{"kind":"Node","name":")" + node + R"("}})";
  }

  // The scheduler's requests, in order, for pods named `prefix`-…; the answers with the
  // prefix taken out of the messages, so both transports' lists compare equal.
  static std::vector<Answer> binding_story(client::RestClient& c, const std::string& prefix) {
    const std::string pods = "/api/v1/namespaces/default/pods";
    std::vector<Answer> out;
    out.push_back(answer(c, "POST", pods, pod_json(prefix + "-a")));
    out.push_back(answer(c, "POST", pods + "/" + prefix + "-a/binding", binding("n1")));
    out.push_back(answer(c, "POST", pods + "/" + prefix + "-a/binding", binding("n2")));  // already bound
    out.push_back(answer(c, "POST", pods + "/" + prefix + "-gone/binding", binding("n1")));  // no such pod
    out.push_back(answer(c, "POST", pods + "/" + prefix + "-a/binding", R"({"target":{}})"));  // no node
    out.push_back(answer(c, "POST", pods, pod_json(prefix + "-held", true)));
    out.push_back(answer(c, "DELETE", pods + "/" + prefix + "-held", ""));
    out.push_back(answer(c, "POST", pods + "/" + prefix + "-held/binding", binding("n1")));  // being deleted
    out.push_back(answer(c, "GET", pods + "/" + prefix + "-a/binding", ""));  // only create
    for (Answer& a : out) {
      for (size_t at; (at = a.message.find(prefix + "-")) != std::string::npos;) a.message.replace(at, prefix.size(), "P");
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::shared_ptr<ApiServer> api_;
  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<client::RestClient> http_;
  std::shared_ptr<InProcessTransport> transport_;
  std::shared_ptr<client::RestClient> local_;
};

TEST_F(InProcessTransportTest, BindingAnswersAreTheHttpOnes) {
  std::vector<Answer> over_http = binding_story(*http_, "h");
  std::vector<Answer> in_process = binding_story(*local_, "l");
  EXPECT_EQ(in_process, over_http);
  ASSERT_EQ(in_process.size(), 9u);
  EXPECT_EQ(in_process[0].status, 201);
  EXPECT_EQ(in_process[1], (Answer{201, "", ""}));
  EXPECT_EQ(in_process[2], (Answer{409, "Conflict", "Operation cannot be fulfilled on pods \"P-a\": pod P-a is already "
                                                    "assigned to node \"n1\""}));
  EXPECT_EQ(in_process[3].status, 404);
  EXPECT_EQ(in_process[3].reason, "NotFound");
  EXPECT_EQ(in_process[4].status, 422);
  EXPECT_EQ(in_process[7].status, 409);
  EXPECT_NE(in_process[7].message.find("pod is being deleted, cannot be assigned to a host"), std::string::npos)
      << in_process[7];
  EXPECT_EQ(in_process[8].status, 405);
  // The local client's requests never touched a socket.
  EXPECT_EQ(local_->connections_opened(), 0);
  EXPECT_EQ(transport_->requests(), 9);

  // The binding as the handler stores it, read back over HTTP.
  auto pod = http_->get(client::ResourceRef("", "v1", "pods", "default", "l-a"));
  ASSERT_TRUE(pod.ok()) << pod.error().to_string();
  EXPECT_EQ(json::get_string(*json::get_object(*pod, "spec"), "nodeName"), "n1");
  const json::array* conds = json::get_array(*json::get_object(*pod, "status"), "conditions");
  ASSERT_NE(conds, nullptr);
  ASSERT_EQ(conds->size(), 1u);
  EXPECT_EQ(json::get_string(conds->at(0).as_object(), "type"), "PodScheduled");
  EXPECT_EQ(json::get_string(conds->at(0).as_object(), "status"), "True");
}

TEST_F(InProcessTransportTest, BindingAfterTheCachedPodWasReplaced) {
  // The watch cache may hold an older pod of the same name: the binding must judge the
  // store's copy. Deleted and recreated, unbound: the binding succeeds on the new pod.
  const client::ResourceRef pods("", "v1", "pods", "default");
  ASSERT_TRUE(local_->create(pods, json::parse_object(pod_json("again")).value()).ok());
  ASSERT_EQ(answer(*local_, "POST", "/api/v1/namespaces/default/pods/again/binding", binding("n1")).status, 201);
  ASSERT_TRUE(local_->remove(pods.named("again")).ok());
  ASSERT_TRUE(local_->create(pods, json::parse_object(pod_json("again")).value()).ok());
  EXPECT_EQ(answer(*local_, "POST", "/api/v1/namespaces/default/pods/again/binding", binding("n2")), (Answer{201, "", ""}));
  auto pod = local_->get(pods.named("again"));
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(json::get_string(*json::get_object(*pod, "spec"), "nodeName"), "n2");
}

TEST_F(InProcessTransportTest, BindingUidAndResourceVersionArePreconditions) {
  // A scheduler that decided for a pod since deleted and re-created under the same name
  // names the old uid: the new pod must not be bound by it (upstream's binding registry).
  const client::ResourceRef pods("", "v1", "pods", "default");
  auto created = http_->create(pods, json::parse_object(pod_json("u")).value());
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  const std::string uid(api::Meta(*created).uid());
  const std::string rv(api::Meta(*created).resource_version());
  auto bind_as = [&](client::RestClient& c, const std::string& meta) {
    return answer(c, "POST", "/api/v1/namespaces/default/pods/u/binding",
                  R"({"apiVersion":"v1","kind":"Binding","metadata":)" + meta +
                      R"(,"target":{"kind":"Node","name":"n1"}})");
  };
  for (client::RestClient* c : {http_.get(), local_.get()}) {
    Answer wrong_uid = bind_as(*c, R"({"name":"u","uid":"00000000-0000-0000-0000-000000000000"})");
    EXPECT_EQ(wrong_uid.status, 409);
    EXPECT_NE(wrong_uid.message.find("Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, "
                                     "UID in object meta: " + uid),
              std::string::npos)
        << wrong_uid;
    Answer stale_rv = bind_as(*c, R"({"name":"u","resourceVersion":"1"})");
    EXPECT_EQ(stale_rv.status, 409) << stale_rv;
  }
  EXPECT_EQ(bind_as(*local_, R"({"name":"u","uid":")" + uid + R"(","resourceVersion":")" + rv + R"("})"),
            (Answer{201, "", ""}));
}

TEST_F(InProcessTransportTest, ResourceVersionConflictsAsOverHttp) {
  const client::ResourceRef cms("", "v1", "configmaps", "default");
  json::object cm{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", json::object{{"name", "cm"}}},
                  {"data", json::object{{"a", "1"}}}};
  auto created = local_->create(cms, cm);
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  const std::string rv(api::Meta(*created).resource_version());
  ASSERT_FALSE(rv.empty());
  // A change over HTTP makes the local client's copy stale.
  json::object changed = *created;
  changed["data"] = json::object{{"a", "2"}};
  auto over_http = http_->update(cms, changed);
  ASSERT_TRUE(over_http.ok()) << over_http.error().to_string();
  json::object stale = *created;
  stale["data"] = json::object{{"a", "3"}};
  auto refused = local_->update(cms, stale);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kConflict) << refused.error().to_string();
  // The resourceVersion the local client gets is the one HTTP clients see.
  json::object fresh = *over_http;
  fresh["data"] = json::object{{"a", "4"}};
  auto updated = local_->update(cms, fresh);
  ASSERT_TRUE(updated.ok()) << updated.error().to_string();
  auto seen = http_->get(cms.named("cm"));
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(api::Meta(*seen).resource_version(), api::Meta(*updated).resource_version());
  EXPECT_NE(api::Meta(*updated).resource_version(), rv);
}

TEST_F(InProcessTransportTest, WatchesUseHttpAndStreamsAreRefusedInProcess) {
  const client::ResourceRef pods("", "v1", "pods", "default");
  auto w = local_->watch(pods);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  ASSERT_TRUE(local_->create(pods, json::parse_object(pod_json("watched")).value()).ok());
  auto ev = (*w)->next();
  ASSERT_TRUE(ev.ok()) << ev.error().to_string();
  ASSERT_TRUE(ev->has_value());
  EXPECT_EQ((*ev)->type, client::WatchEvent::Type::kAdded);
  EXPECT_EQ(api::Meta((*ev)->object).name(), "watched");
  (*w)->cancel();
  EXPECT_EQ(local_->connections_opened(), 1);  // the watch's

  auto streamed = transport_->round_trip("GET", "/api/v1/namespaces/default/pods?watch=true", "", "");
  ASSERT_TRUE(streamed.ok()) << streamed.error().to_string();
  EXPECT_EQ(streamed->status, 500);
  EXPECT_NE(streamed->body.find("not carried in-process"), std::string::npos) << streamed->body;
}

TEST_F(InProcessTransportTest, BadRequestsAndAStoppedServer) {
  auto bad = transport_->round_trip("FETCH", "/api/v1/pods", "", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("FETCH"), std::string::npos);

  InProcessTransportOptions small;
  small.body_limit = 16;
  InProcessTransport limited(api_, server_->io_context(), small);
  auto big = limited.round_trip("POST", "/api/v1/namespaces/default/pods", pod_json("big"), "application/json");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->status, 413);

  server_->stop();
  auto after = local_->get(client::ResourceRef("", "v1", "namespaces", "", "default"));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code(), ErrorCode::kUnavailable) << after.error().to_string();
}

}  // namespace
}  // namespace kernlet::apiserver
