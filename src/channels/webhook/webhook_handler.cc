#include "channels/webhook/webhook_handler.h"

#include "base/retry_after.h"
#include "net/curl_outbound.h"

#include <curl/curl.h>

#include <boost/json.hpp>

#include <memory>
#include <mutex>

namespace outflow::channels {

namespace json = boost::json;

namespace {

constexpr int64_t kDefaultTimeoutMs = 10'000;
constexpr int64_t kMaxTimeoutMs = 60'000;
constexpr size_t kKeptResponseBytes = 512;

struct WebhookRequest {
  std::string url;
  std::string method = "POST";
  std::vector<std::string> headers;  // "Name: value"
  std::string body = "{}";
  int64_t timeout_ms = kDefaultTimeoutMs;
};

Status Bad(std::string_view field, std::string_view what) {
  return Status::InvalidArgument(std::string(field) + "." + std::string(what));
}

Result<WebhookRequest> Parse(std::string_view payload, std::string_view field) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument(std::string(field) + ": must be a JSON object");
  WebhookRequest r;
  bool has_url = false;
  for (const auto& [k, val] : v.as_object()) {
    if (k == "url") {
      if (!val.is_string()) return Bad(field, "url: must be a string");
      r.url = std::string(val.as_string());
      if (!r.url.starts_with("http://") && !r.url.starts_with("https://")) {
        return Bad(field, "url: must start with http:// or https://");
      }
      if (r.url.size() > 2048) return Bad(field, "url: longer than 2048 characters");
      has_url = true;
    } else if (k == "method") {
      if (!val.is_string()) return Bad(field, "method: must be a string");
      r.method = std::string(val.as_string());
      if (r.method != "POST" && r.method != "PUT" && r.method != "PATCH" && r.method != "DELETE" && r.method != "GET") {
        return Bad(field, "method: must be one of GET, POST, PUT, PATCH, DELETE");
      }
    } else if (k == "headers") {
      if (!val.is_object()) return Bad(field, "headers: must be an object of strings");
      for (const auto& [hk, hv] : val.as_object()) {
        if (!hv.is_string()) return Bad(field, "headers." + std::string(hk) + ": must be a string");
        std::string name(hk);
        std::string value(hv.as_string());
        if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos) {
          return Bad(field, "headers." + name + ": not a valid header");
        }
        r.headers.push_back(name + ": " + value);
      }
    } else if (k == "body") {
      r.body = json::serialize(val);
    } else if (k == "timeout_ms") {
      if (!val.is_int64() && !val.is_uint64()) return Bad(field, "timeout_ms: must be an integer");
      r.timeout_ms = val.to_number<int64_t>();
      if (r.timeout_ms < 1 || r.timeout_ms > kMaxTimeoutMs) {
        return Bad(field, "timeout_ms: must be between 1 and " + std::to_string(kMaxTimeoutMs));
      }
    } else {
      return Bad(field, std::string(k) + ": unknown field (known: url, method, headers, body, timeout_ms)");
    }
  }
  if (!has_url) return Bad(field, "url: is required");
  return r;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

// One handle per worker thread keeps its connections alive between jobs.
CURL* ThreadHandle() {
  thread_local std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  curl_easy_reset(handle.get());
  return handle.get();
}

struct Captured {
  std::string body;
  std::optional<std::string> retry_after;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Captured*>(user);
  size_t len = size * n;
  if (c->body.size() < kKeptResponseBytes) c->body.append(data, std::min(len, kKeptResponseBytes - c->body.size()));
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Captured*>(user);
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == kName) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      c->retry_after = std::string(v);
    }
  }
  return size * n;
}

// The handler's retry time from a Retry-After, at most kMaxRetryAfter away.
std::optional<Timestamp> RetryAt(const std::optional<std::string>& header, Timestamp now) {
  if (!header) return std::nullopt;
  std::optional<Duration> delay = ParseRetryAfter(*header, now);
  if (!delay) return std::nullopt;
  return now + *delay;
}

}  // namespace

WebhookHandler::WebhookHandler(Clock& clock, const net::OutboundPolicy& outbound) : clock_(clock), outbound_(outbound) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string WebhookHandler::Description() const {
  return "sends payload.body as JSON to payload.url; 2xx is done, 408/425/429/5xx and network errors are "
         "retried (Retry-After honoured), other statuses fail";
}

Status WebhookHandler::ValidatePayload(std::string_view payload_json, std::string_view field) const {
  Result<WebhookRequest> r = Parse(payload_json, field);
  return r.ok() ? Status::Ok() : r.status();
}

RunResult WebhookHandler::Run(const Job& job) {
  Result<WebhookRequest> req = Parse(job.payload, "payload");
  if (!req.ok()) return RunResult::Fail(req.status().message());
  CURL* c = ThreadHandle();
  net::CurlOutbound guard;
  guard.Install(c, outbound_);
  Captured cap;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string id = std::to_string(job.id.value());
  headers = curl_slist_append(headers, ("Idempotency-Key: outflow-job-" + id).c_str());
  headers = curl_slist_append(headers, ("X-Outflow-Job-Id: " + id).c_str());
  headers = curl_slist_append(headers, ("X-Outflow-Attempt: " + std::to_string(job.attempts)).c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  for (const auto& h : req->headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, req->url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "outflow/0.1");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req->timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(req->timeout_ms, 5000)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &cap);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &cap);
  if (req->method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(req->body.size()));
  }
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    if (std::optional<std::string> refused = guard.Refusal()) return RunResult::Fail(*refused);
    return RunResult::Retry(std::string("request failed: ") + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) return RunResult::Done();
  std::string error = "HTTP " + std::to_string(status);
  if (!cap.body.empty()) error += ": " + cap.body;
  if (status == 408 || status == 425 || status == 429 || status >= 500) {
    return RunResult::Retry(error, RetryAt(cap.retry_after, clock_.Now()));
  }
  return RunResult::Fail(error);
}

}  // namespace outflow::channels
