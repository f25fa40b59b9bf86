// WatchDecoder and the Status -> Error mapping: pure, no transport.
#include <deque>

#include "api/client/rest_client.h"

namespace kernlet::client {

std::string_view to_string(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::Type::kAdded: return "ADDED";
    case WatchEvent::Type::kModified: return "MODIFIED";
    case WatchEvent::Type::kDeleted: return "DELETED";
    case WatchEvent::Type::kBookmark: return "BOOKMARK";
  }
  return "?";
}

static ErrorCode code_for(int http_status, std::string_view reason) {
  switch (http_status) {
    case 400: return ErrorCode::kInvalidArgument;
    case 401: return ErrorCode::kUnauthenticated;
    case 403: return ErrorCode::kPermissionDenied;
    case 404: return ErrorCode::kNotFound;
    case 409: return reason == "AlreadyExists" ? ErrorCode::kAlreadyExists : ErrorCode::kConflict;
    case 410: return ErrorCode::kCompacted;  // Expired / Gone: the resourceVersion is too old
    case 413: return ErrorCode::kResourceExhausted;
    case 422: return ErrorCode::kInvalidArgument;
    case 429: return ErrorCode::kUnavailable;
    case 503: return ErrorCode::kUnavailable;
    case 504: return ErrorCode::kDeadlineExceeded;
    default: break;
  }
  if (reason == "Expired" || reason == "Gone") return ErrorCode::kCompacted;
  if (http_status >= 500) return ErrorCode::kInternal;
  if (http_status >= 400) return ErrorCode::kInvalidArgument;
  return ErrorCode::kUnknown;
}

Error error_from_status(const json::object& status, int http_status_fallback) {
  int code = static_cast<int>(json::get_int_or(status, "code", http_status_fallback));
  std::string_view reason = json::get_string(status, "reason");
  std::string message(json::get_string(status, "message"));
  if (message.empty()) message = reason.empty() ? "HTTP " + std::to_string(code) : std::string(reason);
  return Error(code_for(code, reason), std::move(message));
}

Error error_from_response(int http_status, std::string_view body) {
  auto parsed = json::parse(body);
  if (parsed.ok() && parsed->is_object() && json::get_string(parsed->get_object(), "kind") == "Status") {
    return error_from_status(parsed->get_object(), http_status);
  }
  std::string snippet(body.substr(0, 200));
  while (!snippet.empty() && (snippet.back() == '\n' || snippet.back() == ' ')) snippet.pop_back();
  std::string message = "HTTP " + std::to_string(http_status);
  if (!snippet.empty()) message += ": " + snippet;
  return Error(code_for(http_status, ""), std::move(message));
}

struct WatchDecoder::Impl {
  boost::json::stream_parser parser;
  bool mid = false;
  std::deque<Result<WatchEvent>> ready;

  Impl() : parser({}, parse_options()) {}
  static boost::json::parse_options parse_options() {
    boost::json::parse_options o;
    o.max_depth = 100;  // as json::parse; Boost's default of 32 is too shallow for some objects
    return o;
  }

  static Result<WatchEvent> to_event(json::value v) {
    if (!v.is_object()) return Error(ErrorCode::kInvalidArgument, "watch stream: event is not a JSON object");
    auto& o = v.get_object();
    std::string_view type = json::get_string(o, "type");
    json::value* obj = json::find(o, "object");
    if (obj == nullptr || !obj->is_object()) {
      return Error(ErrorCode::kInvalidArgument, "watch stream: " + std::string(type) + " event without an object");
    }
    WatchEvent ev{WatchEvent::Type::kAdded, {}};
    if (type == "ADDED") {
      ev.type = WatchEvent::Type::kAdded;
    } else if (type == "MODIFIED") {
      ev.type = WatchEvent::Type::kModified;
    } else if (type == "DELETED") {
      ev.type = WatchEvent::Type::kDeleted;
    } else if (type == "BOOKMARK") {
      ev.type = WatchEvent::Type::kBookmark;
    } else if (type == "ERROR") {
      return error_from_status(obj->get_object());
    } else {
      return Error(ErrorCode::kInvalidArgument, "watch stream: unknown event type \"" + std::string(type) + "\"");
    }
    ev.object = std::make_shared<const json::object>(std::move(obj->get_object()));
    return ev;
  }
};

WatchDecoder::WatchDecoder() : impl_(std::make_unique<Impl>()) {}
WatchDecoder::~WatchDecoder() = default;

Result<void> WatchDecoder::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    boost::system::error_code ec;
    std::size_t n = impl_->parser.write_some(bytes.data(), bytes.size(), ec);
    if (ec) return Error(ErrorCode::kInvalidArgument, "watch stream: invalid JSON: " + ec.message());
    if (!impl_->mid) {
      for (std::size_t i = 0; i < n; ++i) {
        char c = bytes[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
          impl_->mid = true;
          break;
        }
      }
    }
    bytes.remove_prefix(n);
    if (impl_->parser.done()) {
      json::value v = impl_->parser.release();
      impl_->parser.reset();
      impl_->mid = false;
      impl_->ready.push_back(Impl::to_event(std::move(v)));
    }
  }
  return Ok();
}

std::optional<Result<WatchEvent>> WatchDecoder::pop() {
  if (impl_->ready.empty()) return std::nullopt;
  Result<WatchEvent> ev = std::move(impl_->ready.front());
  impl_->ready.pop_front();
  return ev;
}

bool WatchDecoder::mid_event() const { return impl_->mid; }

}  // namespace kernlet::client
