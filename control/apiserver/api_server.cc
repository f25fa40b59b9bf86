#include "control/apiserver/api_server.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/string.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <variant>

#include "api/fields.h"
#include "api/labels.h"
#include "api/object.h"
#include "api/patch.h"
#include "api/schema/field_validation.h"
#include "api/schema/protobuf.h"
#include "api/status.h"
#include "api/time.h"
#include "api/yaml.h"
#include "control/apiserver/defaults.h"
#include "control/apiserver/deletion.h"
#include "control/apiserver/garbage_collector.h"
#include "control/apiserver/in_process_watch.h"
#include "control/apiserver/metrics_collector.h"
#include "control/apiserver/service_allocator.h"
#include "control/apiserver/openapi.h"
#include "control/apiserver/pod_logs.h"
#include "control/apiserver/strategy.h"
#include "control/apiserver/tables.h"
#include "control/apiserver/validate.h"
#include "control/apiserver/watch_cache.h"

namespace kernlet::apiserver {
namespace {

using api::Status;
constexpr int kMaxConflictRetries = 8;

// ---- small helpers -------------------------------------------------------------------

std::string random_suffix(std::size_t n) {
  // The alphabet Kubernetes uses for generateName: no vowels, no confusable characters.
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(kAlphabet[rng() % kAlphabet.size()]);
  return out;
}

std::string new_uid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string b64(std::string_view s) {
  namespace b = boost::beast::detail::base64;
  std::string out(b::encoded_size(s.size()), '\0');
  out.resize(b::encode(out.data(), s.data(), s.size()));
  return out;
}

std::optional<std::string> unb64(std::string_view s) {
  namespace b = boost::beast::detail::base64;
  std::string out(b::decoded_size(s.size()), '\0');
  auto [written, read] = b::decode(out.data(), s.data(), s.size());
  // decode() stops at the padding: everything before it must have been read.
  std::string_view unpadded = s;
  while (!unpadded.empty() && unpadded.back() == '=') unpadded.remove_suffix(1);
  if (read != unpadded.size()) return std::nullopt;
  out.resize(written);
  return out;
}

api::GroupResource group_resource(const ResourceInfo& r) { return {r.group, r.resource}; }

Response json_response(unsigned code, const json::object& body) {
  Response res;
  res.status = code;
  res.body = json::dump(body);
  return res;
}

// A watch stream's ERROR event line (what a 410 Expired watch sends before it ends).
std::string watch_error_line(const Status& s) {
  std::string line = json::dump(json::object{{"type", "ERROR"}, {"object", s.to_json()}});
  line.push_back('\n');
  return line;
}

Response status_response(const Status& s) { return json_response(static_cast<unsigned>(s.code()), s.to_json()); }

// Decodes a stored value and stamps its resourceVersion.
Result<json::object> from_kv(const store::KeyValue& kv) {
  KL_ASSIGN_OR_RETURN(json::object obj, json::parse_object(kv.value, kv.key));
  api::MutableMeta(obj).set_resource_version(std::to_string(kv.mod_revision));
  return obj;
}

// What is stored: the object without resourceVersion (the store's revision is the truth).
std::string to_stored(const json::object& obj) {
  const json::object* meta = json::get_object(obj, "metadata");
  if (meta == nullptr || !meta->contains("resourceVersion")) return json::dump(obj);
  json::object copy = obj;
  json::get_object(copy, "metadata")->erase("resourceVersion");
  return json::dump(copy);
}

std::string_view media_type(const Request& req) {
  std::string_view ct = req.msg[http::field::content_type];
  if (auto semi = ct.find(';'); semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return ct;
}

// A request body as a JSON value: JSON, YAML, or Kubernetes protobuf (what kubectl's
// typed clients send, e.g. `kubectl create deployment` from 1.32 on), decoded by the
// schema table into the same JSON form. Other media types (CBOR) are 415.
std::variant<json::value, Status> parse_body(const Request& req) {
  std::string_view ct = media_type(req);
  const std::string& body = req.msg.body();
  Result<json::value> v = Error("");
  if (ct == "application/yaml") {
    v = yaml::to_json(body);
  } else if (ct.empty() || ct == "application/json") {
    v = json::parse(body);
  } else if (ct == api::schema::kProtobufContentType) {
    auto decoded = api::schema::decode_protobuf_object(body);
    if (!decoded.ok()) return Status::bad_request("unable to decode protobuf body: " + decoded.error().message());
    return json::value(std::move(*decoded));
  } else {
    return Status::unsupported_media_type(ct);
  }
  if (!v.ok()) return Status::bad_request(v.error().message());
  return std::move(*v);
}

// True when the client asked for a meta.k8s.io Table (kubectl get does, with JSON as the
// fallback it accepts too).
bool wants_table(const Request& req) {
  std::string_view accept = req.msg[http::field::accept];
  return accept.find("as=Table") != std::string_view::npos && accept.find("g=meta.k8s.io") != std::string_view::npos;
}

// ---- server-side field validation (fieldValidation=Strict|Warn|Ignore) -----------------

// What field validation leaves for the reply: the Warning header values (Warn mode).
using Warnings = std::vector<std::string>;

// The fieldValidation directive of a write; a bad value is 422 on <Verb>Options, as upstream.
std::variant<api::schema::FieldValidation, Status> field_validation(const RequestInfo& info,
                                                                    std::string_view options_kind) {
  auto fv = api::schema::parse_field_validation(info.param("fieldValidation").value_or(""));
  if (fv.ok()) return *fv;
  std::vector<api::StatusCause> causes;
  causes.push_back({"FieldValueNotSupported", fv.error().message(), "fieldValidation"});
  return Status::invalid("meta.k8s.io", options_kind, "", std::move(causes));
}

// Drops the members of `obj` the schema of `r`'s kind lacks (in every mode, as upstream's
// decoder does) and applies the directive: Strict → the 400 to answer with, Warn → the
// messages appended to `warnings`, Ignore → nothing. `duplicates` come from the JSON text.
// `as_decode_error` words a Strict failure as create/update do ("X in version "v1" cannot
// be handled as a X: strict decoding error: ..."); patches get the bare strict error.
std::optional<Status> check_fields(const ResourceInfo& r, api::schema::FieldValidation mode,
                                   std::vector<std::string> duplicates, json::object& obj, bool as_decode_error,
                                   Warnings& warnings) {
  const api::schema::Message* m = api::schema::message_for_kind(r.api_version(), r.kind);
  if (m == nullptr) return std::nullopt;  // a kind without a schema keeps every field
  api::schema::FieldProblems problems{std::move(duplicates), api::schema::drop_unknown_fields(*m, obj)};
  if (problems.empty() || mode == api::schema::FieldValidation::kIgnore) return std::nullopt;
  if (mode == api::schema::FieldValidation::kStrict) {
    if (!as_decode_error) return Status::bad_request(problems.strict_error());
    return Status::bad_request(r.kind + " in version \"" + r.version + "\" cannot be handled as a " + r.kind + ": " +
                               problems.strict_error());
  }
  for (std::string& msg : problems.messages()) warnings.push_back(std::move(msg));
  return std::nullopt;
}

// The duplicate members of a JSON request body (none are reported for YAML or protobuf).
std::vector<std::string> body_duplicates(const Request& req) {
  std::string_view ct = media_type(req);
  if (ct == "application/yaml" || ct == api::schema::kProtobufContentType ||
      ct == "application/json-patch+json") {
    return {};
  }
  return api::schema::find_duplicate_fields(req.msg.body());
}

// A Warning header value (RFC 7234 form, code 299, agent "-"), as upstream writes them.
std::string warning_header(std::string_view text) {
  std::string out = "299 - \"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

Response with_warnings(Response res, const Warnings& warnings) {
  for (const std::string& w : warnings) res.headers.emplace_back("Warning", warning_header(w));
  return res;
}

std::string continue_token(int64_t rv, std::string_view next_key) {
  return b64(json::dump(json::object{{"v", "kernlet.1"}, {"rv", rv}, {"start", next_key}}));
}

// The autoscaling/v1 Scale view of a Deployment or ReplicaSet (what `kubectl scale` and
// the HPA read and write).
json::object to_scale(const json::object& obj) {
  api::Meta meta(obj);
  const json::object& spec = api::object_or_empty(obj, "spec");
  const json::object& status = api::object_or_empty(obj, "status");
  std::string selector;
  if (const json::value* sel = json::find(spec, "selector")) {
    if (auto parsed = api::Selector::from_json(sel, api::Selector::NullMeans::kNothing); parsed.ok()) {
      selector = parsed->to_string();
    }
  }
  json::object m{{"name", meta.name()},
                 {"namespace", meta.namespace_()},
                 {"uid", meta.uid()},
                 {"resourceVersion", meta.resource_version()},
                 {"creationTimestamp", meta.creation_timestamp()}};
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", std::move(m)},
          {"spec", json::object{{"replicas", json::get_int_or(spec, "replicas", 1)}}},
          {"status", json::object{{"replicas", json::get_int_or(status, "replicas", 0)}, {"selector", selector}}}};
}

}  // namespace

// ---- the handler -------------------------------------------------------------------------

class ApiServer::Impl final : public ObjectWriter {
 public:
  Impl(store::Store& s, ApiServerOptions o)
      : store_(s), options_(std::move(o)), pool_(static_cast<std::size_t>(std::max(1, options_.store_threads))) {}
  ~Impl() override {
    if (metrics_) metrics_->stop();
    if (gc_) gc_->stop();
    pool_.join();
    drain();
  }

  asio::awaitable<void> handle(Request& req, Responder& out);
  Result<void> bootstrap();
  // See ApiServer::watch_in_process.
  Result<std::unique_ptr<client::WatchStream>> watch_in_process(const std::string& target);

  // Waits until every write() in flight has handed its result to its executor.
  void drain() {
    std::unique_lock lk(writes_mu_);
    writes_cv_.wait(lk, [&] { return writes_in_flight_ == 0; });
  }

 private:
  // Writes through the store's write_async: no thread waits through the group commit; the
  // coroutine resumes on its own executor (the connection's strand) once the write is
  // durable or failed. The store's commit thread only posts the completion: one thread
  // crossing each way instead of four (io → pool → commit → pool → io), whose futex
  // wake-ups, context switches and semaphore spinning were about a third of the server's
  // CPU at 64 clients.
  asio::awaitable<Result<store::TxnResult>> write(store::WriteRequest request) {
    {
      std::lock_guard lk(writes_mu_);
      ++writes_in_flight_;
    }
    auto initiate = [this](auto handler, store::WriteRequest req) {
      using Completion = decltype(handler);
      struct Pending {
        // Tracked: a suspended coroutine with a write in flight keeps its io_context's
        // run() going, as a pending socket operation would.
        asio::any_io_executor executor;
        Completion handler;
      };
      auto pending = std::make_shared<Pending>(Pending{
          asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked),
          std::move(handler)});
      store_.write_async(std::move(req), [this, pending](Result<store::TxnResult> result) mutable {
        {
          // Move out of the callback so nothing of the io_context outlives this call.
          auto p = std::move(pending);
          asio::any_io_executor ex = p->executor;
          asio::post(ex, [p, result = std::move(result)]() mutable { std::move(p->handler)(std::move(result)); });
        }
        std::lock_guard lk(writes_mu_);
        if (--writes_in_flight_ == 0) writes_cv_.notify_all();
      });
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(Result<store::TxnResult>)>(
        initiate, asio::use_awaitable, std::move(request));
  }

  // A write request for `obj` under `key`, with the summary the watch cache would
  // otherwise decode the stored bytes for.
  static store::WriteRequest object_write(store::WriteRequest::Kind kind, std::string key, const ResourceInfo& r,
                                          const json::object& obj, int64_t expected_rev) {
    store::WriteRequest w;
    w.kind = kind;
    w.key = std::move(key);
    w.value = to_stored(obj);
    w.expected_mod_revision = expected_rev;
    auto summary = ObjectSummary::of(obj, r.resource);
    summary->has_resource_version = false;  // to_stored drops it
    w.attachment = std::move(summary);
    return w;
  }

  // Runs a blocking call on the store pool and resumes the caller on its own executor.
  template <class F>
  asio::awaitable<std::invoke_result_t<F>> blocking(F f) {
    using R = std::invoke_result_t<F>;
    auto result = co_await asio::co_spawn(
        pool_, [f = std::move(f)]() -> asio::awaitable<std::optional<R>> { co_return std::optional<R>(f()); },
        asio::use_awaitable);
    co_return std::move(*result);
  }

