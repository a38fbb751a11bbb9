#include "api/messages_api.h"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include "api/http_util.h"
#include "api/job_json.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kMessages = "/v1/messages";
constexpr std::string_view kContacts = "/v1/contacts/";
constexpr int kMaxPage = 1000;

json::object MessageToJson(const Message& m) {
  return json::object{
      {"id", m.id.value()},
      {"account_id", m.account.value()},
      {"contact_id", m.contact.value()},
      {"template_id", m.template_id.value()},
      {"source", json::object{{"kind", SourceKindName(m.source.kind)}, {"id", m.source.id}, {"step", m.step}}},
      {"priority", m.priority},
      {"address", m.address},
      {"state", MessageStateName(m.state)},
      {"send_at", FormatRfc3339(m.send_at)},
      {"attempts", m.attempts},
      {"max_attempts", m.max_attempts},
      {"provider_message_id", OptText(m.provider_id)},
      {"reason", OptText(m.reason)},
      {"idempotency_key", OptText(m.client_key)},
      {"key", MessageKey(m)},
      {"created_at", FormatRfc3339(m.created_at)},
      {"updated_at", FormatRfc3339(m.updated_at)},
      {"last_attempt_at", OptTime(m.last_attempt_at)},
      {"sent_at", OptTime(m.sent_at)},
  };
}

json::array EventsToJson(const std::vector<MessageEvent>& events) {
  json::array out;
  for (const MessageEvent& e : events) {
    json::object o{{"type", MessageEventName(e.kind)}, {"at", FormatRfc3339(e.at)}};
    if (!e.detail.empty()) o["detail"] = e.detail;
    out.push_back(std::move(o));
  }
  return out;
}

// A positive integer member; absent -> nullopt.
Result<std::optional<int64_t>> OptId(const json::object& o, std::string_view key, const std::string& prefix) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (!v->is_int64() || v->as_int64() <= 0) {
    return Status::InvalidArgument(prefix + std::string(key) + ": must be a positive integer");
  }
  return std::optional<int64_t>(v->as_int64());
}

Result<std::optional<std::string>> OptString(const json::object& o, std::string_view key, const std::string& prefix) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return Status::InvalidArgument(prefix + std::string(key) + ": must be a string");
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<SendRequest> ParseSend(const json::value& body, const std::string& prefix) {
  if (!body.is_object())
    return Status::InvalidArgument(prefix.empty() ? "body: must be a JSON object" : prefix + ": must be an object");
  const json::object& o = body.as_object();
  const std::string p = prefix.empty() ? "" : prefix + ".";
  static const std::set<std::string_view> kKnown{"account_id", "contact_id",      "email",
                                                 "phone",      "template_id",     "variables",
                                                 "send_at",    "idempotency_key", "max_attempts"};
  for (const auto& [k, v] : o) {
    if (!kKnown.contains(k)) {
      return Status::InvalidArgument(p + std::string(k.substr(0, 64)) + ": unknown field");
    }
  }
  SendRequest r;
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<int64_t> account, OptId(o, "account_id", p));
  if (!account) return Status::InvalidArgument(p + "account_id: required");
  r.account = AccountId(*account);
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<int64_t> tpl, OptId(o, "template_id", p));
  if (!tpl) return Status::InvalidArgument(p + "template_id: required");
  r.template_id = TemplateId(*tpl);
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<int64_t> contact, OptId(o, "contact_id", p));
  if (contact) r.contact_id = ContactId(*contact);
  OUTFLOW_ASSIGN_OR_RETURN(r.email, OptString(o, "email", p));
  OUTFLOW_ASSIGN_OR_RETURN(r.phone, OptString(o, "phone", p));
  if (const json::value* v = o.if_contains("variables"); v && !v->is_null()) {
    if (!v->is_object()) return Status::InvalidArgument(p + "variables: must be a JSON object");
    r.variables_json = json::serialize(*v);
  }
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<std::string> send_at, OptString(o, "send_at", p));
  if (send_at) {
    Result<Timestamp> t = ParseRfc3339(*send_at);
    if (!t.ok()) return Status::InvalidArgument(p + "send_at: not an RFC 3339 time with a zone offset");
    r.send_at = *t;
  }
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<std::string> key, OptString(o, "idempotency_key", p));
  r.idempotency_key = key.value_or("");
  if (const json::value* v = o.if_contains("max_attempts"); v && !v->is_null()) {
    if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > kMaxMessageAttempts) {
      return Status::InvalidArgument(p + "max_attempts: must be an integer from 1 to " +
                                     std::to_string(kMaxMessageAttempts));
    }
    r.max_attempts = static_cast<int>(v->as_int64());
  }
  return r;
}

