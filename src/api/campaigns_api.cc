#include "api/campaigns_api.h"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <charconv>
#include <climits>

#include "api/http_util.h"
#include "api/job_json.h"
#include "api/window_json.h"
#include "codec/contact_rules_json.h"
#include "domain/contact.h"
#include "time/local_day.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kAccounts = "/v1/accounts";
constexpr std::string_view kTemplates = "/v1/templates";
constexpr std::string_view kCampaigns = "/v1/campaigns";
constexpr int kMaxPage = 1000;

// `path` is `prefix` itself or below it ("/v1/accounts", "/v1/accounts/7").
bool Under(std::string_view path, std::string_view prefix) {
  return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

// "/v1/accounts/7/verify" below "/v1/accounts" -> 7 and "verify" ("" for none).
struct IdPath {
  int64_t id = 0;
  std::string_view action;
};
Result<IdPath> SplitIdPath(std::string_view path, std::string_view prefix, std::string_view what) {
  std::string_view rest = path.substr(prefix.size() + 1);
  auto slash = rest.find('/');
  OUTFLOW_ASSIGN_OR_RETURN(int64_t id, ParsePositiveId(rest.substr(0, slash), what));
  return IdPath{id, slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1)};
}

Result<json::object> ObjectBody(const HttpRequest& req) {
  OUTFLOW_ASSIGN_OR_RETURN(json::value v, ParseJsonBody(req.body));
  if (!v.is_object()) return Status::InvalidArgument("body: must be a JSON object");
  return std::move(v.as_object());
}

Result<std::string> String(const json::value& v, const std::string& field) {
  if (!v.is_string()) return Status::InvalidArgument(field + ": must be a string");
  return std::string(v.as_string());
}

Result<int64_t> Integer(const json::value& v, const std::string& field) {
  if (v.is_int64()) return v.as_int64();
  return Status::InvalidArgument(field + ": must be an integer in range");  // also a uint64 over int64's range
}

Result<int> SmallInteger(const json::value& v, const std::string& field) {
  OUTFLOW_ASSIGN_OR_RETURN(int64_t n, Integer(v, field));
  if (n < INT_MIN || n > INT_MAX) return Status::InvalidArgument(field + ": must be an integer in range");
  return static_cast<int>(n);
}

Result<int64_t> Id(const json::value& v, const std::string& field, std::string_view what) {
  if (!v.is_int64() || v.as_int64() <= 0) {
    return Status::InvalidArgument(field + ": must be " + std::string(what) + " id (a positive integer)");
  }
  return v.as_int64();
}

// A non-negative integer query parameter.

Result<int> PageLimit(const std::string& value) {
  Result<int64_t> n = QueryInteger("limit", value);
  if (!n.ok() || *n < 1 || *n > kMaxPage) {
    return Status::InvalidArgument("limit: must be between 1 and " + std::to_string(kMaxPage));
  }
  return static_cast<int>(*n);
}

Status CheckQuery(std::string_view query) {
  auto parsed = boost::urls::parse_query(query);
  if (!parsed) return Status::InvalidArgument("query string is malformed: " + parsed.error().message());
  return Status::Ok();
}

// ---- accounts ----

json::value AccountToJson(const SendingAccount& a) {
  boost::system::error_code ec;
  json::value settings = json::parse(a.settings_json, ec);
  if (ec) settings = json::object();  // stored only after the provider parsed it
  json::object o{{"id", a.id.value()},
                 {"name", a.name},
                 {"channel", ChannelName(a.channel)},
                 {"provider", a.provider},
                 {"settings", std::move(settings)},
                 {"has_credentials", a.has_credentials},
                 {"rate_per_second", a.rate_per_second},
                 {"burst", a.burst}};
  o["daily_cap"] = a.daily_cap ? json::value(*a.daily_cap) : json::value(nullptr);
  o["time_zone"] = a.time_zone;
  o["windows"] = WindowsToJson(a.windows);
  o["contact_rules"] = ContactRulesToJson(a.rules);
  o["created_at"] = FormatRfc3339(a.created_at);
  o["updated_at"] = FormatRfc3339(a.updated_at);
  return o;
}