  asio::awaitable<void> discovery(const RequestInfo& info, const Request& req, Responder& out);
  asio::awaitable<void> get(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  asio::awaitable<void> list(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  asio::awaitable<void> watch(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  // LIST from the watch cache; false when the cache cannot answer (the store path does).
  asio::awaitable<bool> list_cached(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                    const api::Selector& labels, const api::FieldSelector& fields, int64_t limit,
                                    Responder& out);
  // What a watch request asks of the watch cache (shared by the HTTP and the in-process
  // watch, so both read resourceVersion and sendInitialEvents alike): the cache watch,
  // and the revision the cache must reach first (0: none). Errors: an invalid
  // resourceVersion (kInvalidArgument, answered 400).
  struct CacheWatchPlan {
    WatchCache::WatchRequest request;
    int64_t wait_for = 0;
    bool send_initial = false;
  };
  Result<CacheWatchPlan> plan_cache_watch(const ResourceInfo& r, const RequestInfo& info, const api::Selector& labels,
                                          const api::FieldSelector& fields);
  // WATCH from the watch cache (one store watch fanned out to every HTTP watcher).
  asio::awaitable<void> watch_cached(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                     const api::Selector& labels, const api::FieldSelector& fields,
                                     int64_t timeout_s, bool bookmarks, Responder& out);
  asio::awaitable<void> create(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  asio::awaitable<void> update(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  asio::awaitable<void> remove(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  asio::awaitable<void> remove_collection(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                          Responder& out);
  // POST pods/<name>/binding: assigns the pod to a node, once (the scheduler's write).
  asio::awaitable<void> bind(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  // GET pods/<name>/log: validates the container, finds the pod's node and relays the
  // kubelet's /containerLogs answer (node_proxy.h).
  asio::awaitable<void> pod_log(const ResourceInfo& r, const RequestInfo& info, Responder& out);
  // GET/POST pods/<name>/exec and pods/<name>/attach: validates the container and the
  // command (exec), finds the pod's node and splices the client's WebSocket or SPDY
  // connection to the kubelet's /exec or /attach (node_proxy.h).
  asio::awaitable<void> pod_exec(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  // GET/POST pods/<name>/portforward: checks the pod is scheduled and running, finds its
  // node and splices the client's upgraded connection (SPDY/3.1, or a WebSocket tunnelling
  // it) to the kubelet's /portForward (node_proxy.h).
  asio::awaitable<void> pod_port_forward(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                         Responder& out);
  // The container a pods/log or pods/exec request names and its node's kubelet; a Status
  // for a missing pod, container, node or address (already answered when nullopt).
  struct PodStream {
    std::string container;
    NodeTarget kubelet;
  };
  asio::awaitable<std::optional<PodStream>> pod_stream(const ResourceInfo& r, const RequestInfo& info,
                                                       Responder& out);
  // GET/LIST of metrics.k8s.io NodeMetrics and PodMetrics: the objects (for names, labels
  // and label selectors) from the store, their usage from the metrics collector.
  asio::awaitable<void> resource_metrics(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                         Responder& out);
  // GET, PUT and PATCH of <resource>/scale (autoscaling/v1 Scale over spec.replicas).
  asio::awaitable<void> scale(const ResourceInfo& r, const RequestInfo& info, const Request& req, Responder& out);
  // Deletes one object by Kubernetes' rules: preconditions; the propagation policy's GC
  // finalizer; finalizers and a pod's grace period mark it (deletionTimestamp) instead of
  // removing it; Services free their IP and ports; a Namespace turns Terminating and the
  // garbage collector empties it. Blocking: run on the store pool.
  struct Deleted {
    json::object obj;      // the object as deleted, or as marked
    bool removed = false;  // gone from the store (false: marked, still there)
  };
  std::variant<Deleted, Status> delete_object(const ResourceInfo& r, const std::string& key, std::string_view name,
                                              const DeleteOptions& options);
  // True when an object being deleted has nothing left holding it: no finalizers (nor a
  // Namespace's spec.finalizers) and no grace period still running.
  static bool ready_to_remove(const ResourceInfo& r, const json::object& obj);

  // ObjectWriter, for the garbage collector (its thread).
  Result<bool> delete_object(const ResourceInfo& r, const std::string& key, std::string_view uid,
                             Propagation policy) override;
  Result<void> mutate(const ResourceInfo& r, const std::string& key, std::string_view uid,
                      const std::function<bool(json::object&)>& change) override;

  // Applies a PATCH request's body to `current` according to its Content-Type.
  // Returns the patched object, or the Status to answer with.
  std::variant<json::object, Status> apply_patch(const ResourceInfo& r, const Request& req,
                                                 const json::object& current);

  // An object as stored now: decoded, resourceVersion stamped, and its mod_revision.
  struct Loaded {
    json::object obj;
    int64_t rev = 0;
  };
  // Reads and decodes `key`; the Status to answer with when it fails (404 when absent).
  // Blocking: run on the store pool.
  std::variant<Loaded, Status> load(const ResourceInfo& r, const std::string& key, std::string_view name);

  // Checks that a namespace exists and is not terminating (for creates in it).
  asio::awaitable<std::optional<Status>> check_namespace(std::string_view ns);

  // Validates apiVersion/kind/namespace of a body against the request; fills what is absent.
  std::optional<Status> check_body(const ResourceInfo& r, const RequestInfo& info, json::object& obj);

  struct Selectors {
    api::Selector labels;
    api::FieldSelector fields;
  };
  Result<Selectors> selectors(const ResourceInfo& r, const RequestInfo& info);

  bool is_services(const ResourceInfo& r) const { return r.group.empty() && r.resource == "services"; }
  static bool is_namespaces(const ResourceInfo& r) { return r.group.empty() && r.resource == "namespaces"; }

  store::Store& store_;
  ApiServerOptions options_;
  asio::thread_pool pool_;
  std::mutex writes_mu_;
  std::condition_variable writes_cv_;
  int64_t writes_in_flight_ = 0;  // write()s whose result has not been posted yet
  std::unique_ptr<ServiceAllocator> allocator_;  // set by bootstrap()
  std::shared_ptr<NodeProxy> node_proxy_;          // set by bootstrap()
  std::unique_ptr<WatchCache> cache_;              // set by bootstrap() unless disabled
  std::unique_ptr<GarbageCollector> gc_;           // started by bootstrap()
  std::unique_ptr<MetricsCollector> metrics_;      // started by bootstrap() unless disabled
};

ApiServer::ApiServer(store::Store& store, ApiServerOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}
ApiServer::~ApiServer() = default;

asio::awaitable<void> ApiServer::handle(Request& request, Responder& out) { return impl_->handle(request, out); }
void ApiServer::drain() { impl_->drain(); }
Result<void> ApiServer::bootstrap() { return impl_->bootstrap(); }
Result<std::unique_ptr<client::WatchStream>> ApiServer::watch_in_process(const std::string& target) {
  return impl_->watch_in_process(target);
}

Result<void> ApiServer::Impl::bootstrap() {
  KL_ASSIGN_OR_RETURN(node_proxy_, NodeProxy::create(options_.kubelet_client));
  const ResourceInfo* ns = find_resource("", "v1", "namespaces");
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    json::object obj{{"apiVersion", "v1"},
                     {"kind", "Namespace"},
                     {"metadata", json::object{{"name", name},
                                               {"uid", new_uid()},
                                               {"creationTimestamp", api::now_rfc3339()},
                                               {"labels", json::object{{"kubernetes.io/metadata.name", name}}}}},
                     {"spec", json::object{{"finalizers", json::array{"kubernetes"}}}},
                     {"status", json::object{{"phase", "Active"}}}};
    KL_ASSIGN_OR_RETURN(store::TxnResult r, store_.create(object_key(*ns, "", name), to_stored(std::move(obj))));
    (void)r;  // not succeeded = it already exists, which is what we want
  }

  // Service IPs and node ports are not stored apart from the services: rebuild the
  // allocator's state from them before serving.
  KL_ASSIGN_OR_RETURN(allocator_, ServiceAllocator::create(options_.service_cidr, options_.node_port_range));
  const ResourceInfo* svc = find_resource("", "v1", "services");
  std::vector<json::object> services;
  store::ListOptions page;
  for (;;) {
    KL_ASSIGN_OR_RETURN(store::ListResult l, store_.list(key_prefix(*svc, ""), page));
    for (const auto& kv : l.kvs) {
      if (auto o = json::parse_object(kv.value, kv.key); o.ok()) services.push_back(std::move(*o));
    }
    if (!l.more) break;
    page.revision = l.revision;
    page.continue_key = l.continue_key;
  }
  allocator_->rebuild(services);

  // default/kubernetes: the API server's own Service, on the first address of the range.
  std::string key = object_key(*svc, "default", "kubernetes");
  KL_ASSIGN_OR_RETURN(auto existing, store_.get(key));
  if (!existing) {
    json::object k{{"apiVersion", "v1"},
                   {"kind", "Service"},
                   {"metadata", json::object{{"name", "kubernetes"},
                                             {"namespace", "default"},
                                             {"uid", new_uid()},
                                             {"creationTimestamp", api::now_rfc3339()},
                                             {"labels", json::object{{"component", "apiserver"},
                                                                     {"provider", "kubernetes"}}}}},
                   {"spec", json::object{{"type", "ClusterIP"},
                                         {"clusterIP", allocator_->kubernetes_service_ip()},
                                         {"ports", json::array{json::object{{"name", "https"},
                                                                            {"port", 443},
                                                                            {"protocol", "TCP"},
                                                                            {"targetPort", options_.secure_port}}}}}}};
    apply_defaults(*svc, k);
    if (auto a = allocator_->allocate(k); !a.ok()) return a.error();
    auto created = store_.create(key, to_stored(k));
    if (!created.ok() || !created->succeeded) allocator_->rollback_create(k);
    if (!created.ok()) return std::move(created).error();
  }
  if (options_.watch_cache && !cache_) {
    std::vector<WatchCache::Resource> cached;
    for (const ResourceInfo& r : builtin_resources()) {
      if (r.resource == "bindings" || r.group == "metrics.k8s.io") continue;  // not stored (metrics: computed)
      cached.push_back({key_prefix(r, ""), r.resource});
    }
    WatchCacheOptions wopts;
    wopts.window_events = options_.watch_cache_window;
    wopts.watcher_buffer_events = options_.watcher_buffer_events;
    KL_ASSIGN_OR_RETURN(cache_, WatchCache::start(store_, std::move(cached), wopts));
  }

  // Owner references and Terminating namespaces (also those a previous run left behind).
  gc_ = std::make_unique<GarbageCollector>(store_, *this);
  gc_->start();
  if (options_.metrics_resolution.count() > 0 && !metrics_) {
    metrics_ = std::make_unique<MetricsCollector>(store_, node_proxy_, options_.metrics_resolution);
    metrics_->start();
  }
  return Ok();
}

asio::awaitable<void> ApiServer::Impl::handle(Request& req, Responder& out) {
  auto parsed = parse_request_info(std::string(req.msg.method_string()), std::string(req.msg.target()));
  if (!parsed.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(parsed.error().message())));
    co_return;
  }
  const RequestInfo& info = *parsed;
  if (info.path == "/healthz" || info.path == "/livez" || info.path == "/readyz") {
    KL_REPLY(out, Response{200, "text/plain; charset=utf-8", "ok", {}});
    co_return;
  }
  if (!req.identity.authenticated && !options_.trust_unauthenticated) {
    KL_REPLY(out, status_response(Status::unauthorized("Unauthorized")));
    co_return;
  }
  if (!info.is_resource_request) {
    co_await discovery(info, req, out);
    co_return;
  }
  const ResourceInfo* r = find_resource(info.api_group, info.api_version, info.resource);
  if (r == nullptr) {
    KL_REPLY(out, status_response(Status(404, "NotFound", "the server could not find the requested resource")));
    co_return;
  }
  const std::string& verb = info.verb;
  if (info.subresource == "log" && r->group.empty() && r->resource == "pods") {
    co_await pod_log(*r, info, out);
    co_return;
  }
  if ((info.subresource == "exec" || info.subresource == "attach") && r->group.empty() && r->resource == "pods") {
    co_await pod_exec(*r, info, req, out);
    co_return;
  }
  if (info.subresource == "portforward" && r->group.empty() && r->resource == "pods") {
    co_await pod_port_forward(*r, info, req, out);
    co_return;
  }
  if (r->group == "metrics.k8s.io") {
    if (!info.subresource.empty() || !r->has_verb(verb)) {
      KL_REPLY(out, status_response(Status::method_not_supported(group_resource(*r), verb)));
      co_return;
    }
    co_await resource_metrics(*r, info, req, out);
    co_return;
  }
  if (!info.subresource.empty() && info.subresource != "status" && info.subresource != "scale" &&
      info.subresource != "binding") {
    KL_REPLY(out, status_response(Status::method_not_supported(group_resource(*r), verb)));
    co_return;
  }
  if (!info.subresource.empty() && r->subresource(info.subresource) == nullptr) {
    KL_REPLY(out, status_response(Status(404, "NotFound", "the server could not find the requested resource")));
    co_return;
  }
  if (!r->has_verb(verb) && !(verb == "update" && !info.subresource.empty())) {
    KL_REPLY(out, status_response(Status::method_not_supported(group_resource(*r), verb)));
    co_return;
  }
  if (info.subresource == "scale") {
    co_await scale(*r, info, req, out);
  } else if (info.subresource == "binding") {
    co_await bind(*r, info, req, out);
  } else if (verb == "get") {
    co_await get(*r, info, req, out);
  } else if (verb == "list") {
    co_await list(*r, info, req, out);
  } else if (verb == "watch") {
    co_await watch(*r, info, req, out);
  } else if (verb == "create") {
    co_await create(*r, info, req, out);
  } else if (verb == "update" || verb == "patch") {
    co_await update(*r, info, req, out);
  } else if (verb == "delete") {
    co_await remove(*r, info, req, out);
  } else if (verb == "deletecollection") {
    co_await remove_collection(*r, info, req, out);
  } else {
    KL_REPLY(out, status_response(Status::method_not_supported(group_resource(*r), verb)));
  }
}

asio::awaitable<void> ApiServer::Impl::discovery(const RequestInfo& info, const Request& req, Responder& out) {
  const std::string& p = info.path;
  if (is_openapi_path(p)) {
    KL_REPLY(out, serve_openapi(p, info.param("hash").value_or(""), req.msg[http::field::accept]));
    co_return;
  }
  json::object body;
  if (p == "/version") {
    body = {{"major", "1"},
            {"minor", "30"},
            {"gitVersion", "v1.30.0-kernlet"},
            {"gitCommit", ""},
            {"gitTreeState", "clean"},
            {"buildDate", "1970-01-01T00:00:00Z"},
            {"goVersion", "n/a (C++20)"},
            {"compiler", "gcc"},
            {"platform", "linux/amd64"}};
  } else if (p == "/api" || p == "/api/") {
    body = core_api_versions(options_.server_address);
  } else if (p == "/apis" || p == "/apis/") {
    body = api_group_list();
  } else if (info.api_prefix == "apis" && info.api_version.empty() && !info.api_group.empty()) {
    body = api_group(info.api_group);
  } else if (info.api_prefix == "apis" && info.api_version.empty()) {
    // /apis/<group>: RequestInfo puts a lone segment in neither field; take it from the path.
    body = api_group(std::string_view(p).substr(6));
  } else if (!info.api_prefix.empty() && !info.api_version.empty()) {
    body = api_resource_list(info.api_group, info.api_version);
  }
  if (body.empty()) {
    KL_REPLY(out, status_response(Status(404, "NotFound", "the server could not find the requested resource")));
    co_return;
  }
  KL_REPLY(out, json_response(200, body));
}

Result<ApiServer::Impl::Selectors> ApiServer::Impl::selectors(const ResourceInfo& r, const RequestInfo& info) {
  Selectors s;
  if (auto ls = info.param("labelSelector"); ls && !ls->empty()) {
    auto parsed = api::Selector::parse(*ls);
    if (!parsed.ok()) {
      return Error(ErrorCode::kInvalidArgument,
                   "unable to parse requirement: " + parsed.error().message());
    }
    s.labels = std::move(*parsed);
  }
  if (auto fs = info.param("fieldSelector"); fs && !fs->empty()) {
    auto parsed = api::FieldSelector::parse_for(r.resource, *fs);
    if (!parsed.ok()) return Error(ErrorCode::kInvalidArgument, parsed.error().message());
    s.fields = std::move(*parsed);
  }
  return s;
}

std::variant<ApiServer::Impl::Loaded, Status> ApiServer::Impl::load(const ResourceInfo& r, const std::string& key,
                                                                    std::string_view name) {
  auto kv = store_.get(key);
  if (!kv.ok()) return Status::from_error(kv.error());
  if (!kv->has_value()) return Status::not_found(group_resource(r), name);
  auto obj = from_kv(**kv);
  if (!obj.ok()) return Status::internal_error(obj.error().message());
  return Loaded{std::move(*obj), (*kv)->mod_revision};
}

asio::awaitable<void> ApiServer::Impl::get(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                           Responder& out) {
  std::string key = object_key(r, info.namespace_, info.name);
  // resourceVersion=0 ("any") is served from the watch cache, as upstream does; without it
  // a GET reads the store (upstream reads etcd), so it always sees the latest write.
  std::optional<Loaded> cached;
  if (cache_ && info.param("resourceVersion") == "0") {
    if (ObjectPtr o = cache_->get(key)) {
      if (auto decoded = json::parse_object(o->json(o->mod_revision), key); decoded.ok()) {
        cached = Loaded{std::move(*decoded), o->mod_revision};
      }
    }
  }
  std::variant<Loaded, Status> loaded = Status::internal_error("not loaded");
  if (cached) {
    loaded = std::move(*cached);
  } else {
    loaded = co_await blocking([&] { return load(r, key, info.name); });
  }
  if (auto* bad = std::get_if<Status>(&loaded)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  json::object* obj = &std::get<Loaded>(loaded).obj;
  if (wants_table(req)) {
    auto include = parse_include_object(info.param("includeObject").value_or(""));
    if (!include) {
      KL_REPLY(out, status_response(Status::bad_request(
          "invalid includeObject: \"" + std::string(info.param("includeObject").value_or("")) +
          "\" (want None, Metadata or Object)")));
      co_return;
    }
    TableOptions topts;
    topts.include_object = *include;
    topts.resource_version = std::string(api::Meta(*obj).resource_version());
    KL_REPLY(out, json_response(200, make_table(r, {&*obj}, topts)));
    co_return;
  }
  KL_REPLY(out, json_response(200, *obj));
}

asio::awaitable<void> ApiServer::Impl::list(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                           Responder& out) {
  auto sel = selectors(r, info);
  if (!sel.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(sel.error().message())));
    co_return;
  }
  auto limit = info.int_param("limit");
  if (!limit.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(limit.error().message())));
    co_return;
  }
  if (cache_) {
    // Not inside &&: GCC 12 mishandles co_await in short-circuit conditions like in ?:.
    const bool served = co_await list_cached(r, info, req, sel->labels, sel->fields, limit->value_or(0), out);
    if (served) co_return;
  }
  std::string prefix = key_prefix(r, info.namespace_);
  store::ListOptions opts;
  if (auto cont = info.param("continue"); cont && !cont->empty()) {
    auto raw = unb64(*cont);
    auto tok = raw ? json::parse_object(*raw, "continue token") : Result<json::object>(Error("bad base64"));
    if (!tok.ok() || json::get_string(*tok, "v") != "kernlet.1") {
      KL_REPLY(out, status_response(Status::bad_request("continue key is not valid: " +
                                                                  std::string(*cont))));
      co_return;
    }
    opts.revision = json::get_int_or(*tok, "rv", 0);
    opts.continue_key = std::string(json::get_string(*tok, "start"));
  } else if (auto rv = info.param("resourceVersion"); rv && !rv->empty() && *rv != "0") {
    // resourceVersionMatch=Exact lists at that revision; NotOlderThan (the default for a
    // set RV) is satisfied by the current state, which is never older.
    if (info.param("resourceVersionMatch") == "Exact") opts.revision = std::atoll(std::string(*rv).c_str());
  }
  const int64_t want = limit->value_or(0);
  json::array items;
  int64_t served_at = 0;
  std::string next_key;
  bool more = false;
  // Pages are filled with matching items, reading the store page by page at one revision.
  for (;;) {
    store::ListOptions page = opts;
    if (want > 0) page.limit = std::max<int64_t>(want - static_cast<int64_t>(items.size()), 1) + 16;
    auto res = co_await blocking([&] { return store_.list(prefix, page); });
    if (!res.ok()) {
      if (res.error().code() == ErrorCode::kCompacted) {
        KL_REPLY(out, status_response(Status::gone(
            "The provided continue parameter is too old to display a consistent list result. You can start a new "
            "list without the continue parameter, or use the continue token in this response to retrieve the "
            "remainder of the results. Continuing with the provided token results in an inconsistent list - "
            "objects that were created, modified, or deleted between the time the first chunk was returned and now "
            "may show up in the list.")));
      } else {
        KL_REPLY(out, status_response(Status::from_error(res.error())));
      }
      co_return;
    }
    served_at = res->revision;
    opts.revision = served_at;
    bool filled = false;
    for (std::size_t i = 0; i < res->kvs.size(); ++i) {
      const auto& kv = res->kvs[i];
      if (want > 0 && static_cast<int64_t>(items.size()) == want) {
        next_key = kv.key;
        more = true;
        filled = true;
        break;
      }
      auto obj = from_kv(kv);
      if (!obj.ok()) continue;
      if (!sel->labels.matches(api::Meta(*obj).labels())) continue;
      if (!sel->fields.matches(r.resource, *obj)) continue;
      items.emplace_back(std::move(*obj));
    }
    if (filled) break;
    if (!res->more) break;
    opts.continue_key = res->continue_key;
    if (want > 0 && static_cast<int64_t>(items.size()) == want) {
      next_key = res->continue_key;
      more = true;
      break;
    }
  }
  std::string cont = more ? continue_token(served_at, next_key) : std::string();
  if (wants_table(req)) {
    auto include = parse_include_object(info.param("includeObject").value_or(""));
    if (!include) {
      KL_REPLY(out, status_response(Status::bad_request(
          "invalid includeObject: \"" + std::string(info.param("includeObject").value_or("")) +
          "\" (want None, Metadata or Object)")));
      co_return;
    }
    std::vector<const json::object*> rows;
    rows.reserve(items.size());
    for (const auto& item : items) rows.push_back(&item.get_object());
    TableOptions topts;
    topts.include_object = *include;
    topts.resource_version = std::to_string(served_at);
    topts.continue_token = cont;
    KL_REPLY(out, json_response(200, make_table(r, rows, topts)));
    co_return;
  }
  json::object meta{{"resourceVersion", std::to_string(served_at)}};
  if (more) meta["continue"] = cont;
  json::object body{{"kind", r.kind + "List"},
                    {"apiVersion", r.api_version()},
                    {"metadata", std::move(meta)},
                    {"items", std::move(items)}};
  KL_REPLY(out, json_response(200, body));
}

asio::awaitable<void> ApiServer::Impl::watch(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                           Responder& out) {
  auto sel = selectors(r, info);
  if (!sel.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(sel.error().message())));
    co_return;
  }
  auto timeout = info.int_param("timeoutSeconds");
  auto bookmarks = info.bool_param("allowWatchBookmarks");
  if (!timeout.ok() || !bookmarks.ok()) {
    KL_REPLY(out, status_response(
        Status::bad_request(!timeout.ok() ? timeout.error().message() : bookmarks.error().message())));
    co_return;
  }
  if (cache_) {
    co_await watch_cached(r, info, req, sel->labels, sel->fields,
                          timeout->value_or(options_.max_watch_seconds), *bookmarks, out);
    co_return;
  }
  std::string prefix = key_prefix(r, info.namespace_);
  // resourceVersion unset or "0": start with the current state as ADDED events (the
  // informer's initial list), then changes. N: changes after N.
  int64_t after = 0;
  std::vector<json::object> initial;
  auto rv = info.param("resourceVersion");
  if (!rv || rv->empty() || *rv == "0") {
    auto res = co_await blocking([&] { return store_.list(prefix, {}); });
    if (!res.ok()) {
      KL_REPLY(out, status_response(Status::from_error(res.error())));
      co_return;
    }
    after = res->revision;
    for (const auto& kv : res->kvs) {
      auto obj = from_kv(kv);
      if (obj.ok()) initial.push_back(std::move(*obj));
    }
  } else {
    char* end = nullptr;
    after = std::strtoll(std::string(*rv).c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || after < 0) {
      KL_REPLY(out, status_response(Status::bad_request("invalid resourceVersion: " + std::string(*rv))));
      co_return;
    }
  }