// Applies one query parameter of GET /v1/messages to `f`.
Status ApplyParam(MessageFilter& f, const std::string& key, const std::string& value, bool contact_route) {
  if (key == "after" || key == "limit" ||
      (!contact_route && (key == "account_id" || key == "contact_id" || key == "source_id"))) {
    OUTFLOW_ASSIGN_OR_RETURN(int64_t n, QueryInteger(key, value));
    if (key == "after")
      f.after_id = n;
    else if (key == "limit") {
      if (n < 1 || n > kMaxPage)
        return Status::InvalidArgument("limit: must be between 1 and " + std::to_string(kMaxPage));
      f.limit = static_cast<int>(n);
    } else if (key == "account_id")
      f.account = AccountId(n);
    else if (key == "contact_id")
      f.contact = ContactId(n);
    else
      f.source = SourceRef{f.source ? f.source->kind : SourceKind::kCampaign, n};
    return Status::Ok();
  }
  if (key == "state" && !contact_route) {
    f.state = ParseMessageState(value);
    if (!f.state) return Status::InvalidArgument("state: '" + value.substr(0, 40) + "' is not a message state");
    return Status::Ok();
  }
  if (key == "source_kind" && !contact_route) {
    std::optional<SourceKind> k = ParseSourceKind(value);
    if (!k) return Status::InvalidArgument("source_kind: '" + value.substr(0, 40) + "' is not a source kind");
    f.source = SourceRef{*k, f.source ? f.source->id : 0};
    return Status::Ok();
  }
  return Status::InvalidArgument(key.substr(0, 40) + ": unknown query parameter");
}

}  // namespace

std::optional<HttpResponse> MessagesApi::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == kMessages) {
    if (post) return SendOne(req);
    if (get) return List(query, std::nullopt);
    return MethodNotAllowed("GET, POST");
  }
  if (path == "/v1/messages/batch") return post ? SendBatch(req) : MethodNotAllowed("POST");
  if (path.starts_with("/v1/messages/")) {
    Result<int64_t> id = ParsePositiveId(path.substr(kMessages.size() + 1), "message id");
    if (!id.ok()) return ErrorResponse(id.status());
    if (!get) return MethodNotAllowed("GET");
    Result<Message> m = messages_.Get(MessageId(*id));
    if (!m.ok()) return ErrorResponse(m.status());
    Result<std::vector<MessageEvent>> events = messages_.TimelineOf(*m);
    if (!events.ok()) return ErrorResponse(events.status());
    json::object o = MessageToJson(*m);
    o["events"] = EventsToJson(*events);
    return JsonResponse(200, o);
  }
  if (path.starts_with(kContacts) && path.ends_with("/messages")) {
    std::string_view id_text = path.substr(kContacts.size(), path.size() - kContacts.size() - 9);
    Result<int64_t> id = ParsePositiveId(id_text, "contact id");
    if (!id.ok()) return ErrorResponse(id.status());
    if (!get) return MethodNotAllowed("GET");
    return List(query, ContactId(*id));
  }
  return std::nullopt;
}