// The credentials of an account body, as JSON text (nullopt: none given).
Result<std::optional<std::string>> CredentialsOf(const json::object& o) {
  const json::value* c = o.if_contains("credentials");
  if (c == nullptr) return std::optional<std::string>();
  if (!c->is_object()) return Status::InvalidArgument("credentials: must be a JSON object");
  return std::optional<std::string>(json::serialize(*c));
}

// Applies the members of an account body except "credentials" (see CredentialsOf).
// `creating` false: the channel cannot change.
Status ApplyAccountJson(const json::object& o, SendingAccount& a, bool creating) {
  for (const auto& [k, v] : o) {
    const std::string key(k);
    if (key == "name" || key == "provider" || key == "time_zone") {
      OUTFLOW_ASSIGN_OR_RETURN(std::string s, String(v, key));
      (key == "name" ? a.name : key == "provider" ? a.provider : a.time_zone) = std::move(s);
    } else if (key == "channel") {
      OUTFLOW_ASSIGN_OR_RETURN(std::string s, String(v, key));
      std::optional<Channel> channel = ParseChannel(s);
      if (!channel)
        return Status::InvalidArgument("channel: '" + s + "' is not one of email, sms, whatsapp, webhook, log");
      if (!creating && *channel != a.channel) {
        return Status::InvalidArgument("channel: cannot be changed (account " + std::to_string(a.id.value()) +
                                       " sends " + std::string(ChannelName(a.channel)) + ")");
      }
      a.channel = *channel;
    } else if (key == "settings") {
      if (!v.is_object()) return Status::InvalidArgument("settings: must be a JSON object");
      a.settings_json = json::serialize(v);
    } else if (key == "credentials") {
      // taken apart by CredentialsOf
    } else if (key == "rate_per_second" || key == "burst") {
      OUTFLOW_ASSIGN_OR_RETURN(int n, SmallInteger(v, key));
      (key == "rate_per_second" ? a.rate_per_second : a.burst) = n;
    } else if (key == "daily_cap") {
      if (v.is_null()) {
        a.daily_cap.reset();
      } else {
        OUTFLOW_ASSIGN_OR_RETURN(a.daily_cap, Integer(v, key));
      }
    } else if (key == "windows") {
      OUTFLOW_ASSIGN_OR_RETURN(a.windows, WindowsFromJson(v));
    } else if (key == "contact_rules") {
      OUTFLOW_ASSIGN_OR_RETURN(a.rules, ContactRulesFromJson(v, "contact_rules"));
    } else {
      return Status::InvalidArgument(key +
                                     ": unknown field (known: name, channel, provider, settings, credentials, "
                                     "rate_per_second, burst, daily_cap, time_zone, windows, contact_rules)");
    }
  }
  return Status::Ok();
}

// ---- templates ----

json::value TemplateToJson(const MessageTemplateRecord& t) {
  return json::object{{"id", t.id.value()},
                      {"name", t.name},
                      {"subject", t.subject},
                      {"text", t.text},
                      {"html", t.html},
                      {"tracking", t.tracking},
                      {"created_at", FormatRfc3339(t.created_at)},
                      {"updated_at", FormatRfc3339(t.updated_at)}};
}

Status ApplyTemplateJson(const json::object& o, MessageTemplateRecord& t) {
  for (const auto& [k, v] : o) {
    const std::string key(k);
    if (key == "tracking") {
      if (!v.is_bool()) return Status::InvalidArgument("tracking: must be true or false");
      t.tracking = v.as_bool();
      continue;
    }
    std::string* part = key == "name"      ? &t.name
                        : key == "subject" ? &t.subject
                        : key == "text"    ? &t.text
                        : key == "html"    ? &t.html
                                           : nullptr;
    if (part == nullptr)
      return Status::InvalidArgument(key + ": unknown field (known: name, subject, text, html, tracking)");
    OUTFLOW_ASSIGN_OR_RETURN(*part, String(v, key));
  }
  return Status::Ok();
}

