// Small helpers shared by the API's route files.
#pragma once

#include <boost/json.hpp>

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_server.h"
#include "base/status.h"
#include "base/time.h"

namespace outflow::api {

// Whole numbers as JSON integers ("12", not "1.2E1"); others as doubles.
inline boost::json::value JsonNumber(double d) {
  if (d == static_cast<double>(static_cast<int64_t>(d)) && d > -9e15 && d < 9e15) {
    return boost::json::value(static_cast<int64_t>(d));
  }
  return boost::json::value(d);
}

inline HttpResponse JsonResponse(int status, const boost::json::value& v) {
  return HttpResponse{status, "application/json", boost::json::serialize(v), {}};
}

// A small page for people (an unsubscribe or tracking link). `body` is HTML.
inline std::string HtmlPage(std::string_view title, std::string_view body) {
  return "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
         "content=\"width=device-width\"><title>" +
         std::string(title) + "</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">" +
         std::string(body) + "</body></html>";
}

// The HTTP response for a failed Status (defined in api_handler.cc).
HttpResponse ErrorResponse(const Status& st);

// A positive integer id from a path segment; `what` names it ("job id").
inline Result<int64_t> ParsePositiveId(std::string_view s, std::string_view what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return Status::InvalidArgument("id: '" + std::string(s.substr(0, 40)) + "' is not a valid " + std::string(what) +
                                   " (a positive integer)");
  }
  return v;
}

// An optional time as RFC 3339 or null; an empty text as null.
inline boost::json::value OptTime(const std::optional<Timestamp>& t) {
  return t ? boost::json::value(FormatRfc3339(*t)) : boost::json::value(nullptr);
}
inline boost::json::value OptText(const std::string& s) {
  return s.empty() ? boost::json::value(nullptr) : boost::json::value(s);
}

// A non-negative integer query parameter; the error quotes at most 40 bytes of it.
inline Result<int64_t> QueryInteger(const std::string& key, const std::string& value) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || p != value.data() + value.size() || n < 0) {
    return Status::InvalidArgument(key + ": '" + value.substr(0, 40) + "' is not a non-negative integer");
  }
  return n;
}

inline HttpResponse MethodNotAllowed(std::string_view allow) {
  HttpResponse r = ErrorResponse(Status(Code::kInvalidArgument, "method not allowed; use " + std::string(allow)));
  r.status = 405;
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

}  // namespace outflow::api
