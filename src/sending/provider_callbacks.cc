#include "sending/provider_callbacks.h"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <charconv>
#include <map>

#include "crypto/hmac.h"

namespace outflow {

namespace json = boost::json;

namespace {

Status Bad(std::string field, std::string_view what) {
  return Status::InvalidArgument(std::move(field) + ": " + std::string(what));
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A form body's parameters, decoded ('+' is a space), in order.
Result<std::vector<std::pair<std::string, std::string>>> FormParams(std::string_view body) {
  if (!boost::urls::parse_query(body)) return Status::InvalidArgument("body: not a form-encoded body");
  std::vector<std::pair<std::string, std::string>> out;
  for (const boost::urls::param& p : boost::urls::params_view(body)) out.emplace_back(p.key, p.value);
  return out;
}

bool Contains(std::initializer_list<int64_t> codes, int64_t code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// A provider's failure: unsubscribed when its code says the recipient opted out,
// else bounced, permanent when the code names an address that cannot work.
ProviderStatus Failure(std::string id, Timestamp at, int64_t code, std::initializer_list<int64_t> permanent,
                       int64_t opted_out, std::string detail) {
  ProviderStatus s{std::move(id), std::nullopt, MessageEventKind::kBounced, at, std::move(detail), false};
  if (code == opted_out) {
    s.kind = MessageEventKind::kUnsubscribed;
  } else {
    s.permanent = Contains(permanent, code);
  }
  return s;
}

}  // namespace

Status VerifyTwilioSignature(std::string_view url, std::string_view form_body, std::string_view signature,
                             std::string_view auth_token) {
  if (signature.empty()) return Status::Unauthenticated("X-Twilio-Signature: missing");
  OUTFLOW_ASSIGN_OR_RETURN(auto params, FormParams(form_body));
  std::sort(params.begin(), params.end());
  std::string data(url);
  for (const auto& [k, v] : params) data += k + v;
  if (!crypto::ConstantTimeEqual(crypto::Base64(crypto::HmacSha1(auth_token, data)), signature)) {
    return Status::Unauthenticated("X-Twilio-Signature: does not match the request");
  }
  return Status::Ok();
}

Status VerifyMetaSignature(std::string_view body, std::string_view signature, std::string_view app_secret) {
  if (signature.empty()) return Status::Unauthenticated("X-Hub-Signature-256: missing");
  if (!signature.starts_with("sha256=")) return Status::Unauthenticated("X-Hub-Signature-256: must start with sha256=");
  if (!crypto::ConstantTimeEqual(crypto::Hex(crypto::HmacSha256(app_secret, body)), signature.substr(7))) {
    return Status::Unauthenticated("X-Hub-Signature-256: does not match the body");
  }
  return Status::Ok();
}

std::string OutflowSignature(std::string_view body, std::string_view secret, Timestamp at) {
  const std::string t = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count());
  return "t=" + t + ",v1=" + crypto::Hex(crypto::HmacSha256(secret, t + "." + std::string(body)));
}

Status VerifyOutflowSignature(std::string_view body, std::string_view signature, std::string_view secret,
                              Timestamp now) {
  if (signature.empty()) return Status::Unauthenticated("X-Outflow-Signature: missing");
  const size_t comma = signature.find(',');
  if (!signature.starts_with("t=") || comma == std::string_view::npos || signature.substr(comma + 1, 3) != "v1=") {
    return Status::Unauthenticated("X-Outflow-Signature: must be t=<unix seconds>,v1=<hex>");
  }
  std::optional<int64_t> t = ParseInt(signature.substr(2, comma - 2));
  if (!t) return Status::Unauthenticated("X-Outflow-Signature: t is not a number");
  const Timestamp at{std::chrono::seconds(*t)};
  if (at < now - kSignatureTolerance || at > now + kSignatureTolerance) {
    return Status::Unauthenticated("X-Outflow-Signature: t is more than 5 minutes from now (a replay?)");
  }
  const std::string want = OutflowSignature(body, secret, at);
  if (!crypto::ConstantTimeEqual(want, signature)) {
    return Status::Unauthenticated("X-Outflow-Signature: does not match the body");
  }
  return Status::Ok();
}

Result<std::vector<ProviderStatus>> ParseTwilioStatus(std::string_view form_body, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(auto params, FormParams(form_body));
  std::map<std::string, std::string> p(params.begin(), params.end());
  const std::string sid = p["MessageSid"].empty() ? p["SmsSid"] : p["MessageSid"];
  if (sid.empty()) return Bad("MessageSid", "is required");
  const std::string status = p["MessageStatus"].empty() ? p["SmsStatus"] : p["MessageStatus"];
  if (status.empty()) return Bad("MessageStatus", "is required");
  std::vector<ProviderStatus> out;
  if (status == "delivered") out.push_back({sid, std::nullopt, MessageEventKind::kDelivered, now, status, false});
  if (status == "read") out.push_back({sid, std::nullopt, MessageEventKind::kOpened, now, status, false});
  if (status == "undelivered" || status == "failed") {
    const int64_t code = ParseInt(p["ErrorCode"]).value_or(0);
    std::string detail = status + (code ? " (error " + std::to_string(code) + ")" : "");
    out.push_back(Failure(sid, now, code, {21211, 21614, 30005, 30006}, 21610, std::move(detail)));
  }
  return out;
}

namespace {

// One entry of a WhatsApp statuses array.
Result<std::optional<ProviderStatus>> WhatsAppStatus(const json::value& v, const std::string& field, Timestamp now) {
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad(field, "must be an object");
  const json::value* id = o->if_contains("id");
  const json::value* status = o->if_contains("status");
  if (id == nullptr || !id->is_string()) return Bad(field + ".id", "must be a string");
  if (status == nullptr || !status->is_string()) return Bad(field + ".status", "must be a string");
  Timestamp at = now;
  if (const json::value* ts = o->if_contains("timestamp"); ts && ts->is_string()) {
    if (std::optional<int64_t> secs = ParseInt(ts->as_string())) at = Timestamp(std::chrono::seconds(*secs));
  }
  const std::string s(status->as_string());
  const std::string wamid(id->as_string());
  if (s == "delivered") return std::optional(ProviderStatus{wamid, std::nullopt, MessageEventKind::kDelivered, at, s});
  if (s == "read") return std::optional(ProviderStatus{wamid, std::nullopt, MessageEventKind::kOpened, at, s});
  if (s != "failed") return std::optional<ProviderStatus>();
  int64_t code = 0;
  std::string detail = "failed";
  if (const json::value* errors = o->if_contains("errors");
      errors && errors->is_array() && !errors->as_array().empty()) {
    const json::value& e = errors->as_array().front();
    if (const json::value* c = e.is_object() ? e.as_object().if_contains("code") : nullptr; c && c->is_int64()) {
      code = c->as_int64();
      detail += " (error " + std::to_string(code);
      if (const json::value* t = e.as_object().if_contains("title"); t && t->is_string()) {
        detail += ": " + std::string(t->as_string());
      }
      detail += ")";
    }
  }
  return std::optional(Failure(wamid, at, code, {131026}, 131050, std::move(detail)));
}

}  // namespace

Result<std::vector<ProviderStatus>> ParseWhatsAppStatuses(std::string_view body, Timestamp now) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("body: not a JSON object");
  std::vector<ProviderStatus> out;
  const json::value* entries = v.as_object().if_contains("entry");
  if (entries == nullptr || !entries->is_array()) return Bad("entry", "must be an array");
  for (size_t i = 0; i < entries->as_array().size(); ++i) {
    const json::value& entry = entries->as_array()[i];
    const json::value* changes = entry.is_object() ? entry.as_object().if_contains("changes") : nullptr;
    if (changes == nullptr || !changes->is_array()) continue;  // another kind of notification
    for (size_t j = 0; j < changes->as_array().size(); ++j) {
      const json::value& change = changes->as_array()[j];
      const json::value* value = change.is_object() ? change.as_object().if_contains("value") : nullptr;
      const json::value* statuses = value && value->is_object() ? value->as_object().if_contains("statuses") : nullptr;
      if (statuses == nullptr || !statuses->is_array()) continue;  // messages, errors: not statuses
      for (size_t k = 0; k < statuses->as_array().size(); ++k) {
        const std::string field = "entry[" + std::to_string(i) + "].changes[" + std::to_string(j) +
                                  "].value.statuses[" + std::to_string(k) + "]";
        OUTFLOW_ASSIGN_OR_RETURN(std::optional<ProviderStatus> s, WhatsAppStatus(statuses->as_array()[k], field, now));
        if (s) out.push_back(std::move(*s));
      }
    }
  }
  return out;
}

namespace {

Result<ProviderStatus> OutflowStatus(const json::value& v, const std::string& field, Timestamp now) {
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad(field, "must be an object");
  ProviderStatus s;
  s.at = now;
  const json::value* pid = o->if_contains("provider_id");
  const json::value* mid = o->if_contains("message_id");
  if (pid && pid->is_string() && !pid->as_string().empty()) {
    s.provider_id = std::string(pid->as_string());
  } else if (mid && mid->is_int64() && mid->as_int64() > 0) {
    s.message = MessageId(mid->as_int64());
  } else {
    return Bad(field, "needs provider_id (a string) or message_id (a positive integer)");
  }
  const json::value* ev = o->if_contains("event");
  std::optional<MessageEventKind> kind = ev && ev->is_string() ? ParseMessageEventKind(ev->as_string()) : std::nullopt;
  if (!kind || !IsRecordedEvent(*kind)) {
    return Bad(field + ".event", "must be delivered, opened, clicked, bounced, complained or unsubscribed");
  }
  s.kind = *kind;
  if (const json::value* at = o->if_contains("at"); at && !at->is_null()) {
    Result<Timestamp> t = at->is_string() ? ParseRfc3339(at->as_string()) : Status::InvalidArgument("");
    if (!t.ok()) return Bad(field + ".at", "must be an RFC 3339 time");
    s.at = *t;
  }
  if (const json::value* d = o->if_contains("detail"); d && d->is_string()) s.detail = std::string(d->as_string());
  if (const json::value* p = o->if_contains("permanent"); p && !p->is_null()) {
    if (!p->is_bool()) return Bad(field + ".permanent", "must be true or false");
    s.permanent = p->as_bool();
  }
  return s;
}

}  // namespace

Result<std::vector<ProviderStatus>> ParseOutflowStatuses(std::string_view body, Timestamp now) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("body: not a JSON object");
  const json::value* events = v.as_object().if_contains("events");
  if (events == nullptr || !events->is_array()) return Bad("events", "must be an array");
  if (events->as_array().size() > 1000) return Bad("events", "at most 1000 per request");
  std::vector<ProviderStatus> out;
  for (size_t i = 0; i < events->as_array().size(); ++i) {
    OUTFLOW_ASSIGN_OR_RETURN(ProviderStatus s,
                             OutflowStatus(events->as_array()[i], "events[" + std::to_string(i) + "]", now));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace outflow
