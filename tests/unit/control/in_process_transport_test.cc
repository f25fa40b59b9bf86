// InProcessTransport: a RestClient whose requests enter the API server's handler directly
// must get exactly the answers the same requests get over HTTP — the binding
// subresource's 201 / 409 already bound / 409 being deleted / 404 / 422, resourceVersion
// conflicts — and its watches must deliver the events an HTTP watch of the same target
// delivers (ADDED/MODIFIED/DELETED with selector moves, BOOKMARKs, resume from a
// resourceVersion, 410 Expired, the end after timeoutSeconds), as decoded objects shared
// between in-process watchers. One ApiServer with a real SQLite store in a temporary
// directory, served on a loopback port and in-process at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <optional>
#include <functional>
#include <mutex>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "api/client/informer.h"
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
    opts.bookmark_interval_seconds = 1;  // the watch tests wait for one
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
    return to_answer(c.request(method, target, body), method, target);
  }
  // The same through request_async: the answer must come on another thread (an io thread
  // of the server), exactly once.
  static Answer answer_async(client::RestClient& c, const std::string& method, const std::string& target,
                             const std::string& body) {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<client::Response>> got;
    int calls = 0;
    std::thread::id on;
    const bool taken = c.request_async(method, target, body, [&](Result<client::Response> res) {
      std::lock_guard lk(mu);
      ++calls;
      on = std::this_thread::get_id();
      got.emplace(std::move(res));
      cv.notify_all();
    });
    EXPECT_TRUE(taken) << method << " " << target;
    if (!taken) return {};
    std::unique_lock lk(mu);
    EXPECT_TRUE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return got.has_value(); })) << method << " " << target;
    if (!got) return {};
    EXPECT_NE(on, std::this_thread::get_id());
    lk.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a second answer would land here
    EXPECT_EQ(calls, 1);
    return to_answer(std::move(*got), method, target);
  }
  static Answer to_answer(Result<client::Response> res, const std::string& method, const std::string& target) {
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
  static std::vector<Answer> binding_story(client::RestClient& c, const std::string& prefix, bool async = false) {
    const std::string pods = "/api/v1/namespaces/default/pods";
    auto ask = [&](const std::string& method, const std::string& target, const std::string& body) {
      return async ? answer_async(c, method, target, body) : answer(c, method, target, body);
    };
    std::vector<Answer> out;
    out.push_back(ask("POST", pods, pod_json(prefix + "-a")));
    out.push_back(ask("POST", pods + "/" + prefix + "-a/binding", binding("n1")));
    out.push_back(ask("POST", pods + "/" + prefix + "-a/binding", binding("n2")));  // already bound
    out.push_back(ask("POST", pods + "/" + prefix + "-gone/binding", binding("n1")));  // no such pod
    out.push_back(ask("POST", pods + "/" + prefix + "-a/binding", R"({"target":{}})"));  // no node
    out.push_back(ask("POST", pods, pod_json(prefix + "-held", true)));
    out.push_back(ask("DELETE", pods + "/" + prefix + "-held", ""));
    out.push_back(ask("POST", pods + "/" + prefix + "-held/binding", binding("n1")));  // being deleted
    out.push_back(ask("GET", pods + "/" + prefix + "-a/binding", ""));  // only create
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

TEST_F(InProcessTransportTest, AsynchronousRequestsGetTheSameAnswers) {
  // The scheduler's bindings and Events go through request_async on this transport: same
  // answers as a blocking request and as HTTP, each delivered once on an io thread.
  ASSERT_TRUE(local_->can_request_async());
  std::vector<Answer> over_http = binding_story(*http_, "h");
  std::vector<Answer> in_process = binding_story(*local_, "a", /*async=*/true);
  EXPECT_EQ(in_process, over_http);
  EXPECT_EQ(local_->connections_opened(), 0);
  EXPECT_EQ(transport_->requests(), 9);
  auto pod = http_->get(client::ResourceRef("", "v1", "pods", "default", "a-a"));
  ASSERT_TRUE(pod.ok()) << pod.error().to_string();
  EXPECT_EQ(json::get_string(*json::get_object(*pod, "spec"), "nodeName"), "n1");

  // Over HTTP there is no such call: nothing is sent and the callback is never called.
  EXPECT_FALSE(http_->can_request_async());
  bool called = false;
  EXPECT_FALSE(http_->request_async("GET", "/api/v1/namespaces/default/pods/a-a", "",
                                    [&](Result<client::Response>) { called = true; }));
  EXPECT_FALSE(called);

  // Errors are answers too, named after the request: an unknown method, then a stopped server.
  std::optional<Result<client::Response>> bad;
  ASSERT_TRUE(local_->request_async("FETCH", "/api/v1/pods", "", [&](Result<client::Response> r) { bad.emplace(r); }));
  ASSERT_TRUE(bad.has_value());
  ASSERT_FALSE(bad->ok());
  EXPECT_EQ(bad->error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad->error().message().find("FETCH"), std::string::npos) << bad->error().to_string();
  server_->stop();
  std::optional<Result<client::Response>> stopped;
  ASSERT_TRUE(local_->request_async("GET", "/api/v1/namespaces/default", "",
                                    [&](Result<client::Response> r) { stopped.emplace(r); }));
  ASSERT_TRUE(stopped.has_value());
  ASSERT_FALSE(stopped->ok());
  EXPECT_EQ(stopped->error().code(), ErrorCode::kUnavailable) << stopped->error().to_string();
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

TEST_F(InProcessTransportTest, WatchesAreInProcessAndStreamsAreRefused) {
  const client::ResourceRef pods("", "v1", "pods", "default");
  auto w = local_->watch(pods);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  ASSERT_TRUE(local_->create(pods, json::parse_object(pod_json("watched")).value()).ok());
  auto ev = (*w)->next();
  ASSERT_TRUE(ev.ok()) << ev.error().to_string();
  ASSERT_TRUE(ev->has_value());
  EXPECT_EQ((*ev)->type, client::WatchEvent::Type::kAdded);
  EXPECT_EQ(api::Meta(*(*ev)->object).name(), "watched");
  (*w)->cancel();
  auto cancelled = (*w)->next();
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(local_->connections_opened(), 0);  // no socket, not even for the watch
  EXPECT_EQ(transport_->watches(), 1);

  // Request streams other than watches stay HTTP-only.
  auto streamed = transport_->round_trip("GET", "/api/v1/namespaces/default/pods?watch=true", "", "");
  ASSERT_TRUE(streamed.ok()) << streamed.error().to_string();
  EXPECT_EQ(streamed->status, 500);
  EXPECT_NE(streamed->body.find("not carried in-process"), std::string::npos) << streamed->body;
}

// One event as the tests compare them: type, name, resourceVersion, and the object.
struct Seen {
  client::WatchEvent::Type type;
  std::string name;
  std::string rv;
  json::object object;
  bool operator==(const Seen& o) const {
    // Bookmarks carry only a resourceVersion; objects compare as JSON values (key order
    // aside: the HTTP stream splices resourceVersion in, the in-process one sets it).
    return type == o.type && name == o.name && rv == o.rv &&
           (type == client::WatchEvent::Type::kBookmark || object == o.object);
  }
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << client::to_string(s.type) << " " << s.name << " @" << s.rv;
}

// Reads events until `n` non-bookmark events and then (when `bookmark`) one BOOKMARK at
// or after the last of them have arrived, or the deadline passes.
std::vector<Seen> read_events(client::WatchStream& w, size_t n, bool bookmark) {
  std::vector<Seen> out;
  size_t objects = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto ev = w.next();
    if (!ev.ok() || !ev->has_value()) break;
    const client::WatchEvent& e = **ev;
    api::Meta m(*e.object);
    if (e.type == client::WatchEvent::Type::kBookmark) {
      // Only the bookmark that follows every event is deterministic enough to compare.
      if (objects == n && bookmark) {
        out.push_back({e.type, "", std::string(m.resource_version()), {}});
        break;
      }
      continue;
    }
    out.push_back({e.type, std::string(m.name()), std::string(m.resource_version()), *e.object});
    if (++objects == n && !bookmark) break;
  }
  return out;
}

TEST_F(InProcessTransportTest, WatchDeliversTheHttpEventSequence) {
  const client::ResourceRef cms("", "v1", "configmaps", "default");
  auto cm = [](const std::string& name, const std::string& app, const std::string& v) {
    return json::object{{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", json::object{{"name", name}, {"labels", json::object{{"app", app}}}}},
                        {"data", json::object{{"v", v}}}};
  };
  auto before = local_->create(cms, cm("before", "a", "0"));
  ASSERT_TRUE(before.ok()) << before.error().to_string();
  const std::string start_rv(api::Meta(*before).resource_version());

  // The same selector on both; the story moves an object out of it and back.
  client::WatchOptions o;
  o.label_selector = "app=a";
  o.resource_version = start_rv;
  o.allow_bookmarks = true;
  auto over_http = http_->watch(cms, o);
  auto in_process = local_->watch(cms, o);
  ASSERT_TRUE(over_http.ok()) << over_http.error().to_string();
  ASSERT_TRUE(in_process.ok()) << in_process.error().to_string();

  auto x = local_->create(cms, cm("x", "a", "1"));                     // ADDED
  ASSERT_TRUE(x.ok());
  ASSERT_TRUE(local_->create(cms, cm("other", "b", "1")).ok());       // not selected
  json::object x2 = *x;
  x2["data"] = json::object{{"v", "2"}};
  auto x_updated = http_->update(cms, x2);                            // MODIFIED
  ASSERT_TRUE(x_updated.ok());
  auto moved_out = http_->patch(cms.named("x"), client::PatchType::kMerge,
                                json::parse("{\"metadata\":{\"labels\":{\"app\":\"b\"}}}").value());  // DELETED
  ASSERT_TRUE(moved_out.ok()) << moved_out.error().to_string();
  ASSERT_TRUE(http_->patch(cms.named("x"), client::PatchType::kMerge,
                           json::parse("{\"metadata\":{\"labels\":{\"app\":\"a\"}}}").value())
                  .ok());                                              // ADDED again
  ASSERT_TRUE(local_->remove(cms.named("x")).ok());                   // DELETED
  ASSERT_TRUE(local_->remove(cms.named("before")).ok());              // DELETED

  std::vector<Seen> h = read_events(**over_http, 6, true);
  std::vector<Seen> l = read_events(**in_process, 6, true);
  EXPECT_EQ(l, h);
  ASSERT_EQ(l.size(), 7u);
  using T = client::WatchEvent::Type;
  const std::vector<std::pair<T, std::string>> want = {{T::kAdded, "x"},   {T::kModified, "x"}, {T::kDeleted, "x"},
                                                       {T::kAdded, "x"},   {T::kDeleted, "x"},  {T::kDeleted, "before"},
                                                       {T::kBookmark, ""}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(l[i].type, want[i].first) << i << ": " << l[i];
    EXPECT_EQ(l[i].name, want[i].second) << i << ": " << l[i];
  }
  EXPECT_EQ(l[1].rv, std::string(api::Meta(*x_updated).resource_version()));
  EXPECT_GE(std::stoll(l[6].rv), std::stoll(l[5].rv));

  // Resume from the MODIFIED event's resourceVersion: the rest, from the window.
  o.resource_version = l[1].rv;
  auto h_resumed = http_->watch(cms, o);
  auto l_resumed = local_->watch(cms, o);
  ASSERT_TRUE(h_resumed.ok() && l_resumed.ok());
  std::vector<Seen> hr = read_events(**h_resumed, 4, false);
  std::vector<Seen> lr = read_events(**l_resumed, 4, false);
  EXPECT_EQ(lr, hr);
  ASSERT_EQ(lr.size(), 4u);
  EXPECT_EQ(lr[0], l[2]);

  // No resourceVersion: the current state as ADDED first.
  o.resource_version.clear();
  o.label_selector.clear();
  auto h_state = http_->watch(cms, o);
  auto l_state = local_->watch(cms, o);
  ASSERT_TRUE(h_state.ok() && l_state.ok());
  std::vector<Seen> hs = read_events(**h_state, 1, false);
  std::vector<Seen> ls = read_events(**l_state, 1, false);
  EXPECT_EQ(ls, hs);
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_EQ(ls[0].type, T::kAdded);
  EXPECT_EQ(ls[0].name, "other");
}

TEST_F(InProcessTransportTest, WatchErrorsTimeoutAndGoneAsOverHttp) {
  const client::ResourceRef cms("", "v1", "configmaps", "default");
  // A malformed selector: the same 400, the same message.
  client::WatchOptions bad;
  bad.label_selector = "app in (";
  auto h_bad = http_->watch(cms, bad);
  auto l_bad = local_->watch(cms, bad);
  ASSERT_FALSE(h_bad.ok());
  ASSERT_FALSE(l_bad.ok());
  EXPECT_EQ(l_bad.error().code(), h_bad.error().code());
  EXPECT_EQ(l_bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(l_bad.error().message(), h_bad.error().message());
  bad.label_selector.clear();
  bad.resource_version = "nope";
  l_bad = local_->watch(cms, bad);
  ASSERT_FALSE(l_bad.ok());
  EXPECT_EQ(l_bad.error().code(), ErrorCode::kInvalidArgument);

  // timeoutSeconds: both streams end cleanly once it has passed.
  client::WatchOptions brief;
  brief.timeout_seconds = 1;
  brief.allow_bookmarks = false;
  auto h_brief = http_->watch(cms, brief);
  auto l_brief = local_->watch(cms, brief);
  ASSERT_TRUE(h_brief.ok() && l_brief.ok());
  const auto t0 = std::chrono::steady_clock::now();
  for (client::WatchStream* w : {h_brief->get(), l_brief->get()}) {
    for (;;) {
      auto ev = w->next();
      ASSERT_TRUE(ev.ok()) << ev.error().to_string();
      if (!ev->has_value()) break;  // only the ADDED of the current state before it
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));

  // A resourceVersion the store has compacted away: 410 Expired on the stream, which
  // makes a reflector relist.
  json::object cm{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", json::object{{"name", "c"}}}};
  auto c1 = local_->create(cms, cm);
  ASSERT_TRUE(c1.ok());
  const int64_t old_rv = std::stoll(std::string(api::Meta(*c1).resource_version()));
  for (int i = 0; i < 3; ++i) {
    cm["data"] = json::object{{"i", std::to_string(i)}};
    auto cur = local_->get(cms.named("c"));
    ASSERT_TRUE(cur.ok());
    json::object next = *cur;
    next["data"] = json::object{{"i", std::to_string(i)}};
    ASSERT_TRUE(local_->update(cms, next).ok());
  }
  ASSERT_TRUE(store_->compact(store_->current_revision()).ok());
  client::WatchOptions stale;
  stale.resource_version = std::to_string(old_rv);
  for (auto* c : {http_.get(), local_.get()}) {
    auto w = c->watch(cms, stale);
    ASSERT_TRUE(w.ok()) << w.error().to_string();  // a 200 stream...
    auto ev = (*w)->next();
    ASSERT_FALSE(ev.ok());                         // ...whose one event is the 410
    EXPECT_EQ(ev.error().code(), ErrorCode::kCompacted) << ev.error().to_string();
    EXPECT_NE(ev.error().message().find("too old resource version"), std::string::npos) << ev.error().to_string();
  }
}

TEST_F(InProcessTransportTest, InformersShareOneDecodedObject) {
  // Two informers on the in-process client (the scheduler's and the controllers' pod
  // informers) and one over HTTP: same caches, and the in-process ones hold the very same
  // object for each version.
  const client::ResourceRef pods("", "v1", "pods");
  auto informer = [&](std::shared_ptr<client::RestClient> c) {
    client::InformerOptions io;
    io.name = "pods";
    return std::make_unique<client::Informer>(std::make_shared<client::RestListerWatcher>(c, pods), io);
  };
  auto a = informer(local_);
  auto b = informer(local_);
  auto h = informer(http_);
  for (auto* i : {a.get(), b.get(), h.get()}) i->start();
  for (auto* i : {a.get(), b.get(), h.get()}) ASSERT_TRUE(i->wait_for_sync(std::chrono::seconds(10)));
  auto created = local_->create(pods.in("default"), json::parse_object(pod_json("shared")).value());
  ASSERT_TRUE(created.ok());
  const std::string key = "default/shared";
  const std::string rv(api::Meta(*created).resource_version());
  auto at_rv = [&](client::Informer& i) {
    auto o = i.cache().get(key);
    return o && api::Meta(*o).resource_version() == rv;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(at_rv(*a) && at_rv(*b) && at_rv(*h)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(at_rv(*a) && at_rv(*b) && at_rv(*h));
  EXPECT_EQ(a->cache().get(key).get(), b->cache().get(key).get());  // one decoded pod
  EXPECT_EQ(*a->cache().get(key), *h->cache().get(key));          // the HTTP informer's equal
  EXPECT_EQ(local_->connections_opened(), 0);
  for (auto* i : {a.get(), b.get(), h.get()}) i->stop();
}

// Lets a test act on the server just before the informer's second watch starts.
class GatedListerWatcher final : public client::ListerWatcher {
 public:
  GatedListerWatcher(std::shared_ptr<client::ListerWatcher> inner, std::function<void()> before_second_watch)
      : inner_(std::move(inner)), before_(std::move(before_second_watch)) {}
  Result<client::ObjectList> list(const client::ListOptions& o) override { return inner_->list(o); }
  Result<std::unique_ptr<client::WatchStream>> watch(const client::WatchOptions& o) override {
    if (++watches_ == 2) before_();
    return inner_->watch(o);
  }

 private:
  std::shared_ptr<client::ListerWatcher> inner_;
  std::function<void()> before_;
  int watches_ = 0;  // the reflector thread only
};

TEST_F(InProcessTransportTest, InformerRelistsAfterAnInProcessGone) {
  // The informer's watch ends (timeoutSeconds); before it watches again from its last
  // resourceVersion, objects change and the store compacts past it: the in-process
  // watch's 410 makes it relist, and what vanished meanwhile is a final-state-unknown
  // delete, as over HTTP (client_test's ClientCompaction does it over HTTP).
  const client::ResourceRef cms("", "v1", "configmaps", "default");
  auto cm = [](const std::string& name) {
    return json::object{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", json::object{{"name", name}}}};
  };
  ASSERT_TRUE(local_->create(cms, cm("gone")).ok());
  std::atomic<bool> acted{false};
  auto lw = std::make_shared<GatedListerWatcher>(
      std::make_shared<client::RestListerWatcher>(local_, client::ResourceRef("", "v1", "configmaps", "default")),
      [&] {
        EXPECT_TRUE(local_->remove(cms.named("gone")).ok());
        EXPECT_TRUE(local_->create(cms, cm("more")).ok());
        EXPECT_TRUE(store_->compact(store_->current_revision()).ok());
        acted = true;
      });
  client::InformerOptions io;
  io.name = "configmaps";
  io.min_watch_timeout = std::chrono::seconds(1);
  client::Informer inf(lw, io);
  std::mutex mu;
  std::vector<std::string> deletes;
  client::EventHandler h;
  h.on_delete = [&](const client::ObjectPtr& o, bool unknown) {
    std::lock_guard lk(mu);
    deletes.push_back(std::string(api::Meta(*o).name()) + (unknown ? " unknown" : " seen"));
  };
  inf.add_handler(h);
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(std::chrono::seconds(10)));
  EXPECT_TRUE(inf.cache().get("default/gone") != nullptr);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while ((inf.lists() < 2 || inf.cache().get("default/more") == nullptr) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(acted.load());
  EXPECT_EQ(inf.lists(), 2);  // the first list, and the relist after the 410
  EXPECT_TRUE(inf.cache().get("default/more") != nullptr);
  EXPECT_TRUE(inf.cache().get("default/gone") == nullptr);
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(deletes, std::vector<std::string>{"gone unknown"});
  }
  EXPECT_EQ(local_->connections_opened(), 0);
  inf.stop();
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