// ---- campaigns ----

json::value CampaignToJson(const Campaign& c) {
  json::array segments;
  for (int64_t s : c.audience.segments) segments.push_back(s);
  json::object audience{{"segments", std::move(segments)}};
  audience["exclude_segment"] =
      c.audience.exclude_segment ? json::value(*c.audience.exclude_segment) : json::value(nullptr);
  json::object o{{"id", c.id.value()},
                 {"name", c.name},
                 {"state", CampaignStateName(c.state)},
                 {"account_id", c.account.value()},
                 {"template_id", c.template_id.value()},
                 {"audience", std::move(audience)}};
  o["send_at"] = OptTime(c.scheduled_at);
  o["time_zone"] = c.time_zone;
  o["contact_time_zone"] = c.local_send_at.has_value();
  o["local_send_at"] = c.local_send_at ? json::value(*c.local_send_at) : json::value(nullptr);
  o["cap_policy"] = c.cap_policy == CapPolicy::kFail ? "fail" : "wait";
  o["missed_after_seconds"] = c.missed_after_seconds ? json::value(*c.missed_after_seconds) : json::value(nullptr);
  o["max_attempts"] = c.max_attempts;
  o["error"] = OptText(c.error);
  o["counts"] = json::object{{"total", c.counts.total},
                             {"pending", c.counts.pending},
                             {"sent", c.counts.sent},
                             {"failed", c.counts.failed},
                             {"skipped", c.counts.skipped},
                             {"cancelled", c.counts.cancelled},
                             {"delivered", c.counts.engagement.delivered},
                             {"opened", c.counts.engagement.opened},
                             {"clicked", c.counts.engagement.clicked},
                             {"bounced", c.counts.engagement.bounced},
                             {"complained", c.counts.engagement.complained},
                             {"unsubscribed", c.counts.engagement.unsubscribed}};
  o["created_at"] = FormatRfc3339(c.created_at);
  o["updated_at"] = FormatRfc3339(c.updated_at);
  o["scheduled_at"] = OptTime(c.scheduled_state_at);
  o["started_at"] = OptTime(c.started_at);
  o["paused_at"] = OptTime(c.paused_at);
  o["completed_at"] = OptTime(c.completed_at);
  o["failed_at"] = OptTime(c.failed_at);
  o["cancelled_at"] = OptTime(c.cancelled_at);
  return o;
}

Result<Audience> AudienceFromJson(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr) return Status::InvalidArgument("audience: must be {\"segments\": [ids], \"exclude_segment\"?: id}");
  Audience a;
  for (const auto& [k, val] : *o) {
    if (k == "segments") {
      if (!val.is_array()) return Status::InvalidArgument("audience.segments: must be an array of segment ids");
      for (size_t i = 0; i < val.as_array().size(); ++i) {
        OUTFLOW_ASSIGN_OR_RETURN(int64_t id,
                                 Id(val.as_array()[i], "audience.segments[" + std::to_string(i) + "]", "a segment"));
        a.segments.push_back(id);
      }
    } else if (k == "exclude_segment") {
      if (!val.is_null()) {
        OUTFLOW_ASSIGN_OR_RETURN(a.exclude_segment, Id(val, "audience.exclude_segment", "a segment"));
      }
    } else {
      return Status::InvalidArgument("audience." + std::string(k) +
                                     ": unknown field (known: segments, exclude_segment)");
    }
  }
  return a;
}