  auto executor = co_await asio::this_coro::executor;
  auto wake = std::make_shared<asio::steady_timer>(executor, std::chrono::steady_clock::time_point::max());
  store::WatchOptions wopts;
  wopts.on_ready = [wake, executor] {
    asio::post(executor, [wake] { wake->cancel(); });
  };
  auto watcher = store_.watch(prefix, after, wopts);
  if (!watcher.ok()) {
    if (watcher.error().code() == ErrorCode::kCompacted) {
      // As the watch cache upstream answers: a 200 stream whose one event is an ERROR
      // carrying 410 Expired, which makes a reflector relist.
      if (!(co_await out.begin_stream(200, "application/json")).ok()) co_return;
      const std::string line = watch_error_line(Status::resource_expired(after, store_.compacted_revision()));
      (void)co_await out.write_chunk(line);
    } else {
      KL_REPLY(out, status_response(Status::from_error(watcher.error())));
    }
    co_return;
  }
  if (!(co_await out.begin_stream(200, "application/json")).ok()) co_return;

  const bool table = wants_table(req);
  auto include = parse_include_object(info.param("includeObject").value_or(""));
  bool first_row = true;
  auto send_event = [&](std::string_view type, const json::object& obj) -> asio::awaitable<bool> {
    json::object ev{{"type", type}};
    if (table && type != "ERROR" && type != "BOOKMARK") {
      // kubectl get -w: each event carries a one-row Table, headers only on the first.
      TableOptions topts;
      topts.include_object = include.value_or(IncludeObject::kMetadata);
      topts.no_headers = !first_row;
      topts.resource_version = std::string(api::Meta(obj).resource_version());
      first_row = false;
      ev["object"] = make_table(r, {&obj}, topts);
    } else {
      ev["object"] = obj;
    }
    std::string line = json::dump(ev);
    line.push_back('\n');
    co_return (co_await out.write_chunk(line)).ok();
  };
  auto visible = [&](const json::object& obj) {
    return sel->labels.matches(api::Meta(obj).labels()) && sel->fields.matches(r.resource, obj);
  };
  for (const auto& obj : initial) {
    if (visible(obj) && !co_await send_event("ADDED", obj)) co_return;
  }

