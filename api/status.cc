#include "api/status.h"

namespace kernlet::api {
namespace {

std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

}  // namespace

Status& Status::with_details(std::string name, std::string group, std::string kind) {
  details_name_ = std::move(name);
  details_group_ = std::move(group);
  details_kind_ = std::move(kind);
  return *this;
}

Status& Status::with_cause(StatusCause cause) {
  causes_.push_back(std::move(cause));
  return *this;
}

Status& Status::with_retry_after(int seconds) {
  retry_after_seconds_ = seconds;
  return *this;
}

json::object Status::to_json() const {
  json::object o;
  o["kind"] = "Status";
  o["apiVersion"] = "v1";
  o["metadata"] = json::object();
  o["status"] = "Failure";
  o["message"] = message_;
  o["reason"] = reason_;
  json::object details;
  if (!details_name_.empty()) details["name"] = details_name_;
  if (!details_group_.empty()) details["group"] = details_group_;
  if (!details_kind_.empty()) details["kind"] = details_kind_;
  if (!causes_.empty()) {
    json::array causes;
    for (const auto& c : causes_) {
      json::object jc;
      jc["reason"] = c.reason;
      jc["message"] = c.message;
      if (!c.field.empty()) jc["field"] = c.field;
      causes.push_back(std::move(jc));
    }
    details["causes"] = std::move(causes);
  }
  if (retry_after_seconds_ > 0) details["retryAfterSeconds"] = retry_after_seconds_;
  if (!details.empty()) o["details"] = std::move(details);
  o["code"] = code_;
  return o;
}

std::string Status::to_json_string() const { return json::dump(to_json()); }

Status Status::bad_request(std::string message) { return {400, "BadRequest", std::move(message)}; }

Status Status::unauthorized(std::string message) {
  return {401, "Unauthorized", std::move(message)};
}

Status Status::forbidden(const GroupResource& gr, std::string_view name, std::string_view why) {
  std::string msg = gr.qualified() + (name.empty() ? "" : " " + quoted(name)) + " is forbidden: " + std::string(why);
  return Status(403, "Forbidden", std::move(msg)).with_details(std::string(name), gr.group, gr.resource);
}

Status Status::not_found(const GroupResource& gr, std::string_view name) {
  return Status(404, "NotFound", gr.qualified() + " " + quoted(name) + " not found")
      .with_details(std::string(name), gr.group, gr.resource);
}

Status Status::already_exists(const GroupResource& gr, std::string_view name) {
  return Status(409, "AlreadyExists", gr.qualified() + " " + quoted(name) + " already exists")
      .with_details(std::string(name), gr.group, gr.resource);
}

Status Status::conflict(const GroupResource& gr, std::string_view name, std::string_view why) {
  return Status(409, "Conflict",
                "Operation cannot be fulfilled on " + gr.qualified() + " " + quoted(name) + ": " +
                    std::string(why))
      .with_details(std::string(name), gr.group, gr.resource);
}

Status Status::conflict_modified(const GroupResource& gr, std::string_view name) {
  return conflict(gr, name,
                  "the object has been modified; please apply your changes to the latest version "
                  "and try again");
}

Status Status::gone(std::string message) { return {410, "Expired", std::move(message)}; }

Status Status::resource_expired(int64_t requested, int64_t oldest) {
  return gone("too old resource version: " + std::to_string(requested) + " (" +
              std::to_string(oldest) + ")");
}

Status Status::request_entity_too_large(int64_t limit_bytes) {
  return {413, "RequestEntityTooLarge",
          "Request entity too large: limit is " + std::to_string(limit_bytes)};
}

Status Status::unsupported_media_type(std::string_view content_type) {
  return {415, "UnsupportedMediaType",
          "the body of the request was in an unknown format - accepted media types include: "
          "application/json, application/yaml, application/merge-patch+json, "
          "application/json-patch+json, application/strategic-merge-patch+json (got " +
              std::string(content_type) + ")"};
}

Status Status::not_acceptable(std::string_view accept) {
  return {406, "NotAcceptable",
          "only the following media types are accepted: application/json, application/yaml "
          "(requested " + std::string(accept) + ")"};
}

Status Status::method_not_supported(const GroupResource& gr, std::string_view verb) {
  return Status(405, "MethodNotAllowed",
                std::string(verb) + " is not supported on resources of kind " + quoted(gr.qualified()))
      .with_details("", gr.group, gr.resource);
}

Status Status::invalid(std::string_view group, std::string_view kind, std::string_view name,
                       std::vector<StatusCause> causes) {
  std::string qualified_kind(kind);
  if (!group.empty()) qualified_kind += "." + std::string(group);
  std::string msg = qualified_kind + " " + quoted(name) + " is invalid: ";
  auto one = [](const StatusCause& c) { return c.field.empty() ? c.message : c.field + ": " + c.message; };
  if (causes.size() == 1) {
    msg += one(causes[0]);
  } else {
    msg += "[";
    for (std::size_t i = 0; i < causes.size(); ++i) {
      if (i > 0) msg += ", ";
      msg += one(causes[i]);
    }
    msg += "]";
  }
  Status s(422, "Invalid", std::move(msg));
  s.with_details(std::string(name), std::string(group), std::string(kind));
  s.causes_ = std::move(causes);
  return s;
}

Status Status::internal_error(std::string_view detail) {
  return Status(500, "InternalError", "Internal error occurred: " + std::string(detail))
      .with_cause({"UnexpectedServerResponse", std::string(detail), ""});
}

Status Status::service_unavailable(std::string message) {
  return {503, "ServiceUnavailable", std::move(message)};
}

Status Status::timeout(std::string message, int retry_after_seconds) {
  return Status(504, "Timeout", std::move(message)).with_retry_after(retry_after_seconds);
}

Status Status::too_many_requests(std::string message, int retry_after_seconds) {
  return Status(429, "TooManyRequests", std::move(message)).with_retry_after(retry_after_seconds);
}

Status Status::from_error(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument: return bad_request(e.to_string());
    case ErrorCode::kNotFound: return {404, "NotFound", e.to_string()};
    case ErrorCode::kAlreadyExists: return {409, "AlreadyExists", e.to_string()};
    case ErrorCode::kConflict:
    case ErrorCode::kAborted: return {409, "Conflict", e.to_string()};
    case ErrorCode::kCompacted: return gone(e.to_string());
    case ErrorCode::kResourceExhausted: return too_many_requests(e.to_string(), 1);
    case ErrorCode::kUnavailable: return service_unavailable(e.to_string());
    case ErrorCode::kDeadlineExceeded: return timeout(e.to_string(), 1);
    case ErrorCode::kPermissionDenied: return {403, "Forbidden", e.to_string()};
    case ErrorCode::kUnauthenticated: return unauthorized(e.to_string());
    case ErrorCode::kUnknown:
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kUnimplemented:
    case ErrorCode::kInternal: break;
  }
  return internal_error(e.to_string());
}

}  // namespace kernlet::api
