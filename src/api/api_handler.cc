#include "api/api_handler.h"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <charconv>

#include "api/audit_trail.h"
#include "api/auth_gate.h"
#include "api/http_util.h"
#include "api/job_json.h"
#include "base/log.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

HttpResponse Json(int status, const json::value& v) {
  return JsonResponse(status, v);
}

int HttpStatus(Code c) {
  switch (c) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kFailedPrecondition: return 409;
    case Code::kUnauthenticated: return 401;
    case Code::kUnavailable: return 503;
    case Code::kCorruption:
    case Code::kInternal: return 500;
  }
  return 500;
}

// The field a message names, when it starts with a field path ("jobs[3].due_at: ...").
std::optional<std::string> FieldOf(const std::string& message) {
  auto colon = message.find(": ");
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  for (size_t i = 0; i < colon; ++i) {
    char c = message[i];
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' || c == ']';
    if (!ok) return std::nullopt;
  }
  return message.substr(0, colon);
}

Result<JobId> ParseId(std::string_view s) {
  OUTFLOW_ASSIGN_OR_RETURN(int64_t v, ParsePositiveId(s, "job id"));
  return JobId(v);
}

}  // namespace

HttpResponse ErrorResponse(const Status& st) {
  json::object err;
  err["code"] = std::string(CodeName(st.code()));
  err["message"] = st.message();
  if (auto f = FieldOf(st.message()); f && st.code() == Code::kInvalidArgument) err["field"] = *f;
  json::object body;
  body["error"] = std::move(err);
  HttpResponse r = Json(HttpStatus(st.code()), body);
  if (st.code() == Code::kUnavailable) r.headers.emplace_back("Retry-After", "1");
  return r;
}

ApiHandler::ApiHandler(JobService& jobs, EngineMetrics& metrics, std::function<bool()> ready, ContactService* contacts,
                       ImportService* imports, SegmentService* segments, ReleaseService* releases,
                       CampaignService* campaigns)
    : jobs_(jobs), metrics_(metrics), ready_(std::move(ready)) {
  if (contacts != nullptr) contacts_.emplace(*contacts);
  if (imports != nullptr) imports_.emplace(*imports);
  if (segments != nullptr) segments_.emplace(*segments);
  if (releases != nullptr) releases_.emplace(*releases);
  if (campaigns != nullptr) campaigns_.emplace(*campaigns);
}

HttpResponse ApiHandler::Handle(const HttpRequest& req) {
  std::string_view target = req.target;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view("") : target.substr(q + 1);
  const std::string request_id = RequestIdOf(req);
  Admission admission = api::Admit(auth_, metrics_public_, req, path);
  HttpResponse resp = admission.refusal ? std::move(*admission.refusal) : Dispatch(req, path, query, admission);
  if (audit_ != nullptr && admission.principal && admission.rule != nullptr) {
    RecordChange(ChangeContext{req, path, *admission.rule, *admission.principal, request_id, auth_->clock().Now()},
                 resp);
  }
  resp.headers.emplace_back("X-Request-Id", request_id);
  return resp;
}

HttpResponse ApiHandler::Dispatch(const HttpRequest& req, std::string_view path, std::string_view query,
                                  const Admission& admission) {
  if (users_ &&
      (path.starts_with("/v1/session") || path.starts_with("/v1/users") || path == "/setup" || path == "/v1/setup")) {
    if (auto r = users_->Route(req, path, query, admission)) return *r;
  }
  return Route(req, path, query);
}

void ApiHandler::RecordChange(const ChangeContext& change, const HttpResponse& resp) {
  std::optional<AuditEntry> entry = DescribeChange(change, resp);
  if (!entry) return;
  audit_->Record(std::move(*entry));  // queued: written within AuditLogOptions::flush_every
}

std::optional<HttpResponse> ApiHandler::Admit(const HttpRequest& req) const {
  std::string_view target = req.target;
  return api::Admit(auth_, metrics_public_, req, target.substr(0, target.find('?'))).refusal;
}