  int64_t limit_s = timeout->value_or(options_.max_watch_seconds);
  limit_s = std::clamp<int64_t>(limit_s, 1, options_.max_watch_seconds);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
  int64_t last_rv = after;
  auto next_bookmark = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto batch = (*watcher)->next(std::chrono::milliseconds(0));
    if (!batch.ok()) {
      // The store ended the watch (compaction, overflow, shutdown): tell the client with an
      // ERROR event as Kubernetes does, so its reflector relists.
      Status s = batch.error().code() == ErrorCode::kCompacted
                     ? Status::resource_expired(last_rv, store_.compacted_revision())
                     : Status::gone(batch.error().message());
      (void)co_await send_event("ERROR", s.to_json());
      co_return;
    }
    for (const auto& ev : batch->events) {
      last_rv = ev.revision();
      // An object moving out of the selector is DELETED for this watcher, into it ADDED,
      // as the watch cache does upstream.
      std::optional<json::object> cur, prev;
      if (ev.type == store::Event::Type::kPut) {
        if (auto o = from_kv(ev.kv); o.ok()) cur = std::move(*o);
      }
      if (ev.prev_kv) {
        if (auto o = from_kv(*ev.prev_kv); o.ok()) prev = std::move(*o);
      }
      bool now_in = cur && visible(*cur);
      bool was_in = prev && visible(*prev);
      bool ok = true;
      if (now_in && was_in) {
        ok = co_await send_event("MODIFIED", *cur);
      } else if (now_in) {
        ok = co_await send_event("ADDED", *cur);
      } else if (was_in) {
        json::object gone = *prev;
        api::MutableMeta(gone).set_resource_version(std::to_string(ev.revision()));
        ok = co_await send_event("DELETED", gone);
      }
      if (!ok) co_return;
    }
    if (batch->progress_revision > last_rv) last_rv = batch->progress_revision;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) co_return;
    if (*bookmarks && now >= next_bookmark) {
      json::object bm{{"kind", r.kind},
                      {"apiVersion", r.api_version()},
                      {"metadata", json::object{{"resourceVersion", std::to_string(last_rv)}}}};
      if (!co_await send_event("BOOKMARK", bm)) co_return;
      next_bookmark = now + std::chrono::seconds(60);
    }
    if (!batch->events.empty()) continue;  // drain before sleeping
    wake->expires_at(std::min(deadline, *bookmarks ? next_bookmark : deadline));
    boost::system::error_code ec;
    co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<bool> ApiServer::Impl::list_cached(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                                   const api::Selector& labels, const api::FieldSelector& fields,
                                                   int64_t limit, Responder& out) {
  // resourceVersion semantics as upstream's watch cache serves them: unset = consistent
  // (the cache first catches up with the store's current revision), "0" = any (the cache
  // as it is), N = not older than N (wait for the cache to reach N), Exact N and continue
  // tokens = the state at exactly N (from the cache when it is at N, else the store).
  std::string start;
  int64_t exact = 0;
  int64_t min_rv = 0;
  bool explicit_min = false;
  if (auto cont = info.param("continue"); cont && !cont->empty()) {
    auto raw = unb64(*cont);
    auto tok = raw ? json::parse_object(*raw, "continue token") : Result<json::object>(Error("bad base64"));
    if (!tok.ok() || json::get_string(*tok, "v") != "kernlet.1") co_return false;  // the store path answers 400
    exact = json::get_int_or(*tok, "rv", 0);
    start = std::string(json::get_string(*tok, "start"));
    if (exact <= 0) co_return false;
  } else if (auto rv = info.param("resourceVersion"); !rv || rv->empty()) {
    min_rv = store_.current_revision();
  } else if (*rv != "0") {
    const std::string text(*rv);
    char* end = nullptr;
    const long long n = std::strtoll(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || n <= 0) co_return false;
    if (info.param("resourceVersionMatch") == "Exact") {
      exact = n;
    } else {
      min_rv = n;
      explicit_min = true;
    }
  }
  const int64_t wait_for = std::max(min_rv, exact);
  if (wait_for > cache_->revision()) {
    const auto wait = std::chrono::milliseconds(options_.consistent_read_wait_ms);
    const bool fresh = co_await blocking([&] { return cache_->wait_fresh(wait_for, wait); });
    if (!fresh) {
      const int64_t current = store_.current_revision();
      if (explicit_min && min_rv > current) {
        // As upstream: a resourceVersion the store has not reached is 504 after the wait.
        KL_REPLY(out, status_response(Status::timeout("Too large resource version: " + std::to_string(min_rv) +
                                                          ", current: " + std::to_string(current),
                                                      1)));
        co_return true;
      }
      co_return false;  // the cache lags: read the store, as upstream falls back to etcd
    }
  }
  const bool table = wants_table(req);
  std::optional<IncludeObject> include;
  if (table) {
    include = parse_include_object(info.param("includeObject").value_or(""));
    if (!include) co_return false;  // the store path answers 400
  }
  const CacheFilter filter{key_prefix(r, info.namespace_), labels, fields};
  // Serializing a large list is CPU work: keep it off the I/O threads.
  auto response = co_await blocking([&]() -> std::optional<Response> {
    auto listed = cache_->list(filter, start, limit, exact);
    if (!listed.ok() || !*listed) return std::nullopt;
    const WatchCache::ListResult& l = **listed;
    const std::string cont = l.more ? continue_token(l.revision, l.continue_key) : std::string();
    if (table) {
      std::vector<json::object> objs;
      objs.reserve(l.objects.size());
      for (const ObjectPtr& o : l.objects) {
        if (auto obj = json::parse_object(o->json(o->mod_revision), o->key); obj.ok()) objs.push_back(std::move(*obj));
      }
      std::vector<const json::object*> rows;
      rows.reserve(objs.size());
      for (const auto& o : objs) rows.push_back(&o);
      TableOptions topts;
      topts.include_object = *include;
      topts.resource_version = std::to_string(l.revision);
      topts.continue_token = cont;
      return json_response(200, make_table(r, rows, topts));
    }
    // The list is assembled from the cached bytes; no object is decoded or re-encoded.
    std::string body;
    size_t bytes = 128;
    for (const ObjectPtr& o : l.objects) bytes += o->value.size() + 32;
    body.reserve(bytes);
    body += "{\"kind\":\"" + r.kind + "List\",\"apiVersion\":\"" + r.api_version() +
            "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(l.revision) + "\"";
    if (l.more) body += ",\"continue\":\"" + cont + "\"";
    body += "},\"items\":[";
    for (size_t i = 0; i < l.objects.size(); ++i) {
      if (i != 0) body.push_back(',');
      l.objects[i]->append_json(body, l.objects[i]->mod_revision);
    }
    body += "]}";
    Response res;
    res.body = std::move(body);
    return res;
  });
  if (!response) co_return false;
  KL_REPLY(out, std::move(*response));
  co_return true;
}

Result<ApiServer::Impl::CacheWatchPlan> ApiServer::Impl::plan_cache_watch(const ResourceInfo& r,
                                                                          const RequestInfo& info,
                                                                          const api::Selector& labels,
                                                                          const api::FieldSelector& fields) {
  CacheWatchPlan plan;
  WatchCache::WatchRequest& wr = plan.request;
  wr.filter = CacheFilter{key_prefix(r, info.namespace_), labels, fields};
  auto rv = info.param("resourceVersion");
  const bool rv_unset = !rv || rv->empty();
  if (!rv_unset && *rv != "0") {
    const std::string text(*rv);
    char* end = nullptr;
    const long long n = std::strtoll(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || n < 0) {
      return Error(ErrorCode::kInvalidArgument, "invalid resourceVersion: " + text);
    }
    wr.after = n;
  }
  // resourceVersion unset or "0": the current state as ADDED events first (unset: after
  // the cache caught up with the store), then changes; N: changes after N, replayed from
  // the window. sendInitialEvents=true (watch-list): the state at least as new as N, then
  // a BOOKMARK marked k8s.io/initial-events-end; sendInitialEvents=false with no N: only
  // changes from now on.
  auto initial_param = info.param("sendInitialEvents");
  plan.send_initial = initial_param && *initial_param == "true";
  if (plan.send_initial) {
    plan.wait_for = rv_unset ? store_.current_revision() : wr.after.value_or(0);
    wr.after.reset();
  } else if (!wr.after) {
    if (initial_param && *initial_param == "false") {
      wr.after = cache_->revision();
    } else if (rv_unset) {
      plan.wait_for = store_.current_revision();
    }
  }
  return plan;
}

asio::awaitable<void> ApiServer::Impl::watch_cached(const ResourceInfo& r, const RequestInfo& info,
                                                    const Request& req, const api::Selector& labels,
                                                    const api::FieldSelector& fields, int64_t timeout_s,
                                                    bool bookmarks, Responder& out) {
  auto plan = plan_cache_watch(r, info, labels, fields);
  if (!plan.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(plan.error().message())));
    co_return;
  }
  WatchCache::WatchRequest& wr = plan->request;
  const bool send_initial = plan->send_initial;
  const int64_t wait_for = plan->wait_for;
  if (wait_for > cache_->revision()) {
    const auto wait = std::chrono::milliseconds(options_.consistent_read_wait_ms);
    (void)co_await blocking([&] { return cache_->wait_fresh(wait_for, wait); });
  }

