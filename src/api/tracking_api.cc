#include "api/tracking_api.h"

#include <boost/json.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include "api/http_util.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kOpen = "/t/o/";
constexpr std::string_view kClick = "/t/c/";
constexpr std::string_view kCallbacks = "/v1/callbacks/";
constexpr std::string_view kSuppressions = "/v1/suppressions";

// A transparent 1x1 GIF.
constexpr unsigned char kPixel[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
                                    0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01,
                                    0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

HttpResponse NoSuchLink() {
  return HttpResponse{404, "text/html; charset=utf-8", HtmlPage("Not found", "<p>This link is not valid.</p>"), {}};
}

// "<id>/<tag>" split at the slash; false when it is not of that form.
bool SplitIdTag(std::string_view rest, std::string_view& id, std::string_view& tag) {
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return false;
  id = rest.substr(0, slash);
  tag = rest.substr(slash + 1);
  return !id.empty() && !tag.empty() && tag.find('/') == std::string_view::npos;
}

// The decoded value of a query parameter (none when absent or the query is malformed).
std::optional<std::string> QueryValue(std::string_view query, std::string_view key) {
  if (!boost::urls::parse_query(query)) return std::nullopt;
  for (const boost::urls::param& p : boost::urls::params_view(query, boost::urls::encoding_opts(false))) {
    if (p.key == key) return p.value;
  }
  return std::nullopt;
}

HttpResponse CallbackResponse(const Result<CallbackResult>& r) {
  if (!r.ok()) return ErrorResponse(r.status());
  return JsonResponse(200, json::object{{"recorded", r->recorded}, {"unmatched", r->unmatched}});
}

json::value SuppressionJson(const Suppression& s) {
  return json::object{{"address", s.address},
                      {"reason", s.reason},
                      {"message_id", s.message ? json::value(s.message->value()) : json::value(nullptr)},
                      {"at", FormatRfc3339(s.at)}};
}

}  // namespace

std::optional<HttpResponse> TrackingApi::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (path.starts_with(kOpen)) return get ? Open(path.substr(kOpen.size())) : MethodNotAllowed("GET");
  if (path.starts_with(kClick)) return get ? Click(path.substr(kClick.size()), query) : MethodNotAllowed("GET");
  if (path.starts_with(kCallbacks)) return Callback(req, path.substr(kCallbacks.size()), query);
  if (path == kSuppressions || path.starts_with(std::string(kSuppressions) + "/")) {
    return Suppressions(req, path, query);
  }
  return std::nullopt;
}

HttpResponse TrackingApi::Open(std::string_view rest) {
  std::string_view id, tag;
  if (!rest.ends_with(".gif") || !SplitIdTag(rest.substr(0, rest.size() - 4), id, tag)) return NoSuchLink();
  Status st = tracking_.Open(id, tag);
  if (st.code() == Code::kNotFound) return NoSuchLink();
  // A failure to record (a busy database) still shows the image: the reader sees nothing amiss.
  HttpResponse r{200, "image/gif", std::string(reinterpret_cast<const char*>(kPixel), sizeof kPixel), {}};
  r.headers.emplace_back("Cache-Control", "no-store, max-age=0");
  return r;
}

HttpResponse TrackingApi::Click(std::string_view rest, std::string_view query) {
  std::string_view id, tag;
  std::optional<std::string> url = QueryValue(query, "u");
  if (!SplitIdTag(rest, id, tag) || !url) return NoSuchLink();
  Result<std::string> to = tracking_.Click(id, tag, *url);
  if (!to.ok()) {
    if (to.status().code() == Code::kNotFound) return NoSuchLink();
    to = *url;  // genuine but not recorded (a busy database): the recipient still goes on
  }
  HttpResponse r{302, "text/html; charset=utf-8", {}, {}};
  r.headers.emplace_back("Location", *to);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse TrackingApi::Callback(const HttpRequest& req, std::string_view rest, std::string_view query) {
  const size_t slash = rest.find('/');
  const std::string_view provider = rest.substr(0, slash);
  Result<int64_t> id =
      slash == std::string_view::npos
          ? Result<int64_t>(Status::NotFound("no route for " + req.method + " /v1/callbacks/" + std::string(rest)))
          : ParsePositiveId(rest.substr(slash + 1), "account id");
  if (!id.ok()) return ErrorResponse(id.status());
  const AccountId account(*id);
  if (provider == "whatsapp" && (req.method == "GET" || req.method == "HEAD")) {
    Result<std::string> challenge = tracking_.WhatsAppHandshake(account, QueryValue(query, "hub.mode").value_or(""),
                                                                QueryValue(query, "hub.verify_token").value_or(""),
                                                                QueryValue(query, "hub.challenge").value_or(""));
    if (!challenge.ok()) return ErrorResponse(challenge.status());
    return HttpResponse{200, "text/plain", *challenge, {}};
  }
  if (provider != "twilio" && provider != "whatsapp" && provider != "status") {
    return ErrorResponse(Status::NotFound("callbacks: unknown provider '" + std::string(provider.substr(0, 40)) +
                                          "' (known: twilio, whatsapp, status)"));
  }
  if (req.method != "POST") return MethodNotAllowed(provider == "whatsapp" ? "GET, POST" : "POST");
  if (provider == "twilio") {
    return CallbackResponse(tracking_.Twilio(account, req.target, req.body, req.Header("X-Twilio-Signature")));
  }
  if (provider == "whatsapp") {
    return CallbackResponse(tracking_.WhatsApp(account, req.body, req.Header("X-Hub-Signature-256")));
  }
  return CallbackResponse(tracking_.StatusEndpoint(account, req.body, req.Header("X-Outflow-Signature")));
}

HttpResponse TrackingApi::Suppressions(const HttpRequest& req, std::string_view path, std::string_view query) {
  if (path.size() > kSuppressions.size()) {
    if (req.method != "DELETE") return MethodNotAllowed("DELETE");
    const std::string address(boost::urls::decode_view(path.substr(kSuppressions.size() + 1)).begin(),
                              boost::urls::decode_view(path.substr(kSuppressions.size() + 1)).end());
    Status st = tracking_.RemoveSuppression(address);
    if (!st.ok()) return ErrorResponse(st);
    return HttpResponse{204, "application/json", {}, {}};
  }
  if (req.method != "GET" && req.method != "HEAD") return MethodNotAllowed("GET");
  std::string after;
  int limit = 100;
  if (!boost::urls::parse_query(query)) return ErrorResponse(Status::InvalidArgument("query string is malformed"));
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    if (p.key == "after") {
      after = p.value;
    } else if (p.key == "limit") {
      Result<int64_t> n = QueryInteger("limit", p.value);
      if (!n.ok()) return ErrorResponse(n.status());
      if (*n < 1 || *n > 1000) return ErrorResponse(Status::InvalidArgument("limit: must be between 1 and 1000"));
      limit = static_cast<int>(*n);
    } else {
      return ErrorResponse(Status::InvalidArgument(p.key + ": unknown parameter (known: after, limit)"));
    }
  }
  Result<std::vector<Suppression>> list = tracking_.Suppressions(after, limit);
  if (!list.ok()) return ErrorResponse(list.status());
  json::array out;
  for (const Suppression& s : *list) out.push_back(SuppressionJson(s));
  json::object body{{"suppressions", std::move(out)}};
  if (static_cast<int>(list->size()) == limit) body["next_after"] = list->back().address;
  return JsonResponse(200, body);
}

}  // namespace outflow::api
