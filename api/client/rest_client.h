// RestClient: the Kubernetes REST API over HTTP/1.1 (HTTPS or plain), as the agent and
// the controllers use it. Objects are JSON documents (api/json.h), never copied into structs.
//
// Sync by design: every call blocks its thread, and a watch is read by the thread that
// asked for it. The agent (RSS budget 25 MB) runs a handful of watches; a blocked thread
// costs a few resident stack pages, while an Asio-async client would bring an executor
// thread, callback lifetimes and strands to code that is otherwise plain level-triggered
// loops. Inside, each connection owns a small io_context driven by the calling thread, so
// every operation still has a deadline and a watch can be cancelled from another thread.
//
// Thread-safety: a RestClient is safe to use from any number of threads at once; requests
// take a connection from a keep-alive pool (or open one) and return it when done. A
// WatchStream is read by one thread; cancel() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/client/config.h"
#include "api/json.h"
#include "api/result.h"

namespace kernlet::client {

// Addresses a resource, a collection or a subresource:
//   {"", "v1", "pods", "default", "web", "status"} -> /api/v1/namespaces/default/pods/web/status
//   {"apps", "v1", "deployments"}                  -> /apis/apps/v1/deployments (all namespaces)
struct ResourceRef {
  ResourceRef() = default;
  ResourceRef(std::string g, std::string v, std::string r, std::string ns = {}, std::string n = {},
              std::string sub = {})
      : group(std::move(g)), version(std::move(v)), resource(std::move(r)), namespace_(std::move(ns)),
        name(std::move(n)), subresource(std::move(sub)) {}

  std::string group;        // "" for the core group
  std::string version;      // "v1"
  std::string resource;     // plural lower-case: "pods"
  std::string namespace_;   // "" = cluster-scoped, or all namespaces for a collection
  std::string name;         // "" = the collection
  std::string subresource;  // "status", "binding", "scale", ...

  // The URL path (without the server's prefix). Names are percent-encoded.
  std::string path() const;
  // "pods default/web" for messages.
  std::string describe() const;
  // Copies with one part changed.
  ResourceRef in(std::string ns) const;
  ResourceRef named(std::string n) const;
  ResourceRef sub(std::string s) const;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;                  // 0 = no paging
  std::string continue_token;
  std::string resource_version;       // "" = most recent; "0" = any
  std::string resource_version_match; // "", "Exact", "NotOlderThan"
  int64_t timeout_seconds = 0;        // 0 = server default
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;       // events after it; "" or "0" = current state as ADDED first
  int64_t timeout_seconds = 0;        // the server ends the stream after this; 0 = server default
  bool allow_bookmarks = true;
};

enum class PropagationPolicy { kDefault, kOrphan, kBackground, kForeground };

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;
  PropagationPolicy propagation = PropagationPolicy::kDefault;
  std::string precondition_uid;               // "" = none
  std::string precondition_resource_version;  // "" = none

  // The meta.k8s.io/v1 DeleteOptions body; empty object when nothing is set.
  json::object to_json() const;
};

enum class PatchType { kMerge, kJson, kStrategicMerge };
// The Content-Type of a patch type ("application/merge-patch+json", ...).
std::string_view patch_content_type(PatchType t);

// One page of a list: items, the list's resourceVersion and the continue token.
struct ObjectList {
  std::string resource_version;
  std::string continue_token;  // "" = last page
  std::vector<json::object> items;
};

// Objects handed out by watches and informers: shared and immutable, so that one decoded
// object can sit in several caches (in-process watches share one per event).
using ObjectPtr = std::shared_ptr<const json::object>;

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark };
  Type type;
  ObjectPtr object;  // never null; with metadata.resourceVersion set to the event's
};
std::string_view to_string(WatchEvent::Type t);

// A stream of watch events. next() blocks until an event, the end of the stream or an error.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // The next event; nullopt when the server ended the stream cleanly (timeoutSeconds),
  // then resume from the last resourceVersion seen. An ERROR event becomes an Error with
  // the code of its Status (410 Expired/Gone: kCompacted, relist); a broken connection is
  // kUnavailable; after cancel(): kUnavailable "watch cancelled". Not thread-safe.
  virtual Result<std::optional<WatchEvent>> next() = 0;
  // Ends the stream; a blocked next() returns promptly. Thread-safe, idempotent.
  virtual void cancel() = 0;
};

// Decodes the JSON events of a watch body, fed as it arrives in arbitrary pieces
// (chunk boundaries need not match event boundaries). Pure; not thread-safe.
class WatchDecoder {
 public:
  WatchDecoder();
  ~WatchDecoder();
  WatchDecoder(const WatchDecoder&) = delete;
  WatchDecoder& operator=(const WatchDecoder&) = delete;

