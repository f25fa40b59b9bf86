// Result<T>: kernlet's one error-handling idiom.
//
// Every fallible function returns Result<T> (or Result<void>). An Error carries a message
// that names the object or path it concerns, an optional errno, and grows context on the
// way up: `create cgroup /sys/fs/cgroup/kernlet/pod-x: mkdir: EBUSY`.
// Exceptions are reserved for programmer errors (a violated precondition).
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kernlet {

// What kind of failure an Error is, for callers that branch on it (the API server maps
// these to HTTP status codes). Most errors are kUnknown: only the message matters.
enum class ErrorCode {
  kUnknown,
  kInvalidArgument,     // the input is malformed or invalid
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // create of something that exists
  kConflict,            // a precondition (revision, uid) did not hold
  kCompacted,           // the requested revision is older than the retained history
  kResourceExhausted,   // a quota, range or size limit was hit
  kUnavailable,         // retry later
  kDeadlineExceeded,
  kPermissionDenied,
  kUnauthenticated,
  kInternal,
  // The next three keep gRPC's distinctions that CSI callers branch on (csi/client).
  kAborted,             // a concurrent operation on the same object is in flight; retry
  kFailedPrecondition,  // the object is not in the state the call needs; fix that first
  kUnimplemented,       // the peer does not offer the operation
};

class [[nodiscard]] Error {
 public:
  explicit Error(std::string message, int sys_errno = 0)
      : message_(std::move(message)), errno_(sys_errno) {}
  Error(ErrorCode code, std::string message) : message_(std::move(message)), code_(code) {}

  // An Error for the syscall that just failed: `what` names the call and its object,
  // errno is captured now.
  static Error from_errno(std::string what) { return Error(std::move(what), errno); }

  // The message without the errno text.
  const std::string& message() const { return message_; }
  // The errno the failure came from, or 0 when it did not come from a syscall.
  int sys_errno() const { return errno_; }
  // The kind of failure; kUnknown unless the creator said otherwise.
  ErrorCode code() const { return code_; }

  // Prepends context: "<context>: <message>".
  Error&& context(std::string_view ctx) && {
    message_.insert(0, ": ");
    message_.insert(0, ctx);
    return std::move(*this);
  }
  Error context(std::string_view ctx) const& { return Error(*this).context(ctx); }

  // Full text for logs and users: the message, then the errno name when there is one.
  std::string to_string() const {
    if (errno_ == 0) return message_;
    return message_ + ": " + strerrorname(errno_);
  }

 private:
  static std::string strerrorname(int e) {
    const char* name = ::strerrorname_np(e);
    return name != nullptr ? std::string(name) : "errno " + std::to_string(e);
  }

  std::string message_;
  int errno_ = 0;
  ErrorCode code_ = ErrorCode::kUnknown;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_{""};
  bool ok_ = true;
};

inline Result<void> Ok() { return {}; }

}  // namespace kernlet

#define KL_CONCAT_INNER_(a, b) a##b
#define KL_CONCAT_(a, b) KL_CONCAT_INNER_(a, b)

// KL_TRY(expr): evaluates a Result<void>-like expression and returns its error.
#define KL_TRY(expr)                                   \
  do {                                                 \
    auto&& kl_try_result_ = (expr);                    \
    if (!kl_try_result_.ok())                          \
      return std::move(kl_try_result_).error();        \
  } while (0)

// KL_ASSIGN_OR_RETURN(decl, expr): `decl = *expr` or return the error.
#define KL_ASSIGN_OR_RETURN(decl, expr) \
  KL_ASSIGN_OR_RETURN_IMPL_(KL_CONCAT_(kl_result_, __LINE__), decl, expr)
#define KL_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).error();    \
  decl = std::move(tmp).value()