HttpResponse ApiHandler::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == "/") return get ? Index() : MethodNotAllowed("GET");
  if (path == "/healthz") return get ? Json(200, {{"status", "ok"}}) : MethodNotAllowed("GET");
  if (path == "/readyz") return get ? Ready() : MethodNotAllowed("GET");
  if (path == "/metrics") return get ? Metrics() : MethodNotAllowed("GET");
  if (path == "/openapi.json") {
    return get ? HttpResponse{200, "application/json", std::string(OpenApiJson()), {}} : MethodNotAllowed("GET");
  }
  if (path == "/v1/kinds") {
    if (!get) return MethodNotAllowed("GET");
    json::array kinds;
    for (const auto& k : jobs_.handlers().Kinds()) {
      kinds.push_back(json::object{{"kind", k}, {"description", jobs_.handlers().Find(k)->Description()}});
    }
    return Json(200, json::object{{"kinds", std::move(kinds)}});
  }
  if (path == "/v1/jobs") {
    if (post) return EnqueueOne(req);
    if (get) return ListJobs(query);
    return MethodNotAllowed("GET, POST");
  }
  if (audit_api_ && path == "/v1/audit") {
    if (auto r = audit_api_->Route(req, path, query)) return *r;
  }
  if (keys_ && path.starts_with("/v1/keys")) {
    if (auto r = keys_->Route(req, path)) return *r;
  }
  if (tracking_ &&
      (path.starts_with("/t/") || path.starts_with("/v1/callbacks/") || path.starts_with("/v1/suppressions"))) {
    if (auto r = tracking_->Route(req, path, query)) return *r;
  }
  if (messages_ && (path.starts_with("/v1/messages") || path.starts_with("/v1/contacts/"))) {
    if (auto r = messages_->Route(req, path, query)) return *r;
  }
  if (contacts_ && (path.starts_with("/v1/contacts") || path == "/v1/fields")) {
    if (auto r = contacts_->Route(req, path, query)) return *r;
  }
  if (releases_ && path.starts_with("/v1/releases")) {
    if (auto r = releases_->Route(req, path, query)) return *r;
  }
  if (segments_ && path.starts_with("/v1/segments")) {
    if (auto r = segments_->Route(req, path, query)) return *r;
  }
  if (imports_ && path.starts_with("/v1/imports")) {
    if (auto r = imports_->Route(req, path, query)) return *r;
  }
  if (campaigns_ &&
      (path.starts_with("/v1/accounts") || path.starts_with("/v1/templates") || path.starts_with("/v1/campaigns") ||
       path.starts_with("/v1/contacts/") || path.starts_with("/u/"))) {
    if (auto r = campaigns_->Route(req, path, query)) return *r;
  }
  if (path == "/v1/jobs/batch") return post ? EnqueueBatch(req) : MethodNotAllowed("POST");
  constexpr std::string_view kJobs = "/v1/jobs/";
  if (path.starts_with(kJobs)) {
    std::string_view rest = path.substr(kJobs.size());
    auto slash = rest.find('/');
    std::string_view id_text = rest.substr(0, slash);
    std::string_view action = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    Result<JobId> id = ParseId(id_text);
    if (!id.ok()) return ErrorResponse(id.status());
    if (action.empty()) {
      if (!get) return MethodNotAllowed("GET");
      Result<Job> job = jobs_.Get(*id);
      return job.ok() ? Json(200, JobToJson(*job)) : ErrorResponse(job.status());
    }
    if (action == "cancel") {
      if (!post) return MethodNotAllowed("POST");
      Result<Job> job = jobs_.Cancel(*id);
      return job.ok() ? Json(200, JobToJson(*job)) : ErrorResponse(job.status());
    }
  }
  return ErrorResponse(Status::NotFound("no route for " + req.method + " " + std::string(path)));
}

HttpResponse ApiHandler::EnqueueOne(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<JobSpec> spec = ParseJobSpec(*body, "", jobs_.clock().Now());
  if (!spec.ok()) return ErrorResponse(spec.status());
  Result<std::vector<EnqueueResult>> r = jobs_.Enqueue(std::span(&*spec, 1), "");
  if (!r.ok()) return ErrorResponse(r.status());
  Result<Job> job = jobs_.Get((*r)[0].id);
  if (!job.ok()) return ErrorResponse(job.status());
  return Json((*r)[0].created ? 201 : 200, JobToJson(*job));
}

HttpResponse ApiHandler::EnqueueBatch(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  if (o == nullptr) return ErrorResponse(Status::InvalidArgument("body: must be a JSON object {\"jobs\": [...]}"));
  for (const auto& [k, v] : *o) {
    if (k != "jobs") return ErrorResponse(Status::InvalidArgument(std::string(k) + ": unknown field (known: jobs)"));
  }
  const json::value* jobs = o->if_contains("jobs");
  if (jobs == nullptr || !jobs->is_array()) {
    return ErrorResponse(Status::InvalidArgument("jobs: is required and must be an array"));
  }
  const json::array& arr = jobs->as_array();
  if (arr.size() > kMaxBatchSize) {
    return ErrorResponse(Status::InvalidArgument("jobs: " + std::to_string(arr.size()) + " jobs, over the limit of " +
                                                 std::to_string(kMaxBatchSize) + " per batch"));
  }
  std::vector<JobSpec> specs;
  specs.reserve(arr.size());
  Timestamp now = jobs_.clock().Now();
  for (size_t i = 0; i < arr.size(); ++i) {
    Result<JobSpec> s = ParseJobSpec(arr[i], "jobs[" + std::to_string(i) + "]", now);
    if (!s.ok()) return ErrorResponse(s.status());
    specs.push_back(std::move(s).value());
  }
  Result<std::vector<EnqueueResult>> r = jobs_.Enqueue(specs, "jobs");
  if (!r.ok()) return ErrorResponse(r.status());
  json::array out;
  out.reserve(r->size());
  int64_t created = 0;
  for (const EnqueueResult& e : *r) {
    out.push_back(json::object{{"id", e.id.value()}, {"created", e.created}});
    created += e.created;
  }
  return Json(200, json::object{{"jobs", std::move(out)}, {"created", created}});
}