HttpResponse MessagesApi::SendOne(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<SendRequest> r = ParseSend(*body, "");
  if (!r.ok()) return ErrorResponse(r.status());
  Result<EnqueuedMessage> m = messages_.Send(*r);
  if (!m.ok()) return ErrorResponse(m.status());
  return JsonResponse(m->existing ? 200 : 202,
                      json::object{{"message", MessageToJson(m->message)}, {"duplicate", m->existing}});
}

HttpResponse MessagesApi::SendBatch(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::value* items = body->is_object() ? body->as_object().if_contains("messages") : nullptr;
  if (items == nullptr || !items->is_array()) {
    return ErrorResponse(Status::InvalidArgument("messages: required, an array of messages"));
  }
  const json::array& arr = items->as_array();
  if (arr.empty() || arr.size() > kMaxSendBatch) {
    return ErrorResponse(
        Status::InvalidArgument("messages: must hold 1 to " + std::to_string(kMaxSendBatch) + " items"));
  }
  std::vector<SendRequest> requests(arr.size());
  std::vector<Status> parse_errors(arr.size());
  std::vector<size_t> parsed;
  for (size_t i = 0; i < arr.size(); ++i) {
    Result<SendRequest> r = ParseSend(arr[i], "messages[" + std::to_string(i) + "]");
    if (!r.ok()) {
      parse_errors[i] = r.status();
      continue;
    }
    requests[parsed.size()] = std::move(r).value();
    parsed.push_back(i);
  }
  json::array results(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    if (parse_errors[i].ok()) continue;
    results[i] = json::object{{"status", 400}, {"error", json::parse(ErrorResponse(parse_errors[i]).body).at("error")}};
  }
  if (!parsed.empty()) {
    Result<std::vector<Result<EnqueuedMessage>>> out = messages_.SendBatch(std::span(requests.data(), parsed.size()));
    if (!out.ok()) return ErrorResponse(out.status());
    for (size_t k = 0; k < parsed.size(); ++k) {
      const Result<EnqueuedMessage>& m = (*out)[k];
      if (m.ok()) {
        results[parsed[k]] = json::object{
            {"status", m->existing ? 200 : 202}, {"message", MessageToJson(m->message)}, {"duplicate", m->existing}};
      } else {
        // The service named the item by its place among the parsed ones; give its place in the request.
        Status st = m.status();
        const std::string from = "messages[" + std::to_string(k) + "]";
        std::string msg = st.message();
        if (msg.starts_with(from)) msg = "messages[" + std::to_string(parsed[k]) + "]" + msg.substr(from.size());
        HttpResponse err = ErrorResponse(Status(st.code(), msg));
        results[parsed[k]] = json::object{{"status", err.status}, {"error", json::parse(err.body).at("error")}};
      }
    }
  }
  return JsonResponse(200, json::object{{"results", std::move(results)}});
}

HttpResponse MessagesApi::List(std::string_view query, std::optional<ContactId> contact) {
  if (auto parsed = boost::urls::parse_query(query); !parsed) {
    return ErrorResponse(Status::InvalidArgument("query string is malformed"));
  }
  MessageFilter f;
  f.contact = contact;
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    if (Status st = ApplyParam(f, p.key, p.value, contact.has_value()); !st.ok()) return ErrorResponse(st);
  }
  if (f.source && f.source->id == 0)
    return ErrorResponse(Status::InvalidArgument("source_id: required with source_kind"));
  Result<std::vector<Message>> list = messages_.List(f);
  if (!list.ok()) return ErrorResponse(list.status());
  json::array out;
  for (const Message& m : *list) {
    json::object o = MessageToJson(m);
    if (contact) {  // a contact's messages come with their timelines
      Result<std::vector<MessageEvent>> events = messages_.TimelineOf(m);
      if (!events.ok()) return ErrorResponse(events.status());
      o["events"] = EventsToJson(*events);
    }
    out.push_back(std::move(o));
  }
  json::object body{{"messages", std::move(out)}};
  if (static_cast<int>(list->size()) == f.limit) body["next_after"] = list->back().id.value();
  return JsonResponse(200, body);
}

}  // namespace outflow::api