// A campaign body; `draft` is set from its "draft" member.
Result<Campaign> CampaignFromJson(const json::object& o, bool& draft) {
  Campaign c;
  std::optional<std::string> send_at;
  bool contact_time_zone = false;
  for (const auto& [k, v] : o) {
    const std::string key(k);
    if (key == "name" || key == "time_zone") {
      OUTFLOW_ASSIGN_OR_RETURN((key == "name" ? c.name : c.time_zone), String(v, key));
    } else if (key == "account_id") {
      OUTFLOW_ASSIGN_OR_RETURN(int64_t id, Id(v, key, "an account"));
      c.account = AccountId(id);
    } else if (key == "template_id") {
      OUTFLOW_ASSIGN_OR_RETURN(int64_t id, Id(v, key, "a template"));
      c.template_id = TemplateId(id);
    } else if (key == "audience") {
      OUTFLOW_ASSIGN_OR_RETURN(c.audience, AudienceFromJson(v));
    } else if (key == "send_at") {
      if (!v.is_null() && !v.is_string()) {
        return Status::InvalidArgument(
            "send_at: must be \"now\", a local date-time such as 2026-11-25T09:00, or an RFC 3339 time");
      }
      if (v.is_string()) send_at = std::string(v.as_string());
    } else if (key == "cap_policy") {
      if (v != "wait" && v != "fail") return Status::InvalidArgument("cap_policy: must be wait or fail");
      c.cap_policy = v == "fail" ? CapPolicy::kFail : CapPolicy::kWait;
    } else if (key == "missed_after_seconds") {
      if (v.is_null()) {
        c.missed_after_seconds.reset();
      } else {
        OUTFLOW_ASSIGN_OR_RETURN(c.missed_after_seconds, Integer(v, key));
      }
    } else if (key == "max_attempts") {
      OUTFLOW_ASSIGN_OR_RETURN(c.max_attempts, SmallInteger(v, key));
    } else if (key == "draft") {
      if (!v.is_bool()) return Status::InvalidArgument("draft: must be true or false");
      draft = v.as_bool();
    } else if (key == "contact_time_zone") {
      if (!v.is_bool()) return Status::InvalidArgument("contact_time_zone: must be true or false");
      contact_time_zone = v.as_bool();
    } else {
      return Status::InvalidArgument(
          key +
          ": unknown field (known: name, account_id, template_id, audience, send_at, "
          "time_zone, contact_time_zone, cap_policy, missed_after_seconds, max_attempts, draft)");
    }
  }
  for (const char* required : {"name", "account_id", "template_id", "audience"}) {
    if (!o.contains(required)) return Status::InvalidArgument(std::string(required) + ": is required");
  }
  if (contact_time_zone) {
    // send_at is a wall time read in each contact's zone: the start job runs when the
    // first zone reaches it.
    if (!send_at || *send_at == "now") {
      return Status::InvalidArgument("send_at: contact_time_zone needs a local date-time such as 2026-11-25T10:00");
    }
    OUTFLOW_RETURN_IF_ERROR(ValidateTimeZone(c.time_zone, "time_zone"));
    OUTFLOW_ASSIGN_OR_RETURN(LocalSendRange range, LocalSendRangeOf(*send_at, "send_at"));
    c.local_send_at = *send_at;
    c.scheduled_at = range.earliest;
  } else if (send_at && *send_at != "now") {
    OUTFLOW_RETURN_IF_ERROR(ValidateTimeZone(c.time_zone, "time_zone"));
    OUTFLOW_ASSIGN_OR_RETURN(c.scheduled_at, ParseLocalDateTime(c.time_zone, *send_at, "send_at"));
  }
  return c;
}

json::value RecipientToJson(const Recipient& r) {
  return json::object{{"contact_id", r.contact_id},
                      {"state", RecipientStateName(r.state)},
                      {"address", r.address},
                      {"attempts", r.attempts},
                      {"next_attempt_at", OptTime(r.next_attempt_at)},
                      {"last_attempt_at", OptTime(r.last_attempt_at)},
                      {"provider_id", OptText(r.provider_id)},
                      {"error", OptText(r.error)},
                      {"updated_at", FormatRfc3339(r.updated_at)}};
}

}  // namespace

std::optional<HttpResponse> CampaignsApi::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  if (Under(path, kAccounts)) return Accounts(req, path);
  if (Under(path, kTemplates)) return Templates(req, path);
  if (Under(path, kCampaigns)) return Campaigns(req, path, query);
  if (path.starts_with("/u/")) return UnsubscribeLink(req, path.substr(3));
  if (path.starts_with("/v1/contacts/")) return Subscription(req, path);
  return std::nullopt;
}

