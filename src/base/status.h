// Status and Result<T>: expected failures are values, not exceptions.
//
// A Status is Ok or carries a Code and a message that names what was wrong and
// where ("jobs[3].due_at: not an RFC 3339 timestamp"). Result<T> holds either a T
// or a non-Ok Status. Exceptions are reserved for programmer errors and the top
// of main(). Thread-safety: plain values, safe to copy between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace outflow {

enum class Code {
  kOk,
  kInvalidArgument,  // the caller's input is wrong; retrying will not help
  kNotFound,
  kConflict,            // the request is valid but contradicts current state
  kUnavailable,         // transient: the database is locked, full or read-only; retry
  kCorruption,          // stored data is unreadable
  kFailedPrecondition,  // the system is not in a state to do this (e.g. newer schema)
  kUnauthenticated,     // the request's signature or credentials are missing or wrong
  kInternal,
};

// Stable lower_snake name of a code, used in API errors and logs.
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  const Status& status() const { return *this; }  // uniform with Result<T>
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: message"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an Ok status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace outflow

// Returns early with the status when `expr` (a Status) is not ok.
#define OUTFLOW_RETURN_IF_ERROR(expr) \
  do {                                \
    ::outflow::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)

#define OUTFLOW_CONCAT_INNER(a, b) a##b
#define OUTFLOW_CONCAT(a, b) OUTFLOW_CONCAT_INNER(a, b)
// Declares `lhs` from a Result<T> expression, or returns its status.
#define OUTFLOW_ASSIGN_OR_RETURN(lhs, expr) OUTFLOW_ASSIGN_OR_RETURN_IMPL(OUTFLOW_CONCAT(_res_, __LINE__), lhs, expr)
#define OUTFLOW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