  // Consumes bytes; complete events are queued for pop(). Errors on malformed JSON or an
  // event of the wrong shape (the stream cannot be resynchronised after that).
  Result<void> feed(std::string_view bytes);
  // The oldest decoded event, ERROR events as Errors (see WatchStream::next); nullopt when
  // none is complete yet.
  std::optional<Result<WatchEvent>> pop();
  // True when a partial event is buffered.
  bool mid_event() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The Error for a failed response: the code from the HTTP status and the Status reason
// (404 kNotFound, 409 AlreadyExists kAlreadyExists / else kConflict, 410 kCompacted,
// 400/422 kInvalidArgument, 401 kUnauthenticated, 403 kPermissionDenied, 429/503
// kUnavailable, 504 kDeadlineExceeded, 413 kResourceExhausted, other 5xx kInternal) and
// the server's message (or the body's start when it is not a Status). Pure.
Error error_from_response(int http_status, std::string_view body);
// The same for a Status object (a watch ERROR event).
Error error_from_status(const json::object& status, int http_status_fallback = 500);

struct Response {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Carries a RestClient's requests, and optionally its watches, somewhere other than over
// HTTP: an API server in the same process calls its request handler directly and serves
// watches from its watch cache (control/apiserver/in_process_transport.h). Same contract
// as RestClient::request: non-2xx answers are Responses, failures to deliver are
// kUnavailable errors.
// Thread-safety: called from any number of threads at once.
// Where a request's answer is delivered when it is made without waiting for it.
using ResponseCallback = std::function<void(Result<Response>)>;

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<Response> round_trip(std::string_view method, const std::string& target, std::string_view body,
                                      std::string_view content_type) = 0;
  // Whether start_round_trip takes requests.
  virtual bool carries_async() const { return false; }
  // The same request without a thread waiting for it: true when the transport took it, and
  // `done` is then called exactly once with what round_trip would have returned, on one of
  // the transport's own threads (it must not block; it may start further requests). false:
  // this transport has no such calls, `done` is left untouched and the caller uses
  // round_trip on a thread of its own. A taken request is answered also when the transport
  // stops (kUnavailable).
  virtual bool start_round_trip(std::string_view method, const std::string& target, std::string body,
                                std::string_view content_type, ResponseCallback& done) {
    (void)method;
    (void)target;
    (void)body;
    (void)content_type;
    (void)done;
    return false;
  }
  // A watch of `target` (a collection's path with the watch query, as RestClient::watch
  // sends it over HTTP), with the same events, errors and end of stream as the HTTP
  // watch would have. kUnimplemented: not carried, RestClient then watches over HTTP.
  virtual Result<std::unique_ptr<WatchStream>> watch(const std::string& target) {
    (void)target;
    return Error(ErrorCode::kUnimplemented, "watches are not carried by this transport");
  }
};

class RestClient {
 public:
  // Checks the config (URL, PEMs, key matches certificate) and builds the TLS context.
  // No connection is made yet. Errors name what is wrong.
  static Result<std::shared_ptr<RestClient>> create(const ClientConfig& config);
  // The same, but requests go through `transport`, and watches too when it carries them
  // (else over HTTP to config.server). Errors: as create(), or a null transport.
  static Result<std::shared_ptr<RestClient>> create(const ClientConfig& config, std::shared_ptr<Transport> transport);
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  const ClientConfig& config() const;

  // GET one object. kNotFound when absent.
  Result<json::object> get(const ResourceRef& ref);
  // GET a collection (one page when opts.limit > 0).
  Result<ObjectList> list(const ResourceRef& ref, const ListOptions& opts = {});
  // POST to the collection (ref.name is ignored; the object's metadata names it).
  Result<json::object> create(const ResourceRef& ref, const json::object& obj);
  // PUT the object (with its resourceVersion: kConflict when stale). ref.name may be empty:
  // the object's metadata.name is used.
  Result<json::object> update(const ResourceRef& ref, const json::object& obj);
  // PUT the status subresource.
  Result<json::object> update_status(const ResourceRef& ref, const json::object& obj);
  // PATCH with the given patch document.
  Result<json::object> patch(const ResourceRef& ref, PatchType type, const json::value& patch);
  // DELETE; returns what the server answered (the object being deleted, or a Status).
  Result<json::object> remove(const ResourceRef& ref, const DeleteOptions& opts = {});
  // Starts a watch on a collection; the first event (or error) comes from next().
  Result<std::unique_ptr<WatchStream>> watch(const ResourceRef& ref, const WatchOptions& opts = {});

  // Any request: method, path (with query), optional JSON body and its content type.
  // Non-2xx answers are returned as a Response, not as errors; transport failures are
  // kUnavailable errors naming the request.
  Result<Response> request(std::string_view method, const std::string& target, std::string_view body = {},
                           std::string_view content_type = "application/json");

  // request() without waiting, when the transport can (Transport::start_round_trip): true
  // and `done` is called once with the answer (Response or error, as request() returns
  // them) on the transport's thread, where it must not block. false (HTTP): nothing was
  // sent and `done` was not called; use request() instead.
  bool request_async(std::string_view method, const std::string& target, std::string body, ResponseCallback done,
                     std::string_view content_type = "application/json");
  // Whether request_async can take requests (an in-process transport).
  bool can_request_async() const;

  // Connections opened so far, and idle ones in the pool (for tests and metrics).
  int64_t connections_opened() const;
  std::size_t idle_connections() const;

 private:
  struct Impl;
  explicit RestClient(std::unique_ptr<Impl> impl);
  Result<json::object> object_call(std::string_view method, const std::string& target, const json::value* body,
                                   std::string_view content_type, const std::string& what);
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query parameter value or a path segment.
std::string url_escape(std::string_view s);
// The query string (with leading '?', or "") for list options.
std::string list_query(const ListOptions& opts);

}  // namespace kernlet::client