namespace {

json::value SubscriptionJson(int64_t contact, const std::optional<Timestamp>& at) {
  return json::object{{"contact_id", contact},
                      {"unsubscribed", at.has_value()},
                      {"unsubscribed_at", at ? json::value(FormatRfc3339(*at)) : json::value(nullptr)}};
}

}  // namespace

// GET shows a confirmation page whose button POSTs back; POST unsubscribes (a mail
// client's RFC 8058 one-click POST, body "List-Unsubscribe=One-Click", lands here too).
std::optional<HttpResponse> CampaignsApi::UnsubscribeLink(const HttpRequest& req, std::string_view token) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (token.empty() || token.find('/') != std::string_view::npos) return std::nullopt;
  if (get) {
    // The token is digits, dashes and hex only when valid; anything else is refused before it reaches the page.
    if (token.find_first_not_of("0123456789abcdef-") != std::string_view::npos) {
      return HttpResponse{
          400, "text/html; charset=utf-8", HtmlPage("Invalid link", "<p>This unsubscribe link is not valid.</p>"), {}};
    }
    return HttpResponse{200,
                        "text/html; charset=utf-8",
                        HtmlPage("Unsubscribe",
                                 "<p>Stop receiving these messages?</p><form method=\"post\"><button "
                                 "type=\"submit\">Unsubscribe</button></form>"),
                        {}};
  }
  if (req.method != "POST") return MethodNotAllowed("GET, POST");
  Result<int64_t> contact = campaigns_.UnsubscribeByToken(token);
  auto page = [](int status, std::string_view title, std::string_view text) {
    return HttpResponse{status, "text/html; charset=utf-8", HtmlPage(title, "<p>" + std::string(text) + "</p>"), {}};
  };
  if (contact.ok()) {
    return page(200, "Unsubscribed", "You are unsubscribed. You will not receive these messages any more.");
  }
  switch (contact.status().code()) {
    case Code::kInvalidArgument: return page(400, "Unsubscribe", "This unsubscribe link is not valid.");
    case Code::kNotFound:  // a genuine link whose contact was deleted since
      return page(200, "Unsubscribed", "You are not on this list any more.");
    default: return page(503, "Unsubscribe", "Please try again in a minute.");
  }
}

// POST /v1/contacts/{id}/unsubscribe | resubscribe, GET /v1/contacts/{id}/subscription.
std::optional<HttpResponse> CampaignsApi::Subscription(const HttpRequest& req, std::string_view path) {
  Result<IdPath> p = SplitIdPath(path, "/v1/contacts", "contact id");
  if (!p.ok()) return std::nullopt;
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  Result<std::optional<Timestamp>> at = Status::Internal("unreachable");
  if (p->action == "unsubscribe") {
    if (!post) return MethodNotAllowed("POST");
    at = campaigns_.Unsubscribe(p->id, "api");
  } else if (p->action == "resubscribe") {
    if (!post) return MethodNotAllowed("POST");
    at = campaigns_.Resubscribe(p->id);
  } else if (p->action == "subscription") {
    if (!get) return MethodNotAllowed("GET");
    at = campaigns_.UnsubscribedAt(p->id);
  } else {
    return std::nullopt;
  }
  return at.ok() ? JsonResponse(200, SubscriptionJson(p->id, *at)) : ErrorResponse(at.status());
}