  auto executor = co_await asio::this_coro::executor;
  auto wake = std::make_shared<asio::steady_timer>(executor, std::chrono::steady_clock::time_point::max());
  // The connection's executor is a strand: the cancel runs only while this coroutine is
  // suspended, so a wake-up can only be lost while it is suspended elsewhere (writing),
  // and the loop below always looks at the queue again after any suspension.
  wr.on_ready = [wake, executor] { asio::post(executor, [wake] { wake->cancel(); }); };
  auto watch = cache_->watch(std::move(wr));
  if (!watch.ok()) {
    if (watch.error().code() == ErrorCode::kCompacted) {
      // As the watch cache upstream answers: a 200 stream whose one event is an ERROR
      // carrying 410 Expired ("too old resource version"), which makes a reflector relist.
      if (!(co_await out.begin_stream(200, "application/json")).ok()) co_return;
      const std::string line = watch_error_line(Status::gone(watch.error().message()));
      (void)co_await out.write_chunk(line);
    } else {
      KL_REPLY(out, status_response(Status::from_error(watch.error())));
    }
    co_return;
  }
  if (!(co_await out.begin_stream(200, "application/json")).ok()) co_return;

  const bool table = wants_table(req);
  const IncludeObject include = parse_include_object(info.param("includeObject").value_or("")).value_or(IncludeObject::kMetadata);
  bool first_row = true;
  auto append_bookmark = [&](std::string& line, int64_t rev, bool initial_end) {
    json::object meta{{"resourceVersion", std::to_string(rev)}};
    if (initial_end) meta["annotations"] = json::object{{"k8s.io/initial-events-end", "true"}};
    line += json::dump(json::object{{"type", "BOOKMARK"},
                                    {"object", json::object{{"kind", r.kind},
                                                            {"apiVersion", r.api_version()},
                                                            {"metadata", std::move(meta)}}}});
    line.push_back('\n');
  };
  const int64_t limit_s = std::clamp<int64_t>(timeout_s, 1, options_.max_watch_seconds);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
  const auto bookmark_every = std::chrono::seconds(std::max(1, options_.bookmark_interval_seconds));
  auto next_bookmark = std::chrono::steady_clock::now() + bookmark_every;
  bool initial_end_pending = send_initial && bookmarks;
  std::string line;
  for (;;) {
    auto batch = (*watch)->next();
    // Ended: dropped for falling behind, or the cache re-listed. The stream just ends, as
    // upstream ends a terminated watcher's; the client watches again from its last RV.
    if (!batch.ok()) co_return;
    line.clear();
    for (const CacheEvent& ev : batch->events) {
      const char* type = ev.type == CacheEvent::Type::kAdded      ? "ADDED"
                         : ev.type == CacheEvent::Type::kModified ? "MODIFIED"
                                                                  : "DELETED";
      if (table) {
        // kubectl get -w: each event carries a one-row Table, headers only on the first.
        auto obj = json::parse_object(ev.object->json(ev.revision), ev.object->key);
        if (!obj.ok()) continue;
        TableOptions topts;
        topts.include_object = include;
        topts.no_headers = !first_row;
        topts.resource_version = std::to_string(ev.revision);
        first_row = false;
        line += json::dump(json::object{{"type", type}, {"object", make_table(r, {&*obj}, topts)}});
      } else {
        line += "{\"type\":\"";
        line += type;
        line += "\",\"object\":";
        ev.object->append_json(line, ev.revision);
        line += "}";
      }
      line.push_back('\n');
    }
    if (initial_end_pending) {
      append_bookmark(line, batch->progress_revision, true);
      initial_end_pending = false;
    }
    const auto now = std::chrono::steady_clock::now();
    if (bookmarks && now >= next_bookmark) {
      append_bookmark(line, batch->progress_revision, false);
      next_bookmark = now + bookmark_every;
    }
    if (!line.empty()) {
      if (!(co_await out.write_chunk(line)).ok()) co_return;
      if (std::chrono::steady_clock::now() >= deadline) co_return;
      continue;  // suspended while writing: look at the queue again before sleeping
    }
    if (now >= deadline) co_return;
    wake->expires_at(std::min(deadline, bookmarks ? next_bookmark : deadline));
    boost::system::error_code ec;
    co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

Result<std::unique_ptr<client::WatchStream>> ApiServer::Impl::watch_in_process(const std::string& target) {
  if (!cache_) return Error(ErrorCode::kUnimplemented, "no watch cache: watch over HTTP");
  // Errors as the HTTP watch answers them, turned into the Error a RestClient makes of
  // that answer.
  auto answer = [](const Status& s) { return client::error_from_status(s.to_json(), s.code()); };
  auto parsed = parse_request_info("GET", target);
  if (!parsed.ok()) return answer(Status::bad_request(parsed.error().message()));
  const RequestInfo& info = *parsed;
  if (!info.is_resource_request || info.verb != "watch" || !info.subresource.empty()) {
    return Error(ErrorCode::kUnimplemented, "not a collection watch: " + target);
  }
  const ResourceInfo* r = find_resource(info.api_group, info.api_version, info.resource);
  if (r == nullptr) return answer(Status(404, "NotFound", "the server could not find the requested resource"));
  if (r->group == "metrics.k8s.io") return Error(ErrorCode::kUnimplemented, "metrics are not cached: " + target);
  if (!r->has_verb("watch")) return answer(Status::method_not_supported(group_resource(*r), "watch"));
  auto sel = selectors(*r, info);
  if (!sel.ok()) return answer(Status::bad_request(sel.error().message()));
  auto timeout = info.int_param("timeoutSeconds");
  auto bookmarks = info.bool_param("allowWatchBookmarks");
  if (!timeout.ok()) return answer(Status::bad_request(timeout.error().message()));
  if (!bookmarks.ok()) return answer(Status::bad_request(bookmarks.error().message()));
  auto plan = plan_cache_watch(*r, info, sel->labels, sel->fields);
  if (!plan.ok()) return answer(Status::bad_request(plan.error().message()));
  if (plan->wait_for > cache_->revision()) {
    // The caller's own thread waits (an informer's reflector), as the HTTP watch's
    // coroutine waits on the blocking pool.
    (void)cache_->wait_fresh(plan->wait_for, std::chrono::milliseconds(options_.consistent_read_wait_ms));
  }
  auto signal = std::make_shared<InProcessWatch::Signal>();
  plan->request.on_ready = [signal] { signal->notify(); };
  auto watch = cache_->watch(std::move(plan->request));
  if (!watch.ok()) {
    if (watch.error().code() == ErrorCode::kCompacted) {
      // The HTTP stream's one ERROR event (410 Expired), then its end.
      return std::unique_ptr<client::WatchStream>(
          std::make_unique<InProcessWatch>(answer(Status::gone(watch.error().message()))));
    }
    return answer(Status::from_error(watch.error()));
  }
  InProcessWatch::Options o;
  o.kind = r->kind;
  o.api_version = r->api_version();
  const int64_t limit_s = std::clamp<int64_t>(timeout->value_or(options_.max_watch_seconds), 1,
                                              options_.max_watch_seconds);
  o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
  o.bookmarks = *bookmarks;
  o.bookmark_every = std::chrono::seconds(std::max(1, options_.bookmark_interval_seconds));
  o.initial_events_end = plan->send_initial;
  return std::unique_ptr<client::WatchStream>(
      std::make_unique<InProcessWatch>(std::move(*watch), std::move(signal), std::move(o)));
}

std::optional<Status> ApiServer::Impl::check_body(const ResourceInfo& r, const RequestInfo& info, json::object& obj) {
  std::string_view av = api::api_version(obj);
  std::string_view kind = api::kind(obj);
  if (av.empty()) {
    obj["apiVersion"] = r.api_version();
  } else if (av != r.api_version()) {
    return Status::bad_request("the API version in the data (" + std::string(av) +
                               ") does not match the expected API version (" + r.api_version() + ")");
  }
  if (kind.empty()) {
    obj["kind"] = r.kind;
  } else if (kind != r.kind) {
    return Status::bad_request("the kind in the data (" + std::string(kind) + ") does not match the expected kind (" +
                               r.kind + ")");
  }
  api::MutableMeta meta(obj);
  if (r.namespaced) {
    if (meta.namespace_().empty()) {
      meta.set_namespace(info.namespace_);
    } else if (meta.namespace_() != info.namespace_) {
      return Status::bad_request("the namespace of the provided object does not match the namespace sent on the request");
    }
  } else if (!meta.namespace_().empty()) {
    meta.raw().erase("namespace");
  }
  if (!info.name.empty() && !meta.name().empty() && meta.name() != info.name) {
    return Status::bad_request("the name of the object (" + std::string(meta.name()) +
                               ") does not match the name on the URL (" + info.name + ")");
  }
  if (!info.name.empty() && meta.name().empty()) meta.set_name(info.name);
  return std::nullopt;
}

asio::awaitable<std::optional<Status>> ApiServer::Impl::check_namespace(std::string_view ns) {
  const ResourceInfo* nsr = find_resource("", "v1", "namespaces");
  std::string key = object_key(*nsr, "", ns);
  // An Active namespace in the watch cache needs no store read (upstream's lifecycle
  // admission reads its informer cache too); a miss or a Terminating one is checked live.
  if (cache_) {
    if (ObjectPtr cached = cache_->get(key); cached && !cached->being_deleted) co_return std::nullopt;
  }
  auto kv = co_await blocking([&] { return store_.get(key); });
  if (!kv.ok()) co_return Status::from_error(kv.error());
  if (!kv->has_value()) co_return Status::not_found({"", "namespaces"}, ns);
  auto obj = from_kv(**kv);
  if (obj.ok() && api::Meta(*obj).being_deleted()) {
    co_return Status::forbidden({"", "namespaces"}, ns,
                                "unable to create new content in namespace " + std::string(ns) +
                                    " because it is being terminated")
        .with_details(std::string(ns), "", "namespaces");
  }
  co_return std::nullopt;
}

asio::awaitable<void> ApiServer::Impl::create(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                              Responder& out) {
  if (r.namespaced && info.namespace_.empty()) {
    KL_REPLY(out, status_response(Status(404, "NotFound", "the server could not find the requested resource")));
    co_return;
  }
  auto body = parse_body(req);
  if (auto* bad = std::get_if<Status>(&body)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  json::value& doc = std::get<json::value>(body);
  auto shape = api::check_object_shape(doc);
  if (!shape.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(shape.error().message())));
    co_return;
  }
  json::object obj = std::move(doc.as_object());
  if (auto bad = check_body(r, info, obj)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  Warnings warnings;
  {
    auto mode = field_validation(info, "CreateOptions");
    if (auto* bad = std::get_if<Status>(&mode)) {
      KL_REPLY(out, status_response(*bad));
      co_return;
    }
    if (auto bad = check_fields(r, std::get<api::schema::FieldValidation>(mode), body_duplicates(req), obj, true,
                                warnings)) {
      KL_REPLY(out, status_response(*bad));
      co_return;
    }
  }
  api::MutableMeta meta(obj);
  if (meta.name().empty()) {
    if (meta.generate_name().empty()) {
      // Not a braced list inside co_await: GCC 12 miscompiles initializer lists in coroutines.
      std::vector<api::StatusCause> causes;
      causes.push_back(api::StatusCause{"FieldValueRequired", "name or generateName is required", "metadata.name"});
      KL_REPLY(out, status_response(Status::invalid(r.group, r.kind, "", std::move(causes))));
      co_return;
    }
    meta.set_name(std::string(meta.generate_name()) + random_suffix(5));
  }
  if (r.namespaced) {
    if (auto bad = co_await check_namespace(info.namespace_)) {
      KL_REPLY(out, status_response(*bad));
      co_return;
    }
  }
  auto dry = info.param("dryRun");
  if (dry && !dry->empty() && *dry != "All") {
    KL_REPLY(out, status_response(Status::bad_request("Invalid dry run value: " + std::string(*dry) +
                                                                ": valid values are \"All\"")));
    co_return;
  }
  apply_defaults(r, obj);
  {
    api::MutableMeta m(obj);  // defaulting may have created members: refresh the view
    m.set_uid(new_uid());
    m.set_creation_timestamp(api::now_rfc3339());
    m.raw().erase("resourceVersion");
    m.raw().erase("deletionTimestamp");
    m.raw().erase("deletionGracePeriodSeconds");
  }
  prepare_for_create(r, obj);
  std::string name(api::Meta(obj).name());
  if (auto causes = validate_create(r, obj); !causes.empty()) {
    KL_REPLY(out, status_response(Status::invalid(r.group, r.kind, name, std::move(causes))));
    co_return;
  }
  if (dry) {
    KL_REPLY(out, with_warnings(json_response(201, obj), warnings));
    co_return;
  }
  if (is_services(r)) {
    AllocationResult alloc = allocator_->allocate(obj);
    if (!alloc.ok()) {
      KL_REPLY(out, status_response(alloc.to_status(name)));
      co_return;
    }
  }
  // Named, not a temporary inside the co_await (GCC PR 99576, see KL_REPLY).
  store::WriteRequest request =
      object_write(store::WriteRequest::Kind::kCreate, object_key(r, info.namespace_, name), r, obj, 0);
  auto res = co_await write(std::move(request));
  if (is_services(r) && (!res.ok() || !res->succeeded)) allocator_->rollback_create(obj);
  if (!res.ok()) {
    KL_REPLY(out, status_response(Status::from_error(res.error())));
    co_return;
  }
  if (!res->succeeded) {
    KL_REPLY(out, status_response(Status::already_exists(group_resource(r), name)));
    co_return;
  }
  api::MutableMeta(obj).set_resource_version(std::to_string(res->revision));
  KL_REPLY(out, with_warnings(json_response(201, obj), warnings));
}

asio::awaitable<void> ApiServer::Impl::update(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                              Responder& out) {
  const bool is_patch = info.verb == "patch";
  auto mode_or = field_validation(info, is_patch ? "PatchOptions" : "UpdateOptions");
  if (auto* bad = std::get_if<Status>(&mode_or)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  const api::schema::FieldValidation mode = std::get<api::schema::FieldValidation>(mode_or);
  const std::vector<std::string> duplicates = body_duplicates(req);
  Warnings warnings;
  // PUT carries the whole object; PATCH a patch applied to the current one.
  std::optional<json::value> put_body;
  if (!is_patch) {
    auto body = parse_body(req);
    if (auto* bad = std::get_if<Status>(&body)) {
      KL_REPLY(out, status_response(*bad));
      co_return;
    }
    json::value& doc = std::get<json::value>(body);
    if (auto shape = api::check_object_shape(doc); !shape.ok()) {
      KL_REPLY(out, status_response(Status::bad_request(shape.error().message())));
      co_return;
    }
    put_body = std::move(doc);
  }
  auto dry = info.param("dryRun");
  if (dry && !dry->empty() && *dry != "All") {
    KL_REPLY(out, status_response(Status::bad_request("Invalid dry run value: " + std::string(*dry) +
                                                                ": valid values are \"All\"")));
    co_return;
  }
  std::string key = object_key(r, info.namespace_, info.name);
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto loaded = co_await blocking([&] { return load(r, key, info.name); });
    if (auto* bad = std::get_if<Status>(&loaded)) {
      KL_REPLY(out, status_response(*bad));
      co_return;
    }
    const int64_t rev = std::get<Loaded>(loaded).rev;
    json::object* old = &std::get<Loaded>(loaded).obj;
    json::object obj;
    if (is_patch) {
      auto patched = apply_patch(r, req, *old);
      if (auto* bad = std::get_if<Status>(&patched)) {
        KL_REPLY(out, status_response(*bad));
        co_return;
      }
      obj = std::move(std::get<json::object>(patched));
    } else {
      obj = put_body->as_object();
    }
    if (auto bad = check_body(r, info, obj)) {
      KL_REPLY(out, status_response(*bad));
      co_return;
    }
    warnings.clear();
    if (auto bad = check_fields(r, mode, duplicates, obj, !is_patch, warnings)) {
      KL_REPLY(out, status_response(*bad));
      co_return;
    }
    api::MutableMeta meta(obj);
    api::Meta old_meta(*old);
    // A resourceVersion in the object is a precondition; without one the update is
    // unconditional (retried on conflict), as Kubernetes allows for built-in types.
    std::string_view want_rv = meta.resource_version();
    const bool conditional = !want_rv.empty();
    if (conditional && want_rv != old_meta.resource_version()) {
      KL_REPLY(out, status_response(Status::conflict_modified(group_resource(r), info.name)));
      co_return;
    }
    // System fields are the server's: uid and creationTimestamp stay, deletion state stays.
    if (meta.uid().empty()) meta.set_uid(old_meta.uid());
    if (meta.uid() != old_meta.uid()) {
      std::vector<api::StatusCause> causes;
      causes.push_back({"FieldValueInvalid", "field is immutable", "metadata.uid"});
      KL_REPLY(out, status_response(Status::invalid(r.group, r.kind, info.name, std::move(causes))));
      co_return;
    }
    meta.set_creation_timestamp(old_meta.creation_timestamp());
    if (old_meta.being_deleted()) {
      meta.set_deletion_timestamp(old_meta.deletion_timestamp());
      if (auto g = old_meta.deletion_grace_period_seconds()) meta.set_deletion_grace_period_seconds(*g);
    } else {
      meta.raw().erase("deletionTimestamp");
      meta.raw().erase("deletionGracePeriodSeconds");
    }
    meta.set_resource_version(old_meta.resource_version());
    apply_defaults(r, obj);
    prepare_for_update(r, obj, *old, info.subresource);
    if (auto causes = validate_update(r, obj, *old, info.subresource); !causes.empty()) {
      KL_REPLY(out, status_response(Status::invalid(r.group, r.kind, info.name, std::move(causes))));
      co_return;
    }
    if (obj == *old) {  // nothing changed: no write, same resourceVersion, as upstream
      KL_REPLY(out, with_warnings(json_response(200, obj), warnings));
      co_return;
    }
    if (dry) {
      KL_REPLY(out, with_warnings(json_response(200, obj), warnings));
      co_return;
    }
    // Removing the last finalizer of an object being deleted completes its deletion.
    bool finish_delete = old_meta.being_deleted() && ready_to_remove(r, obj);
    const bool allocates = is_services(r) && info.subresource.empty() && !finish_delete;
    if (allocates) {
      AllocationResult alloc = allocator_->update(obj, *old);
      if (!alloc.ok()) {
        KL_REPLY(out, status_response(alloc.to_status(info.name)));
        co_return;
      }
    }
    // No co_await inside ?: — GCC 12 destroys the unchosen branch's result as well.
    Result<store::TxnResult> res = Error("not run");
    if (finish_delete) {
      res = co_await blocking([&] { return store_.remove(key, rev); });
    } else {
      store::WriteRequest request = object_write(store::WriteRequest::Kind::kUpdate, key, r, obj, rev);
      res = co_await write(std::move(request));
    }
    if (allocates) {
      if (res.ok() && res->succeeded) {
        allocator_->commit_update(obj, *old);
      } else {
        allocator_->rollback_update(obj, *old);
      }
    }
    if (finish_delete && is_services(r) && res.ok() && res->succeeded) allocator_->release(*old);
    if (!res.ok()) {
      KL_REPLY(out, status_response(Status::from_error(res.error())));
      co_return;
    }
    if (!res->succeeded) {
      if (conditional) {
        KL_REPLY(out, status_response(Status::conflict_modified(group_resource(r), info.name)));
        co_return;
      }
      continue;  // unconditional: read the new state and apply again
    }
    api::MutableMeta(obj).set_resource_version(std::to_string(res->revision));
    KL_REPLY(out, with_warnings(json_response(200, obj), warnings));
    co_return;
  }
  KL_REPLY(out, status_response(Status::conflict_modified(group_resource(r), info.name)));
}

std::variant<json::object, Status> ApiServer::Impl::apply_patch(const ResourceInfo& r, const Request& req,
                                                                const json::object& current) {
  std::string_view ct = media_type(req);
  auto patch = json::parse(req.msg.body());
  if (!patch.ok()) return Status::bad_request(patch.error().message());
  Result<json::value> out = Error("unsupported patch type");
  const json::value original(current);
  if (ct == "application/merge-patch+json") {
    out = api::apply_merge_patch(original, *patch);
  } else if (ct == "application/json-patch+json") {
    out = api::apply_json_patch(original, *patch);
  } else if (ct == "application/strategic-merge-patch+json") {
    out = api::apply_strategic_merge_patch(original, *patch, r.api_version(), r.kind);
  } else {
    return Status::unsupported_media_type(ct);
  }
  if (!out.ok()) return api::patch_error_status(out.error());
  if (!out->is_object()) return Status::bad_request("the patch did not produce an object");
  return std::move(out->as_object());
}

bool ApiServer::Impl::ready_to_remove(const ResourceInfo& r, const json::object& obj) {
  api::Meta meta(obj);
  if (!meta.finalizers().empty()) return false;
  if (meta.deletion_grace_period_seconds().value_or(0) > 0) return false;  // the agent's to finish
  if (is_namespaces(r)) {
    const json::array* fin = json::get_array(api::object_or_empty(obj, "spec"), "finalizers");
    if (fin != nullptr && !fin->empty()) return false;
  }
  return true;
}

std::variant<ApiServer::Impl::Deleted, Status> ApiServer::Impl::delete_object(const ResourceInfo& r,
                                                                            const std::string& key,
                                                                            std::string_view name,
                                                                            const DeleteOptions& options) {
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto loaded = load(r, key, name);
    if (auto* bad = std::get_if<Status>(&loaded)) return *bad;
    const int64_t rev = std::get<Loaded>(loaded).rev;
    json::object& obj = std::get<Loaded>(loaded).obj;
    api::MutableMeta meta(obj);
    if (options.precondition_uid && *options.precondition_uid != meta.uid()) {
      return Status::conflict(group_resource(r), name,
                              "Precondition failed: UID in precondition: " + *options.precondition_uid +
                                  ", UID in object meta: " + std::string(meta.uid()));
    }
    if (options.precondition_resource_version && *options.precondition_resource_version != meta.resource_version()) {
      return Status::conflict(group_resource(r), name,
                              "Precondition failed: ResourceVersion in precondition: " +
                                  *options.precondition_resource_version +
                                  ", ResourceVersion in object meta: " + std::string(meta.resource_version()));
    }

    // A pod on a node gets its grace period: the agent stops it, then deletes it for good.
    int64_t grace = 0;
    if (r.group.empty() && r.resource == "pods") {
      const std::string node(json::get_string(api::object_or_empty(obj, "spec"), "nodeName"));
      bool node_exists = false;
      if (!node.empty()) {
        auto kv = store_.get(object_key(*find_resource("", "v1", "nodes"), "", node));
        if (!kv.ok()) return Status::from_error(kv.error());
        node_exists = kv->has_value();
      }
      grace = pod_grace_period(obj, options.grace_period_seconds, node_exists);
    }

    // The propagation policy is carried by a finalizer the garbage collector acts on.
    bool changed = false;
    switch (effective_propagation(r, obj, options.propagation)) {
      case Propagation::kOrphan:
        changed |= meta.remove_finalizer(kForegroundFinalizer);
        if (!meta.has_finalizer(kOrphanFinalizer)) {
          meta.add_finalizer(kOrphanFinalizer);
          changed = true;
        }
        break;
      case Propagation::kForeground:
        changed |= meta.remove_finalizer(kOrphanFinalizer);
        if (!meta.has_finalizer(kForegroundFinalizer)) {
          meta.add_finalizer(kForegroundFinalizer);
          changed = true;
        }
        break;
      case Propagation::kBackground:
      case Propagation::kUnset:
        changed |= meta.remove_finalizer(kOrphanFinalizer);
        changed |= meta.remove_finalizer(kForegroundFinalizer);
        break;
    }

    if (!meta.being_deleted() || grace < meta.deletion_grace_period_seconds().value_or(0)) {
      // First deletion, or a shorter grace period than the running one (kubectl
      // --grace-period=N, --force): the deadline moves closer, never further.
      meta.set_deletion_timestamp(api::format_rfc3339(std::chrono::system_clock::now() + std::chrono::seconds(grace)));
      meta.set_deletion_grace_period_seconds(grace);
      if (is_namespaces(r)) json::ensure_object(obj, "status")["phase"] = "Terminating";
      changed = true;
    }

    if (ready_to_remove(r, obj)) {
      if (options.dry_run) return Deleted{std::move(obj), true};
      auto res = store_.remove(key, rev);
      if (!res.ok()) return Status::from_error(res.error());
      if (!res->succeeded) continue;  // changed under us: read again
      if (is_services(r)) allocator_->release(obj);
      return Deleted{std::move(obj), true};
    }
    if (options.dry_run || !changed) return Deleted{std::move(obj), false};
    auto res = store_.update(key, to_stored(obj), rev);
    if (!res.ok()) return Status::from_error(res.error());
    if (!res->succeeded) continue;
    api::MutableMeta(obj).set_resource_version(std::to_string(res->revision));
    return Deleted{std::move(obj), false};
  }
  return Status::conflict_modified(group_resource(r), name);
}

Result<bool> ApiServer::Impl::delete_object(const ResourceInfo& r, const std::string& key, std::string_view uid,
                                            Propagation policy) {
  auto parts = parse_key(key);
  if (!parts) return Error(ErrorCode::kInvalidArgument, "delete " + key + ": not an object key");
  DeleteOptions options;
  options.propagation = policy;
  if (!uid.empty()) options.precondition_uid = std::string(uid);
  auto result = delete_object(r, key, parts->name, options);
  if (auto* bad = std::get_if<Status>(&result)) {
    // Gone, or replaced by a new incarnation under the same name: the one meant is gone.
    if (bad->code() == 404 || (bad->code() == 409 && bad->message().find("Precondition failed: UID") != std::string::npos)) {
      return true;
    }
    return Error("delete " + key + ": " + bad->message());
  }
  return std::get<Deleted>(result).removed;
}

Result<void> ApiServer::Impl::mutate(const ResourceInfo& r, const std::string& key, std::string_view uid,
                                     const std::function<bool(json::object&)>& change) {
  auto parts = parse_key(key);
  if (!parts) return Error(ErrorCode::kInvalidArgument, "update " + key + ": not an object key");
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto loaded = load(r, key, parts->name);
    if (auto* bad = std::get_if<Status>(&loaded)) {
      if (bad->code() == 404) return Ok();
      return Error("update " + key + ": " + bad->message());
    }
    const int64_t rev = std::get<Loaded>(loaded).rev;
    json::object& obj = std::get<Loaded>(loaded).obj;
    if (!uid.empty() && api::Meta(obj).uid() != uid) return Ok();
    if (!change(obj)) return Ok();
    Result<store::TxnResult> res = Error("not run");
    const bool remove = api::Meta(obj).being_deleted() && ready_to_remove(r, obj);
    if (remove) {
      res = store_.remove(key, rev);
    } else {
      res = store_.update(key, to_stored(obj), rev);
    }
    if (!res.ok()) return std::move(res).error().context("update " + key);
    if (!res->succeeded) continue;
    if (remove && is_services(r)) allocator_->release(obj);
    return Ok();
  }
  return Error(ErrorCode::kConflict, "update " + key + ": kept changing");
}

