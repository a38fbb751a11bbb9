// GoogleTest helpers for Status and Result<T>.
#pragma once

#include <gtest/gtest.h>

#include "base/status.h"

#define ASSERT_OK(expr)                             \
  do {                                              \
    const auto& _r = (expr);                        \
    ASSERT_TRUE(_r.ok()) << _r.status().ToString(); \
  } while (0)
#define EXPECT_OK(expr)                             \
  do {                                              \
    const auto& _r = (expr);                        \
    EXPECT_TRUE(_r.ok()) << _r.status().ToString(); \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, expr) ASSERT_OK_AND_ASSIGN_IMPL(OUTFLOW_CONCAT(_res_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)   \
  auto tmp = (expr);                                \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()

namespace outflow {
// Status has status() so that the macros above accept both Status and Result<T>.

// Success when `s` failed with `code` and its message contains `part`.
inline ::testing::AssertionResult IsError(const Status& s, Code code, std::string_view part) {
  if (s.code() == code && s.message().find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << s.ToString() << ", want " << CodeName(code) << " with \"" << part
                                       << "\"";
}
}  // namespace outflow

// EXPECT_ERROR(status_or_result, Code::kNotFound, "part of the message")
#define EXPECT_ERROR(expr, code, part) EXPECT_TRUE(::outflow::IsError((expr).status(), code, part))
