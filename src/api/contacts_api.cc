#include "api/contacts_api.h"

#include <boost/url/params_view.hpp>

#include "api/contact_json.h"
#include "api/http_util.h"
#include "api/job_json.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

std::optional<ExistingPolicy> ParsePolicy(std::string_view s) {
  if (s == "update") return ExistingPolicy::kUpdate;
  if (s == "skip") return ExistingPolicy::kSkip;
  if (s == "fail") return ExistingPolicy::kFail;
  return std::nullopt;
}

std::string_view OutcomeName(UpsertOutcome::Kind k) {
  switch (k) {
    case UpsertOutcome::Kind::kCreated: return "created";
    case UpsertOutcome::Kind::kUpdated: return "updated";
    case UpsertOutcome::Kind::kSkipped: return "skipped";
    case UpsertOutcome::Kind::kFailed: return "failed";
  }
  return "failed";
}

Result<Contact> ContactFromBody(const json::value& v, std::string_view prefix) {
  const json::object* o = v.if_object();
  if (o == nullptr) return Status::InvalidArgument((prefix.empty() ? "body" : std::string(prefix)) + ": must be a JSON object");
  Contact c;
  OUTFLOW_RETURN_IF_ERROR(ApplyContactJson(*o, c, prefix));
  return c;
}

}  // namespace

std::optional<HttpResponse> ContactsApi::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == "/v1/fields") {
    if (post) return DefineField(req);
    if (get) return ListFields();
    return MethodNotAllowed("GET, POST");
  }
  if (path == "/v1/contacts") {
    if (post) return Create(req);
    if (get) return List(query, false);
    return MethodNotAllowed("GET, POST");
  }
  if (path == "/v1/contacts/upsert") return post ? Upsert(req, query) : MethodNotAllowed("POST");
  if (path == "/v1/contacts/count") return get ? List(query, true) : MethodNotAllowed("GET");
  constexpr std::string_view kPrefix = "/v1/contacts/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());
  if (rest.find('/') != std::string_view::npos) return std::nullopt;
  Result<int64_t> id = ParsePositiveId(rest, "contact id");
  if (!id.ok()) return ErrorResponse(id.status());
  ContactId cid(*id);
  if (get) {
    Result<Contact> c = contacts_.Get(cid);
    return c.ok() ? JsonResponse(200, ContactToJson(*c)) : ErrorResponse(c.status());
  }
  if (req.method == "PATCH") return Patch(cid, req);
  if (req.method == "DELETE") {
    Status st = contacts_.Delete(cid);
    return st.ok() ? HttpResponse{204, "application/json", "", {}} : ErrorResponse(st);
  }
  return MethodNotAllowed("GET, PATCH, DELETE");
}

HttpResponse ContactsApi::Create(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<Contact> c = ContactFromBody(*body, "");
  if (!c.ok()) return ErrorResponse(c.status());
  Result<Contact> created = contacts_.Create(std::move(c).value());
  return created.ok() ? JsonResponse(201, ContactToJson(*created)) : ErrorResponse(created.status());
}

HttpResponse ContactsApi::Upsert(const HttpRequest& req, std::string_view query) {
  ExistingPolicy policy = ExistingPolicy::kUpdate;
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    if (p.key != "on_existing") {
      return ErrorResponse(Status::InvalidArgument(p.key + ": unknown query parameter (known: on_existing)"));
    }
    auto pol = ParsePolicy(p.value);
    if (!pol) return ErrorResponse(Status::InvalidArgument("on_existing: must be update, skip or fail"));
    policy = *pol;
  }
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  if (o == nullptr) return ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
  const bool batch = o->contains("contacts");
  std::vector<Contact> rows;
  if (batch) {
    if (o->size() != 1) return ErrorResponse(Status::InvalidArgument("body: a batch holds only \"contacts\""));
    const json::value& arr = o->at("contacts");
    if (!arr.is_array()) return ErrorResponse(Status::InvalidArgument("contacts: must be an array"));
    for (size_t i = 0; i < arr.as_array().size(); ++i) {
      Result<Contact> c = ContactFromBody(arr.as_array()[i], "contacts[" + std::to_string(i) + "]");
      if (!c.ok()) return ErrorResponse(c.status());  // a malformed request applies nothing
      rows.push_back(std::move(c).value());
    }
  } else {
    Result<Contact> c = ContactFromBody(*body, "");
    if (!c.ok()) return ErrorResponse(c.status());
    rows.push_back(std::move(c).value());
  }
  Result<std::vector<UpsertOutcome>> r = contacts_.Upsert(std::move(rows), policy, batch ? "contacts" : "");
  if (!r.ok()) return ErrorResponse(r.status());
  if (!batch) {
    const UpsertOutcome& u = (*r)[0];
    if (u.kind == UpsertOutcome::Kind::kFailed) {
      Code code = u.id.valid() ? Code::kConflict : Code::kInvalidArgument;
      return ErrorResponse(Status(code, u.error));
    }
    Result<Contact> c = contacts_.Get(u.id);
    if (!c.ok()) return ErrorResponse(c.status());
    return JsonResponse(u.kind == UpsertOutcome::Kind::kCreated ? 201 : 200,
                        json::object{{"outcome", OutcomeName(u.kind)}, {"contact", ContactToJson(*c)}});
  }
  json::array results;
  json::object counts{{"created", 0}, {"updated", 0}, {"skipped", 0}, {"failed", 0}};
  for (const UpsertOutcome& u : *r) {
    json::object row{{"outcome", OutcomeName(u.kind)}};
    row["id"] = u.id.valid() ? json::value(u.id.value()) : json::value(nullptr);
    if (!u.error.empty()) row["error"] = u.error;
    counts[OutcomeName(u.kind)] = counts[OutcomeName(u.kind)].as_int64() + 1;
    results.push_back(std::move(row));
  }
  return JsonResponse(200, json::object{{"results", std::move(results)}, {"counts", std::move(counts)}});
}