// The options of a DELETE: its DeleteOptions body, if any, and the query.
static std::variant<DeleteOptions, Status> delete_options(const RequestInfo& info, const Request& req) {
  std::optional<json::value> body;
  if (!req.msg.body().empty()) {
    auto parsed = parse_body(req);
    if (auto* bad = std::get_if<Status>(&parsed)) return *bad;
    body = std::move(std::get<json::value>(parsed));
  }
  return parse_delete_options(info, body ? &*body : nullptr);
}

asio::awaitable<void> ApiServer::Impl::remove(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                              Responder& out) {
  auto options = delete_options(info, req);
  if (auto* bad = std::get_if<Status>(&options)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  const DeleteOptions& opts = std::get<DeleteOptions>(options);
  const std::string key = object_key(r, info.namespace_, info.name);
  auto result = co_await blocking([&] { return delete_object(r, key, info.name, opts); });
  if (auto* bad = std::get_if<Status>(&result)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  Response res = json_response(200, std::get<Deleted>(result).obj);
  if (auto w = delete_warning(r, opts.propagation)) res.headers.emplace_back("Warning", "299 - " + json::dump(json::value(*w)));
  KL_REPLY(out, std::move(res));
}

asio::awaitable<void> ApiServer::Impl::remove_collection(const ResourceInfo& r, const RequestInfo& info,
                                                         const Request& req, Responder& out) {
  auto sel = selectors(r, info);
  if (!sel.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(sel.error().message())));
    co_return;
  }
  auto options = delete_options(info, req);
  if (auto* bad = std::get_if<Status>(&options)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  const DeleteOptions& opts = std::get<DeleteOptions>(options);
  // Every object matching the selectors as of one revision, deleted one by one with the
  // same rules as a single delete (finalizers, allocations); the answer lists them.
  auto deleted = co_await blocking([&]() -> std::variant<json::array, Status> {
    json::array items;
    store::ListOptions page;
    const std::string prefix = key_prefix(r, info.namespace_);
    std::vector<std::pair<std::string, std::string>> targets;  // key, name
    for (;;) {
      auto l = store_.list(prefix, page);
      if (!l.ok()) return Status::from_error(l.error());
      for (const auto& kv : l->kvs) {
        auto obj = from_kv(kv);
        if (!obj.ok() || !sel->labels.matches(api::Meta(*obj).labels()) || !sel->fields.matches(r.resource, *obj)) {
          continue;
        }
        targets.emplace_back(kv.key, std::string(api::Meta(*obj).name()));
      }
      if (!l->more) break;
      page.revision = l->revision;
      page.continue_key = l->continue_key;
    }
    for (const auto& [key, name] : targets) {
      auto one = delete_object(r, key, name, opts);
      if (auto* bad = std::get_if<Status>(&one)) {
        if (bad->code() == 404) continue;  // deleted meanwhile: that is what was asked
        return *bad;
      }
      items.emplace_back(std::move(std::get<Deleted>(one).obj));
    }
    return items;
  });
  if (auto* bad = std::get_if<Status>(&deleted)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  json::object body{{"kind", r.kind + "List"},
                    {"apiVersion", r.api_version()},
                    {"metadata", json::object{{"resourceVersion", std::to_string(store_.current_revision())}}},
                    {"items", std::move(std::get<json::array>(deleted))}};
  Response res = json_response(200, body);
  if (auto w = delete_warning(r, opts.propagation)) res.headers.emplace_back("Warning", "299 - " + json::dump(json::value(*w)));
  KL_REPLY(out, std::move(res));
}

asio::awaitable<void> ApiServer::Impl::scale(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                             Responder& out) {
  const std::string key = object_key(r, info.namespace_, info.name);
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto loaded = co_await blocking([&] { return load(r, key, info.name); });
    if (auto* bad = std::get_if<Status>(&loaded)) {
      KL_REPLY(out, status_response(*bad));
      co_return;
    }
    const int64_t rev = std::get<Loaded>(loaded).rev;
    json::object* old = &std::get<Loaded>(loaded).obj;
    json::object current = to_scale(*old);
    if (info.verb == "get") {
      KL_REPLY(out, json_response(200, current));
      co_return;
    }
    json::object wanted;
    if (info.verb == "patch") {
      // Scale has no lists, so a strategic merge patch is a merge patch here.
      auto patch = json::parse(req.msg.body());
      if (!patch.ok()) {
        KL_REPLY(out, status_response(Status::bad_request(patch.error().message())));
        co_return;
      }
      std::string_view ct = media_type(req);
      Result<json::value> patched = ct == "application/json-patch+json"
                                        ? api::apply_json_patch(json::value(current), *patch)
                                        : api::apply_merge_patch(json::value(current), *patch);
      if (!patched.ok() || !patched->is_object()) {
        KL_REPLY(out, status_response(patched.ok() ? Status::bad_request("the patch did not produce an object")
                                                   : api::patch_error_status(patched.error())));
        co_return;
      }
      wanted = std::move(patched->as_object());
    } else {
      auto body = parse_body(req);
      if (auto* bad = std::get_if<Status>(&body)) {
        KL_REPLY(out, status_response(*bad));
        co_return;
      }
      json::value& doc = std::get<json::value>(body);
      if (!doc.is_object()) {
        KL_REPLY(out, status_response(Status::bad_request("a Scale must be a JSON object")));
        co_return;
      }
      wanted = std::move(doc.as_object());
    }
    std::string_view want_rv = api::Meta(wanted).resource_version();
    const bool conditional = !want_rv.empty() && info.verb != "patch";
    if (!want_rv.empty() && want_rv != api::Meta(*old).resource_version()) {
      KL_REPLY(out, status_response(Status::conflict_modified(group_resource(r), info.name)));
      co_return;
    }
    auto replicas = json::get_int(api::object_or_empty(wanted, "spec"), "replicas");
    if (!replicas || *replicas < 0) {
      std::vector<api::StatusCause> causes;
      causes.push_back({"FieldValueInvalid",
                        replicas ? "Invalid value: " + std::to_string(*replicas) + ": must be greater than or equal to 0"
                                 : "Required value",
                        "spec.replicas"});
      KL_REPLY(out, status_response(Status::invalid("autoscaling", "Scale", info.name, std::move(causes))));
      co_return;
    }
    json::object updated = *old;
    json::ensure_object(updated, "spec")["replicas"] = *replicas;
    prepare_for_update(r, updated, *old, "");
    if (updated == *old) {
      KL_REPLY(out, json_response(200, current));
      co_return;
    }
    store::WriteRequest request = object_write(store::WriteRequest::Kind::kUpdate, key, r, updated, rev);
    auto res = co_await write(std::move(request));
    if (!res.ok()) {
      KL_REPLY(out, status_response(Status::from_error(res.error())));
      co_return;
    }
    if (!res->succeeded) {
      if (conditional) {
        KL_REPLY(out, status_response(Status::conflict_modified(group_resource(r), info.name)));
        co_return;
      }
      continue;
    }
    api::MutableMeta(updated).set_resource_version(std::to_string(res->revision));
    KL_REPLY(out, json_response(200, to_scale(updated)));
    co_return;
  }
  KL_REPLY(out, status_response(Status::conflict_modified(group_resource(r), info.name)));
}

asio::awaitable<std::optional<ApiServer::Impl::PodStream>> ApiServer::Impl::pod_stream(const ResourceInfo& r,
                                                                                       const RequestInfo& info,
                                                                                       Responder& out) {
  const std::string what = "pods/" + info.subresource;
  if (!node_proxy_) {
    KL_REPLY(out, status_response(Status::service_unavailable(what + ": the API server has no kubelet client")));
    co_return std::nullopt;
  }
  const std::string key = object_key(r, info.namespace_, info.name);
  auto pod = co_await blocking([&] { return load(r, key, info.name); });
  if (auto* bad = std::get_if<Status>(&pod)) {
    KL_REPLY(out, status_response(*bad));
    co_return std::nullopt;
  }
  const json::object& obj = std::get<Loaded>(pod).obj;
  auto container = pod_log_container(obj, info);
  if (auto* bad = std::get_if<Status>(&container)) {
    KL_REPLY(out, status_response(*bad));
    co_return std::nullopt;
  }
  auto insecure = info.bool_param("insecureSkipTLSVerifyBackend");
  if (!insecure.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(insecure.error().message())));
    co_return std::nullopt;
  }
  const ResourceInfo* nodes = find_resource("", "v1", "nodes");
  const std::string node_name(json::get_string(*json::get_object(obj, "spec"), "nodeName"));
  auto node = co_await blocking([&] { return load(*nodes, object_key(*nodes, "", node_name), node_name); });
  if (auto* bad = std::get_if<Status>(&node)) {
    KL_REPLY(out, status_response(*bad));
    co_return std::nullopt;
  }
  auto endpoint = kubelet_endpoint(std::get<Loaded>(node).obj);
  if (auto* bad = std::get_if<Status>(&endpoint)) {
    KL_REPLY(out, status_response(*bad));
    co_return std::nullopt;
  }
  PodStream ps{std::get<std::string>(container), std::get<NodeTarget>(endpoint)};
  ps.kubelet.insecure_skip_verify = *insecure;
  co_return ps;
}

