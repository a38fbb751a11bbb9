#include "api/segments_api.h"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>

#include "api/http_util.h"
#include "api/job_json.h"
#include "codec/filter_json.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

json::value SegmentToJson(const Segment& s) {
  json::object o{{"id", s.id.value()},
                 {"name", s.name},
                 {"kind", SegmentKindName(s.kind)},
                 {"member_count", s.member_count},
                 {"state", s.filling      ? "filling"
                           : s.refreshing ? "refreshing"
                                          : "ready"}};
  o["filter"] = s.filter ? FilterToJson(*s.filter) : json::value(nullptr);
  o["created_at"] = FormatRfc3339(s.created_at);
  o["updated_at"] = FormatRfc3339(s.updated_at);
  return o;
}

// ?after=N&limit=M with defaults; errors name the parameter.
Status PageParams(std::string_view query, int64_t& after, int& limit) {
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    if (p.key != "after" && p.key != "limit") {
      return Status::InvalidArgument(p.key + ": unknown query parameter (known: after, limit)");
    }
    Result<int64_t> n = ParsePositiveId(p.value, "number");
    if (!n.ok()) return Status::InvalidArgument(p.key + ": '" + p.value + "' is not a positive integer");
    if (p.key == "after") after = *n;
    else limit = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
  }
  return Status::Ok();
}

}  // namespace

std::optional<HttpResponse> SegmentsApi::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == "/v1/segments") {
    if (post) return Create(req);
    if (!get) return MethodNotAllowed("GET, POST");
    Result<std::vector<Segment>> all = segments_.List();
    if (!all.ok()) return ErrorResponse(all.status());
    json::array arr;
    for (const Segment& s : *all) arr.push_back(SegmentToJson(s));
    return JsonResponse(200, json::object{{"segments", std::move(arr)}});
  }
  if (path == "/v1/segments/events") {
    if (!get) return MethodNotAllowed("GET");
    int64_t after = 0;
    int limit = 1000;
    if (Status st = PageParams(query, after, limit); !st.ok()) return ErrorResponse(st);
    Result<std::vector<MembershipEvent>> ev = segments_.Events(after, limit);
    if (!ev.ok()) return ErrorResponse(ev.status());
    json::array arr;
    for (const MembershipEvent& e : *ev) {
      arr.push_back(json::object{{"id", e.id}, {"segment_id", e.segment.value()}, {"contact_id", e.contact.value()},
                                 {"change", e.joined ? "joined" : "left"}, {"at", FormatRfc3339(e.at)}});
    }
    return JsonResponse(200, json::object{{"events", std::move(arr)}});
  }
  constexpr std::string_view kPrefix = "/v1/segments/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());
  auto slash = rest.find('/');
  Result<int64_t> id = ParsePositiveId(rest.substr(0, slash), "segment id");
  if (!id.ok()) return ErrorResponse(id.status());
  SegmentId sid(*id);
  std::string_view action = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (action.empty()) {
    if (get) {
      Result<Segment> s = segments_.Get(sid);
      return s.ok() ? JsonResponse(200, SegmentToJson(*s)) : ErrorResponse(s.status());
    }
    if (req.method == "DELETE") {
      Status st = segments_.Delete(sid);
      return st.ok() ? HttpResponse{204, "application/json", "", {}} : ErrorResponse(st);
    }
    return MethodNotAllowed("GET, DELETE");
  }
  if (action == "members") {
    if (post) return ChangeMembers(sid, req, true);
    if (!get) return MethodNotAllowed("GET, POST");
    int64_t after = 0;
    int limit = 100;
    if (Status st = PageParams(query, after, limit); !st.ok()) return ErrorResponse(st);
    Result<MemberPage> page = segments_.Members(sid, ContactId(after), limit);
    if (!page.ok()) return ErrorResponse(page.status());
    json::array ids;
    for (ContactId c : page->contacts) ids.push_back(c.value());
    json::object out{{"contact_ids", std::move(ids)}};
    out["next_after"] = page->next_after ? json::value(page->next_after->value()) : json::value(nullptr);
    return JsonResponse(200, out);
  }
  if (action == "members/remove") return post ? ChangeMembers(sid, req, false) : MethodNotAllowed("POST");
  return std::nullopt;
}

HttpResponse SegmentsApi::Create(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  if (o == nullptr) return ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
  Segment seg;
  std::optional<SegmentKind> kind;
  for (const auto& [k, v] : *o) {
    if (k == "name") {
      if (!v.is_string()) return ErrorResponse(Status::InvalidArgument("name: must be a string"));
      seg.name = std::string(v.as_string());
    } else if (k == "kind") {
      if (v == "static") kind = SegmentKind::kStatic;
      else if (v == "dynamic") kind = SegmentKind::kDynamic;
      else return ErrorResponse(Status::InvalidArgument("kind: must be static or dynamic"));
    } else if (k == "filter") {
      Result<Filter> f = FilterFromJson(v);
      if (!f.ok()) return ErrorResponse(f.status());
      seg.filter = std::move(f).value();
    } else {
      return ErrorResponse(Status::InvalidArgument(std::string(k) + ": unknown field (known: name, kind, filter)"));
    }
  }
  seg.kind = kind.value_or(seg.filter ? SegmentKind::kDynamic : SegmentKind::kStatic);
  Result<Segment> created = segments_.Create(std::move(seg));
  return created.ok() ? JsonResponse(201, SegmentToJson(*created)) : ErrorResponse(created.status());
}

HttpResponse SegmentsApi::ChangeMembers(SegmentId id, const HttpRequest& req, bool add) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  const json::value* ids = o ? o->if_contains("contact_ids") : nullptr;
  if (ids == nullptr || !ids->is_array() || o->size() != 1) {
    return ErrorResponse(Status::InvalidArgument("body: must be {\"contact_ids\": [...]}"));
  }
  std::vector<ContactId> contacts;
  for (size_t i = 0; i < ids->as_array().size(); ++i) {
    const json::value& v = ids->as_array()[i];
    if (!v.is_int64() || v.as_int64() <= 0) {
      return ErrorResponse(Status::InvalidArgument("contact_ids[" + std::to_string(i) + "]: must be a contact id"));
    }
    contacts.push_back(ContactId(v.as_int64()));
  }
  Result<int64_t> n = add ? segments_.AddMembers(id, contacts) : segments_.RemoveMembers(id, contacts);
  if (!n.ok()) return ErrorResponse(n.status());
  return JsonResponse(200, json::object{{add ? "added" : "removed", *n}});
}

}  // namespace outflow::api