HttpResponse ContactsApi::List(std::string_view query, bool count_only) {
  ContactFilter f;
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    const std::string& k = p.key;
    const std::string& v = p.value;
    if (k == "email") f.email = v;
    else if (k == "external_id") f.external_id = v;
    else if (k == "owner") f.owner = v;
    else if (k == "pipeline_stage") f.pipeline_stage = v;
    else if (k == "tier") f.tier = v;
    else if (k == "status") {
      if (v != "live" && v != "staged") return ErrorResponse(Status::InvalidArgument("status: must be live or staged"));
      f.status = v == "live" ? ContactStatus::kLive : ContactStatus::kStaged;
    } else if ((k == "limit" || k == "after") && !count_only) {
      Result<int64_t> n = ParsePositiveId(v, "number");
      if (!n.ok()) return ErrorResponse(Status::InvalidArgument(k + ": '" + v + "' is not a positive integer"));
      if (k == "limit") {
        if (*n > kMaxContactListLimit) {
          return ErrorResponse(Status::InvalidArgument("limit: must be between 1 and " + std::to_string(kMaxContactListLimit)));
        }
        f.limit = static_cast<int>(*n);
      } else {
        f.after = ContactId(*n);
      }
    } else {
      return ErrorResponse(Status::InvalidArgument(
          k + ": unknown query parameter (known: email, external_id, owner, pipeline_stage, tier, status" +
          (count_only ? ")" : ", limit, after)")));
    }
  }
  if (count_only) {
    Result<int64_t> n = contacts_.Count(f);
    return n.ok() ? JsonResponse(200, json::object{{"count", *n}}) : ErrorResponse(n.status());
  }
  Result<ContactPage> page = contacts_.List(f);
  if (!page.ok()) return ErrorResponse(page.status());
  json::array arr;
  for (const Contact& c : page->contacts) arr.push_back(ContactToJson(c));
  json::object out{{"contacts", std::move(arr)}};
  out["next_after"] = page->next_after ? json::value(page->next_after->value()) : json::value(nullptr);
  return JsonResponse(200, out);
}

HttpResponse ContactsApi::Patch(ContactId id, const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  if (o == nullptr) return ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
  Result<Contact> c = contacts_.Update(id, [&](Contact& existing) { return ApplyContactJson(*o, existing, ""); });
  return c.ok() ? JsonResponse(200, ContactToJson(*c)) : ErrorResponse(c.status());
}

HttpResponse ContactsApi::DefineField(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  if (o == nullptr) return ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
  FieldDefinition def;
  bool has_type = false;
  for (const auto& [k, v] : *o) {
    if (k == "name" && v.is_string()) {
      def.name = std::string(v.as_string());
    } else if (k == "label" && v.is_string()) {
      def.label = std::string(v.as_string());
    } else if (k == "type" && v.is_string()) {
      auto t = ParseFieldType(v.as_string());
      if (!t) return ErrorResponse(Status::InvalidArgument("type: must be text, number, boolean, date or datetime"));
      def.type = *t;
      has_type = true;
    } else if (k == "name" || k == "label" || k == "type") {
      return ErrorResponse(Status::InvalidArgument(std::string(k) + ": must be a string"));
    } else {
      return ErrorResponse(Status::InvalidArgument(std::string(k) + ": unknown field (known: name, type, label)"));
    }
  }
  if (!has_type) return ErrorResponse(Status::InvalidArgument("type: is required"));
  Result<FieldDefinition> r = contacts_.DefineField(def);
  return r.ok() ? JsonResponse(201, FieldToJson(*r)) : ErrorResponse(r.status());
}

HttpResponse ContactsApi::ListFields() {
  Result<std::vector<FieldDefinition>> r = contacts_.ListFields();
  if (!r.ok()) return ErrorResponse(r.status());
  json::array arr;
  for (const auto& f : *r) arr.push_back(FieldToJson(f));
  return JsonResponse(200, json::object{{"fields", std::move(arr)}});
}

}  // namespace outflow::api