std::optional<HttpResponse> CampaignsApi::Accounts(const HttpRequest& req, std::string_view path) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == kAccounts) {
    if (post) return CreateAccount(req);
    if (!get) return MethodNotAllowed("GET, POST");
    Result<std::vector<SendingAccount>> all = campaigns_.ListAccounts();
    if (!all.ok()) return ErrorResponse(all.status());
    json::array arr;
    for (const SendingAccount& a : *all) arr.push_back(AccountToJson(a));
    return JsonResponse(200, json::object{{"accounts", std::move(arr)}});
  }
  Result<IdPath> p = SplitIdPath(path, kAccounts, "account id");
  if (!p.ok()) return ErrorResponse(p.status());
  const AccountId id(p->id);
  if (p->action.empty()) {
    if (req.method == "PATCH") return UpdateAccount(id, req);
    if (!get) return MethodNotAllowed("GET, PATCH");
    Result<SendingAccount> a = campaigns_.GetAccount(id);
    return a.ok() ? JsonResponse(200, AccountToJson(*a)) : ErrorResponse(a.status());
  }
  if (p->action == "verify") {
    if (!post) return MethodNotAllowed("POST");
    // The provider is called by the engine (an account.verify job), never on this
    // thread: a slow provider cannot hold the API.
    Result<JobId> job = campaigns_.StartVerify(id);
    if (!job.ok()) return ErrorResponse(job.status());
    const std::string where = "/v1/jobs/" + std::to_string(job->value());
    HttpResponse r = JsonResponse(202, json::object{{"job_id", job->value()}, {"job", where}});
    r.headers.emplace_back("Location", where);
    return r;
  }
  return std::nullopt;
}

HttpResponse CampaignsApi::CreateAccount(const HttpRequest& req) {
  Result<json::object> o = ObjectBody(req);
  if (!o.ok()) return ErrorResponse(o.status());
  Result<std::optional<std::string>> credentials = CredentialsOf(*o);
  if (!credentials.ok()) return ErrorResponse(credentials.status());
  SendingAccount a;
  if (Status st = ApplyAccountJson(*o, a, true); !st.ok()) return ErrorResponse(st);
  for (const char* required : {"name", "channel", "provider"}) {
    if (!o->contains(required)) return ErrorResponse(Status::InvalidArgument(std::string(required) + ": is required"));
  }
  if (!o->contains("burst")) a.burst = a.rate_per_second;
  Result<SendingAccount> created = campaigns_.CreateAccount(std::move(a), *credentials);
  return created.ok() ? JsonResponse(201, AccountToJson(*created)) : ErrorResponse(created.status());
}

HttpResponse CampaignsApi::UpdateAccount(AccountId id, const HttpRequest& req) {
  Result<json::object> o = ObjectBody(req);
  if (!o.ok()) return ErrorResponse(o.status());
  Result<std::optional<std::string>> credentials = CredentialsOf(*o);
  if (!credentials.ok()) return ErrorResponse(credentials.status());
  Result<SendingAccount> updated = campaigns_.UpdateAccount(
      id,
      [&](SendingAccount& a) {
        const int old_rate = a.rate_per_second;
        const int old_burst = a.burst;
        OUTFLOW_RETURN_IF_ERROR(ApplyAccountJson(*o, a, false));
        // A new rate without a burst: a burst that was the rate follows it; another
        // is kept, lowered to the rate if above it.
        if (o->contains("rate_per_second") && !o->contains("burst")) {
          a.burst = old_burst == old_rate ? a.rate_per_second : std::min(old_burst, a.rate_per_second);
        }
        return Status::Ok();
      },
      *credentials);
  return updated.ok() ? JsonResponse(200, AccountToJson(*updated)) : ErrorResponse(updated.status());
}

std::optional<HttpResponse> CampaignsApi::Templates(const HttpRequest& req, std::string_view path) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == kTemplates) {
    if (post) return CreateTemplate(req);
    if (!get) return MethodNotAllowed("GET, POST");
    Result<std::vector<MessageTemplateRecord>> all = campaigns_.ListTemplates();
    if (!all.ok()) return ErrorResponse(all.status());
    json::array arr;
    for (const MessageTemplateRecord& t : *all) arr.push_back(TemplateToJson(t));
    return JsonResponse(200, json::object{{"templates", std::move(arr)}});
  }
  Result<IdPath> p = SplitIdPath(path, kTemplates, "template id");
  if (!p.ok()) return ErrorResponse(p.status());
  const TemplateId id(p->id);
  if (p->action.empty()) {
    if (req.method == "PATCH") return UpdateTemplate(id, req);
    if (!get) return MethodNotAllowed("GET, PATCH");
    Result<MessageTemplateRecord> t = campaigns_.GetTemplate(id);
    return t.ok() ? JsonResponse(200, TemplateToJson(*t)) : ErrorResponse(t.status());
  }
  if (p->action == "preview") return post ? Preview(id, req) : MethodNotAllowed("POST");
  return std::nullopt;
}