HttpResponse ApiHandler::ListJobs(std::string_view query) {
  auto parsed = boost::urls::parse_query(query);
  if (!parsed) return ErrorResponse(Status::InvalidArgument("query string is malformed: " + parsed.error().message()));
  JobFilter f;
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    const std::string& k = p.key;
    const std::string& v = p.value;
    if (k == "state") {
      std::string_view rest = v;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view name = rest.substr(0, comma);
        auto st = ParseJobState(name);
        if (!st) {
          return ErrorResponse(Status::InvalidArgument("state: unknown state '" + std::string(name) +
                                                       "' (ready, leased, done, retrying, dead, cancelled)"));
        }
        f.states.push_back(*st);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    } else if (k == "kind") {
      f.kind = v;
    } else if (k == "due_from" || k == "due_until") {
      Result<Timestamp> t = ParseRfc3339(v);
      if (!t.ok()) return ErrorResponse(t.status().WithContext(k));
      (k == "due_from" ? f.due_from : f.due_until) = *t;
    } else if (k == "limit" || k == "after") {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || ptr != v.data() + v.size() || n < 0) {
        return ErrorResponse(Status::InvalidArgument(k + ": '" + v + "' is not a non-negative integer"));
      }
      if (k == "limit") {
        if (n < 1 || n > kMaxListLimit) {
          return ErrorResponse(
              Status::InvalidArgument("limit: must be between 1 and " + std::to_string(kMaxListLimit)));
        }
        f.limit = static_cast<int>(n);
      } else {
        f.after = JobId(n);
      }
    } else {
      return ErrorResponse(Status::InvalidArgument(
          k + ": unknown query parameter (known: state, kind, due_from, due_until, limit, after)"));
    }
  }
  Result<JobPage> page = jobs_.List(f);
  if (!page.ok()) return ErrorResponse(page.status());
  json::array arr;
  for (const Job& j : page->jobs) arr.push_back(JobToJson(j));
  json::object out{{"jobs", std::move(arr)}};
  out["next_after"] = page->next_after ? json::value(page->next_after->value()) : json::value(nullptr);
  return Json(200, out);
}

HttpResponse ApiHandler::Metrics() {
  Result<StateCounts> counts = jobs_.CountByState();
  HttpResponse r{200,
                 "text/plain; version=0.0.4; charset=utf-8",
                 RenderPrometheus(metrics_, counts.ok() ? &*counts : nullptr),
                 {}};
  if (extra_metrics_) r.body += extra_metrics_();
  return r;
}

HttpResponse ApiHandler::Index() {
  std::string html =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>Outflow</title></head><body>"
      "<h1>Outflow</h1><p>The engine is running. The API:</p><ul>"
      "<li><a href=\"/v1/jobs\">/v1/jobs</a>: jobs (POST to enqueue, GET to list)</li>"
      "<li><a href=\"/v1/kinds\">/v1/kinds</a>: the job kinds this daemon runs</li>"
      "<li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>"
      "<li><a href=\"/openapi.json\">/openapi.json</a>: the OpenAPI 3 description</li>"
      "<li><a href=\"/healthz\">/healthz</a> and <a href=\"/readyz\">/readyz</a></li></ul>"
      "<p>The API needs an API key (all but this page, health, /openapi.json, signed links and callbacks): "
      "<code>Authorization: Bearer &lt;key&gt;</code>. The <code>outflow</code> CLI of the user who runs "
      "the daemon uses <code>&lt;data-dir&gt;/cli.key</code>; make others with "
      "<code>outflow key create</code>. People log in with <code>POST /v1/session</code> (the web UI's "
      "login); the first start prints a one-time link to make the first admin.</p>"
      "<p>Try: <code>outflow job enqueue --kind noop --due +10s</code> then "
      "<code>outflow job list</code>.</p></body></html>";
  return HttpResponse{200, "text/html; charset=utf-8", std::move(html), {}};
}

HttpResponse ApiHandler::Ready() {
  if (!ready_()) return Json(503, {{"status", "not ready"}, {"reason", "starting or draining"}});
  // A cheap read proves the database answers.
  Result<Job> probe = jobs_.Get(JobId(0));
  if (!probe.ok() && probe.status().code() != Code::kNotFound) {
    return Json(503, {{"status", "not ready"}, {"reason", probe.status().ToString()}});
  }
  return Json(200, {{"status", "ready"}});
}

}  // namespace outflow::api