asio::awaitable<void> ApiServer::Impl::pod_log(const ResourceInfo& r, const RequestInfo& info, Responder& out) {
  if (info.verb != "get") {
    KL_REPLY(out, status_response(Status::method_not_supported({"", "pods/log"}, info.verb)));
    co_return;
  }
  // Checked before the pod is looked up, as before: a bad option is a 400 whatever the pod.
  if (auto target = kubelet_log_target(info.namespace_, info.name, "-", info); std::get_if<Status>(&target)) {
    KL_REPLY(out, status_response(std::get<Status>(target)));
    co_return;
  }
  std::optional<PodStream> ps = co_await pod_stream(r, info, out);
  if (!ps) co_return;
  auto target = kubelet_log_target(info.namespace_, info.name, ps->container, info);
  co_await node_proxy_->get(ps->kubelet, std::get<std::string>(target), out);
}

asio::awaitable<void> ApiServer::Impl::pod_exec(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                                Responder& out) {
  const bool attach = info.subresource == "attach";
  const std::string what = attach ? "pods/attach" : "pods/exec";
  auto kubelet_target = [&](std::string_view container) {
    return attach ? kubelet_attach_target(info.namespace_, info.name, container, info)
                  : kubelet_exec_target(info.namespace_, info.name, container, info);
  };
  if (info.verb != "get" && info.verb != "create") {
    KL_REPLY(out, status_response(Status::method_not_supported({"", what}, info.verb)));
    co_return;
  }
  if (auto target = kubelet_target("-"); std::get_if<Status>(&target)) {
    KL_REPLY(out, status_response(std::get<Status>(target)));
    co_return;
  }
  // The pod and container first: kubectl retries a failed WebSocket with SPDY, and the
  // error it shows is the one of that second request.
  std::optional<PodStream> ps = co_await pod_stream(r, info, out);
  if (!ps) co_return;
  // The upgraded protocol — WebSocket (kubectl 1.30+) or SPDY/3.1 (kubectl before 1.30) —
  // runs end to end between the client and the kubelet; this only splices the bytes.
  const std::string upgrade(req.msg[http::field::upgrade]);
  if (upgrade.empty() || (!boost::beast::iequals(upgrade, "websocket") && !boost::beast::iequals(upgrade, "SPDY/3.1"))) {
    const std::string msg = upgrade.empty()
                                ? "Upgrade request required"
                                : what + ": upgrade to \"" + upgrade +
                                      "\" is not supported: kernlet streams " + info.subresource +
                                      " over WebSocket (v5.channel.k8s.io, v4.channel.k8s.io) and SPDY/3.1 "
                                      "(v4.channel.k8s.io)";
    KL_REPLY(out, status_response(Status::bad_request(msg)));
    co_return;
  }
  auto target = kubelet_target(ps->container);
  co_await node_proxy_->upgrade(ps->kubelet, std::get<std::string>(target), req, out);
}