HttpResponse CampaignsApi::CreateTemplate(const HttpRequest& req) {
  Result<json::object> o = ObjectBody(req);
  if (!o.ok()) return ErrorResponse(o.status());
  MessageTemplateRecord t;
  if (Status st = ApplyTemplateJson(*o, t); !st.ok()) return ErrorResponse(st);
  if (!o->contains("name")) return ErrorResponse(Status::InvalidArgument("name: is required"));
  Result<MessageTemplateRecord> created = campaigns_.CreateTemplate(std::move(t));
  return created.ok() ? JsonResponse(201, TemplateToJson(*created)) : ErrorResponse(created.status());
}

HttpResponse CampaignsApi::UpdateTemplate(TemplateId id, const HttpRequest& req) {
  Result<json::object> o = ObjectBody(req);
  if (!o.ok()) return ErrorResponse(o.status());
  Result<MessageTemplateRecord> updated =
      campaigns_.UpdateTemplate(id, [&](MessageTemplateRecord& t) { return ApplyTemplateJson(*o, t); });
  return updated.ok() ? JsonResponse(200, TemplateToJson(*updated)) : ErrorResponse(updated.status());
}

HttpResponse CampaignsApi::Preview(TemplateId id, const HttpRequest& req) {
  Result<json::object> o = ObjectBody(req);
  if (!o.ok()) return ErrorResponse(o.status());
  for (const auto& [k, v] : *o) {
    if (k != "contact_id") {
      return ErrorResponse(Status::InvalidArgument(std::string(k) + ": unknown field (known: contact_id)"));
    }
  }
  const json::value* contact = o->if_contains("contact_id");
  if (contact == nullptr) return ErrorResponse(Status::InvalidArgument("contact_id: is required"));
  Result<int64_t> cid = Id(*contact, "contact_id", "a contact");
  if (!cid.ok()) return ErrorResponse(cid.status());
  Result<RenderedMessage> m = campaigns_.Preview(id, ContactId(*cid));
  if (!m.ok()) return ErrorResponse(m.status());
  return JsonResponse(200, json::object{{"subject", m->subject}, {"text", m->text}, {"html", m->html}});
}

std::optional<HttpResponse> CampaignsApi::Campaigns(const HttpRequest& req, std::string_view path,
                                                    std::string_view query) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == kCampaigns) {
    if (post) return CreateCampaign(req);
    if (!get) return MethodNotAllowed("GET, POST");
    return ListCampaigns(query);
  }
  Result<IdPath> p = SplitIdPath(path, kCampaigns, "campaign id");
  if (!p.ok()) return ErrorResponse(p.status());
  const CampaignId id(p->id);
  const std::string_view action = p->action;
  if (action.empty()) {
    if (!get) return MethodNotAllowed("GET");
    Result<Campaign> c = campaigns_.GetCampaign(id);
    return c.ok() ? JsonResponse(200, CampaignToJson(*c)) : ErrorResponse(c.status());
  }
  if (action == "schedule" || action == "pause" || action == "resume" || action == "cancel") {
    if (!post) return MethodNotAllowed("POST");
    Result<Campaign> c = action == "schedule" ? campaigns_.Schedule(id)
                         : action == "pause"  ? campaigns_.Pause(id)
                         : action == "resume" ? campaigns_.Resume(id)
                                              : campaigns_.Cancel(id);
    return c.ok() ? JsonResponse(200, CampaignToJson(*c)) : ErrorResponse(c.status());
  }
  if (action == "retry-failed") {
    if (!post) return MethodNotAllowed("POST");
    Result<int64_t> n = campaigns_.RetryFailed(id);
    if (!n.ok()) return ErrorResponse(n.status());
    Result<Campaign> c = campaigns_.GetCampaign(id);
    if (!c.ok()) return ErrorResponse(c.status());
    return JsonResponse(200, json::object{{"retried", *n}, {"campaign", CampaignToJson(*c)}});
  }
  if (action == "recipients") return get ? Recipients(id, query) : MethodNotAllowed("GET");
  return std::nullopt;
}

