// ApiHandler: Outflow's REST API, as one function from HttpRequest to
// HttpResponse. Routes (docs/api.md, and /openapi.json):
//
//   GET  /, /healthz, /readyz, /metrics, /openapi.json, /v1/kinds
//   POST /v1/jobs              enqueue one job        201 (200 on an idempotent replay)
//   POST /v1/jobs/batch        enqueue up to 10,000   200, all or nothing
//   GET  /v1/jobs              list: state, kind, due_from, due_until, limit, after
//   GET  /v1/jobs/{id}
//   POST /v1/jobs/{id}/cancel
//   and the routes of contacts_api.h, imports_api.h, segments_api.h, releases_api.h,
//   campaigns_api.h, messages_api.h, keys_api.h, users_api.h and audit_api.h
//
// Every response carries X-Request-Id (the client's, when usable, else a new
// one), and every change is written to the audit log (api/audit_trail.h).
//
// Every request passes the auth gate first (auth_gate.h, auth/route_table.h): 401
// without a valid API key or session (except the public routes), 403 below the
// route's role or for a cookie-authenticated change without its CSRF token, 429
// over the principal's rate.
//
// Errors are {"error": {"code", "message", "field"?}} with a stable code:
// invalid_argument 400 (405 for a wrong method), not_found 404, conflict and
// failed_precondition 409, unavailable 503 (with Retry-After), corruption and
// internal 500; the HTTP server adds bad_request 400, payload_too_large 413 and
// headers_too_large 431. Thread-safe.
#pragma once

#include <atomic>
#include <functional>

#include "api/audit_api.h"
#include "api/audit_trail.h"
#include "api/campaigns_api.h"
#include "api/contacts_api.h"
#include "api/http_server.h"
#include "api/imports_api.h"
#include "api/keys_api.h"
#include "api/messages_api.h"
#include "api/releases_api.h"
#include "api/segments_api.h"
#include "api/tracking_api.h"
#include "api/users_api.h"
#include "audit/audit_log.h"
#include "auth/authenticator.h"
#include "engine/job_service.h"
#include "engine/metrics.h"

namespace outflow::api {

class ApiHandler {
 public:
  // `ready` tells /readyz whether the daemon accepts work (false while starting or draining).
  // Each service may be null: its routes then answer 404 (`campaigns`: the
  // account, template and campaign routes).
  ApiHandler(JobService& jobs, EngineMetrics& metrics, std::function<bool()> ready, ContactService* contacts = nullptr,
             ImportService* imports = nullptr, SegmentService* segments = nullptr, ReleaseService* releases = nullptr,
             CampaignService* campaigns = nullptr);
  HttpResponse Handle(const HttpRequest& req);
  // The auth gate alone, for the HTTP server's upload_gate: nullopt when the
  // request may go on. Handle() checks again (a request is admitted once per call).
  std::optional<HttpResponse> Admit(const HttpRequest& req) const;
  // Checks every request's key and serves /v1/keys. Until it is set, every route
  // that is not public answers 401. `metrics_public`: /metrics needs no key
  // (`serve --metrics-public`). REQUIRES: set before serving.
  void SetAuth(auth::Authenticator* auth, bool metrics_public = false) {
    auth_ = auth;
    metrics_public_ = metrics_public;
    if (auth != nullptr) keys_.emplace(*auth);
  }
  // Serves the user, session and setup routes (users_api.h); the authenticator
  // given to SetAuth then also admits session cookies. REQUIRES: set before
  // serving, after SetAuth.
  void SetUsers(auth::UserAuth* users) {
    if (users == nullptr) return;
    users_.emplace(*users);
    if (auth_ != nullptr) auth_->SetUsers(users);
  }
  // Where setup links point. May be called while serving.
  void SetPublicUrl(std::string url) {
    if (users_) users_->SetPublicUrl(std::move(url));
  }
  // Serves the message routes (messages_api.h). REQUIRES: set before serving.
  void SetMessages(MessageService* messages) {
    if (messages != nullptr) messages_.emplace(*messages);
  }
  // Serves tracking links, provider callbacks and suppressions (tracking_api.h).
  // REQUIRES: set before serving.
  void SetTracking(TrackingService* tracking) {
    if (tracking != nullptr) tracking_.emplace(*tracking);
  }
  // Records every change made through the API (api/audit_trail.h) and serves
  // GET /v1/audit. Needs SetAuth (changes are made by a principal).
  // REQUIRES: set before serving.
  void SetAudit(AuditLog* audit) {
    audit_ = audit;
    if (audit != nullptr) audit_api_.emplace(*audit);
  }
  // More Prometheus text appended to /metrics (e.g. the sender's).
  // REQUIRES: set before serving.
  void SetExtraMetrics(std::function<std::string()> render) { extra_metrics_ = std::move(render); }

 private:
  HttpResponse Route(const HttpRequest& req, std::string_view path, std::string_view query);
  // The user and session routes (users_api.h), then Route.
  HttpResponse Dispatch(const HttpRequest& req, std::string_view path, std::string_view query,
                        const Admission& admission);
  // Writes the audit entry of `change` when it is one (api/audit_trail.h).
  void RecordChange(const ChangeContext& change, const HttpResponse& resp);
  HttpResponse EnqueueOne(const HttpRequest& req);
  HttpResponse EnqueueBatch(const HttpRequest& req);
  HttpResponse ListJobs(std::string_view query);
  HttpResponse Metrics();
  HttpResponse Ready();
  HttpResponse Index();

  JobService& jobs_;
  EngineMetrics& metrics_;
  std::function<bool()> ready_;
  std::function<std::string()> extra_metrics_;
  std::optional<ContactsApi> contacts_;
  std::optional<ImportsApi> imports_;
  std::optional<SegmentsApi> segments_;
  std::optional<ReleasesApi> releases_;
  std::optional<CampaignsApi> campaigns_;
  std::optional<MessagesApi> messages_;
  std::optional<TrackingApi> tracking_;
  std::optional<KeysApi> keys_;
  std::optional<AuditApi> audit_api_;
  AuditLog* audit_ = nullptr;
  std::optional<UsersApi> users_;
  auth::Authenticator* auth_ = nullptr;
  bool metrics_public_ = false;
};

// The HTTP response for a failed Status.
HttpResponse ErrorResponse(const Status& st);
// Prometheus text exposition of the engine metrics and job counts.
std::string RenderPrometheus(const EngineMetrics& m, const StateCounts* counts);
// The OpenAPI 3 document of this API.
std::string_view OpenApiJson();

}  // namespace outflow::api
