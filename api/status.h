// Kubernetes `Status` errors (meta.k8s.io/v1 Status): what every failed API request
// returns, with the reasons, codes and message texts clients (kubectl, client-go,
// the Python client) branch on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::api {

// One entry of details.causes: a field-level reason, e.g.
// {reason: "FieldValueRequired", message: "Required value", field: "spec.containers"}.
struct StatusCause {
  std::string reason;
  std::string message;
  std::string field;
};

// A resource named the way Status messages name it: "pods", or "deployments.apps".
struct GroupResource {
  std::string group;
  std::string resource;
  std::string qualified() const { return group.empty() ? resource : resource + "." + group; }
};

class Status {
 public:
  Status(int code, std::string reason, std::string message)
      : code_(code), reason_(std::move(reason)), message_(std::move(message)) {}

  int code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const std::vector<StatusCause>& causes() const { return causes_; }

  Status& with_details(std::string name, std::string group, std::string kind);
  Status& with_cause(StatusCause cause);
  Status& with_retry_after(int seconds);

  // The wire form: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",...}.
  json::object to_json() const;
  std::string to_json_string() const;

  // --- the errors Kubernetes' apiserver returns, with its message texts ---
  static Status bad_request(std::string message);                                   // 400
  static Status unauthorized(std::string message);                                  // 401
  static Status forbidden(const GroupResource& gr, std::string_view name, std::string_view why);  // 403
  static Status not_found(const GroupResource& gr, std::string_view name);          // 404
  static Status already_exists(const GroupResource& gr, std::string_view name);     // 409
  // 409 for an update with a stale resourceVersion (or another precondition).
  static Status conflict(const GroupResource& gr, std::string_view name, std::string_view why);
  static Status conflict_modified(const GroupResource& gr, std::string_view name);
  static Status gone(std::string message);                                          // 410 Expired
  static Status resource_expired(int64_t requested, int64_t oldest);                // 410 Expired
  static Status request_entity_too_large(int64_t limit_bytes);                      // 413
  static Status unsupported_media_type(std::string_view content_type);              // 415
  static Status not_acceptable(std::string_view accept);                            // 406
  static Status method_not_supported(const GroupResource& gr, std::string_view verb);  // 405
  // 422: `Pod "x" is invalid: [f1: msg1, f2: msg2]` (`Deployment.apps "x" ...` in a group).
  static Status invalid(std::string_view group, std::string_view kind, std::string_view name,
                        std::vector<StatusCause> causes);
  static Status internal_error(std::string_view detail);                            // 500
  static Status service_unavailable(std::string message);                          // 503
  static Status timeout(std::string message, int retry_after_seconds);              // 504
  static Status too_many_requests(std::string message, int retry_after_seconds);    // 429

  // Maps a kernlet Error to the Status a client should see: kNotFound -> 404 and so on;
  // kUnknown and kInternal -> 500 (the message is kept: it names what failed).
  static Status from_error(const Error& e);

 private:
  int code_;
  std::string reason_;
  std::string message_;
  std::string details_name_;
  std::string details_group_;
  std::string details_kind_;
  std::vector<StatusCause> causes_;
  int retry_after_seconds_ = 0;
};

}  // namespace kernlet::api