HttpResponse CampaignsApi::CreateCampaign(const HttpRequest& req) {
  Result<json::object> o = ObjectBody(req);
  if (!o.ok()) return ErrorResponse(o.status());
  bool draft = false;
  Result<Campaign> c = CampaignFromJson(*o, draft);
  if (!c.ok()) return ErrorResponse(c.status());
  Result<Campaign> created = campaigns_.CreateCampaign(std::move(c).value(), !draft);
  return created.ok() ? JsonResponse(201, CampaignToJson(*created)) : ErrorResponse(created.status());
}

HttpResponse CampaignsApi::ListCampaigns(std::string_view query) {
  if (Status st = CheckQuery(query); !st.ok()) return ErrorResponse(st);
  int64_t before = 0;
  int limit = 100;
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    if (p.key == "before") {
      Result<int64_t> n = QueryInteger(p.key, p.value);
      if (!n.ok()) return ErrorResponse(n.status());
      before = *n;
    } else if (p.key == "limit") {
      Result<int> n = PageLimit(p.value);
      if (!n.ok()) return ErrorResponse(n.status());
      limit = *n;
    } else {
      return ErrorResponse(Status::InvalidArgument(p.key + ": unknown query parameter (known: before, limit)"));
    }
  }
  Result<std::vector<Campaign>> page = campaigns_.ListCampaigns(before, limit + 1);  // one more: is there a next page?
  if (!page.ok()) return ErrorResponse(page.status());
  const bool more = static_cast<int>(page->size()) > limit;
  if (more) page->pop_back();
  json::array arr;
  for (const Campaign& c : *page) arr.push_back(CampaignToJson(c));
  json::object out{{"campaigns", std::move(arr)}};
  out["next_before"] = more ? json::value(page->back().id.value()) : json::value(nullptr);
  return JsonResponse(200, out);
}

HttpResponse CampaignsApi::Recipients(CampaignId id, std::string_view query) {
  if (Status st = CheckQuery(query); !st.ok()) return ErrorResponse(st);
  RecipientFilter f;
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    if (p.key == "state") {
      f.state = ParseRecipientState(p.value);
      if (!f.state) {
        return ErrorResponse(Status::InvalidArgument("state: unknown state '" + p.value +
                                                     "' (pending, sending, sent, failed, skipped)"));
      }
    } else if (p.key == "after") {
      Result<int64_t> n = QueryInteger(p.key, p.value);
      if (!n.ok()) return ErrorResponse(n.status());
      f.after_contact = *n;
    } else if (p.key == "limit") {
      Result<int> n = PageLimit(p.value);
      if (!n.ok()) return ErrorResponse(n.status());
      f.limit = *n;
    } else {
      return ErrorResponse(Status::InvalidArgument(p.key + ": unknown query parameter (known: state, after, limit)"));
    }
  }
  if (Result<Campaign> c = campaigns_.GetCampaign(id); !c.ok()) return ErrorResponse(c.status());
  const int limit = f.limit;
  f.limit = limit + 1;  // one more: is there a next page?
  Result<std::vector<Recipient>> page = campaigns_.Recipients(id, f);
  if (!page.ok()) return ErrorResponse(page.status());
  const bool more = static_cast<int>(page->size()) > limit;
  if (more) page->pop_back();
  json::array arr;
  for (const Recipient& r : *page) arr.push_back(RecipientToJson(r));
  json::object out{{"recipients", std::move(arr)}};
  out["next_after"] = more ? json::value(page->back().contact_id) : json::value(nullptr);
  return JsonResponse(200, out);
}

}  // namespace outflow::api