asio::awaitable<void> ApiServer::Impl::pod_port_forward(const ResourceInfo& r, const RequestInfo& info,
                                                        const Request& req, Responder& out) {
  if (info.verb != "get" && info.verb != "create") {
    KL_REPLY(out, status_response(Status::method_not_supported({"", "pods/portforward"}, info.verb)));
    co_return;
  }
  auto target = kubelet_port_forward_target(info.namespace_, info.name, info);
  if (auto* bad = std::get_if<Status>(&target)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  if (!node_proxy_) {
    KL_REPLY(out, status_response(Status::service_unavailable("pods/portforward: the API server has no kubelet client")));
    co_return;
  }
  const std::string key = object_key(r, info.namespace_, info.name);
  auto pod = co_await blocking([&] { return load(r, key, info.name); });
  if (auto* bad = std::get_if<Status>(&pod)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  if (auto bad = port_forward_refusal(std::get<Loaded>(pod).obj)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  const std::string upgrade(req.msg[http::field::upgrade]);
  if (upgrade.empty() || (!boost::beast::iequals(upgrade, "websocket") && !boost::beast::iequals(upgrade, "SPDY/3.1"))) {
    const std::string msg = upgrade.empty()
                                ? "Upgrade request required"
                                : "pods/portforward: upgrade to \"" + upgrade +
                                      "\" is not supported: kernlet forwards ports over SPDY/3.1 "
                                      "(portforward.k8s.io) and WebSocket (SPDY/3.1+portforward.k8s.io)";
    KL_REPLY(out, status_response(Status::bad_request(msg)));
    co_return;
  }
  const json::object& obj = std::get<Loaded>(pod).obj;
  const ResourceInfo* nodes = find_resource("", "v1", "nodes");
  const std::string node_name(json::get_string(*json::get_object(obj, "spec"), "nodeName"));
  auto node = co_await blocking([&] { return load(*nodes, object_key(*nodes, "", node_name), node_name); });
  if (auto* bad = std::get_if<Status>(&node)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  auto endpoint = kubelet_endpoint(std::get<Loaded>(node).obj);
  if (auto* bad = std::get_if<Status>(&endpoint)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  NodeTarget kubelet = std::get<NodeTarget>(endpoint);
  co_await node_proxy_->upgrade(kubelet, std::get<std::string>(target), req, out);
}

asio::awaitable<void> ApiServer::Impl::bind(const ResourceInfo& r, const RequestInfo& info, const Request& req,
                                            Responder& out) {
  if (info.verb != "create") {
    KL_REPLY(out, status_response(Status::method_not_supported({"", "pods/binding"}, info.verb)));
    co_return;
  }
  auto body = parse_body(req);
  if (auto* bad = std::get_if<Status>(&body)) {
    KL_REPLY(out, status_response(*bad));
    co_return;
  }
  const json::value& doc = std::get<json::value>(body);
  const json::object* target = doc.is_object() ? json::get_object(doc.get_object(), "target") : nullptr;
  const std::string node = target != nullptr ? std::string(json::get_string(*target, "name")) : std::string();
  if (node.empty()) {
    std::vector<api::StatusCause> causes;
    causes.push_back({"FieldValueRequired", "Required value", "target.name"});
    KL_REPLY(out, status_response(Status::invalid("", "Binding", info.name, std::move(causes))));
    co_return;
  }
  // The binding's own metadata.uid and resourceVersion are preconditions on the pod, as
  // upstream's binding registry has them: a scheduler that decided for a pod since deleted
  // and re-created under the same name must not bind the new one.
  const json::object* binding_meta = doc.is_object() ? json::get_object(doc.get_object(), "metadata") : nullptr;
  const std::string want_uid = binding_meta ? std::string(json::get_string(*binding_meta, "uid")) : std::string();
  const std::string want_rv =
      binding_meta ? std::string(json::get_string(*binding_meta, "resourceVersion")) : std::string();
  const std::string key = object_key(r, info.namespace_, info.name);
  // The pod comes from the watch cache first: the write below is conditional on the
  // revision read, so a stale copy costs one retry from the store, never a wrong binding.
  // Only the success path trusts the cache; a refusal (being deleted, already bound) is
  // decided on the store's copy, as is "not found". The write goes through write(): no
  // thread waits through the group commit, and the watch cache gets the pod's summary
  // instead of decoding the stored bytes again.
  bool try_cache = cache_ != nullptr;
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    std::optional<Loaded> loaded;
    const bool from_cache = try_cache;
    try_cache = false;
    if (from_cache) {
      if (ObjectPtr o = cache_->get(key)) {
        if (auto decoded = json::parse_object(o->value, key); decoded.ok()) {
          loaded = Loaded{std::move(*decoded), o->mod_revision};
        }
      }
    }
    if (!loaded) {
      auto read = co_await blocking([&] { return load(r, key, info.name); });
      if (auto* bad = std::get_if<Status>(&read)) {
        KL_REPLY(out, status_response(*bad));
        co_return;
      }
      loaded = std::move(std::get<Loaded>(read));
    }
    json::object* pod = &loaded->obj;
    std::optional<Status> refused;
    api::Meta meta(*pod);
    if (!want_uid.empty() && meta.uid() != want_uid) {
      refused = Status::conflict(group_resource(r), info.name,
                                 "Precondition failed: UID in precondition: " + want_uid +
                                     ", UID in object meta: " + std::string(meta.uid()));
    } else if (!want_rv.empty() && want_rv != std::to_string(loaded->rev)) {
      refused = Status::conflict_modified(group_resource(r), info.name);
    } else if (meta.being_deleted()) {
      refused = Status::conflict(group_resource(r), info.name, "pod is being deleted, cannot be assigned to a host");
    } else if (std::string_view current = json::get_string(json::ensure_object(*pod, "spec"), "nodeName");
               !current.empty()) {
      refused = Status::conflict(group_resource(r), info.name,
                                 "pod " + info.name + " is already assigned to node \"" + std::string(current) + "\"");
    }
    if (refused) {
      if (from_cache) continue;  // confirm on the store's copy
      KL_REPLY(out, status_response(*refused));
      co_return;
    }
    json::ensure_object(*pod, "spec")["nodeName"] = node;
    // The PodScheduled condition, as the binding registry sets it.
    json::array& conditions = json::ensure_array(json::ensure_object(*pod, "status"), "conditions");
    bool found = false;
    for (auto& c : conditions) {
      if (c.is_object() && json::get_string(c.get_object(), "type") == "PodScheduled") {
        c.get_object()["status"] = "True";
        c.get_object()["lastTransitionTime"] = api::now_rfc3339();
        c.get_object().erase("reason");
        c.get_object().erase("message");
        found = true;
      }
    }
    if (!found) {
      conditions.push_back(json::object{{"type", "PodScheduled"},
                                        {"status", "True"},
                                        {"lastProbeTime", nullptr},
                                        {"lastTransitionTime", api::now_rfc3339()}});
    }
    store::WriteRequest request = object_write(store::WriteRequest::Kind::kUpdate, key, r, *pod, loaded->rev);
    Result<store::TxnResult> res = co_await write(std::move(request));
    if (!res.ok()) {
      KL_REPLY(out, status_response(Status::from_error(res.error())));
      co_return;
    }
    if (!res->succeeded) continue;  // changed or deleted since read: read the store again
    KL_REPLY(out, json_response(201, json::object{{"kind", "Status"},
                                                  {"apiVersion", "v1"},
                                                  {"metadata", json::object{}},
                                                  {"status", "Success"},
                                                  {"code", 201}}));
    co_return;
  }
  KL_REPLY(out, status_response(Status::conflict_modified(group_resource(r), info.name)));
}

asio::awaitable<void> ApiServer::Impl::resource_metrics(const ResourceInfo& r, const RequestInfo& info,
                                                       const Request& req, Responder& out) {
  if (!metrics_) {
    KL_REPLY(out, status_response(Status::service_unavailable("the metrics collector is off (--metric-resolution=0)")));
    co_return;
  }
  const bool pods = r.resource == "pods";
  const ResourceInfo* source = find_resource("", "v1", pods ? "pods" : "nodes");
  auto sel = selectors(*source, info);
  if (!sel.ok()) {
    KL_REPLY(out, status_response(Status::bad_request(sel.error().message())));
    co_return;
  }
  // The Pods / Nodes asked for, from the store.
  const std::string ns = pods ? info.namespace_ : std::string();
  auto objects = co_await blocking([&]() -> Result<std::vector<json::object>> {
    std::vector<json::object> found;
    if (!info.name.empty()) {
      KL_ASSIGN_OR_RETURN(auto kv, store_.get(object_key(*source, ns, info.name)));
      if (kv) {
        KL_ASSIGN_OR_RETURN(json::object obj, from_kv(*kv));
        found.push_back(std::move(obj));
      }
      return found;
    }
    store::ListOptions page;
    page.limit = 500;
    for (;;) {
      KL_ASSIGN_OR_RETURN(store::ListResult l, store_.list(key_prefix(*source, ns), page));
      for (const auto& kv : l.kvs) {
        KL_ASSIGN_OR_RETURN(json::object obj, from_kv(kv));
        found.push_back(std::move(obj));
      }
      if (!l.more) break;
      page.revision = l.revision;
      page.continue_key = l.continue_key;
    }
    return found;
  });
  if (!objects.ok()) {
    KL_REPLY(out, status_response(Status::from_error(objects.error())));
    co_return;
  }
  json::array items;
  for (const json::object& obj : *objects) {
    api::Meta m(obj);
    if (!sel->labels.matches(m.labels())) continue;
    if (pods) {
      if (auto u = metrics_->pod(m.namespace_(), m.name(), m.uid()))
        items.push_back(metrics::pod_metrics_json(*u, obj, metrics_->resolution()));
    } else if (auto u = metrics_->node(m.name())) {
      items.push_back(metrics::node_metrics_json(*u, obj, metrics_->resolution()));
    }
  }
  if (!info.name.empty() && items.empty()) {
    KL_REPLY(out, status_response(Status::not_found(group_resource(r), info.name)));
    co_return;
  }
  if (wants_table(req)) {
    std::vector<const json::object*> rows;
    for (const json::value& v : items) rows.push_back(&v.as_object());
    TableOptions topts;
    KL_REPLY(out, json_response(200, make_table(r, rows, topts)));
    co_return;
  }
  if (!info.name.empty()) {
    KL_REPLY(out, json_response(200, items.front().as_object()));
    co_return;
  }
  KL_REPLY(out, json_response(200, metrics::metrics_list_json(pods ? "PodMetricsList" : "NodeMetricsList",
                                                              std::move(items))));
}

}  // namespace kernlet::apiserver
